import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { printable, TerminalSink } from '../../../src/cli/run/terminal.js';
import type { Verdict } from '../../../src/contracts/verdict.js';

const verdict: Verdict = {
  policy: 'p',
  rule: 'r',
  mode: 'Enforce',
  resource: { apiVersion: 'v1', kind: 'Pod', namespace: 'shop', name: 'web-1' },
  container: 'web',
  behavior: 'process-exec',
  message: 'shell \u001b[2J/bin/sh\nspawned',
  eventId: 'e',
  time: '2026-11-26T12:34:56.789123456Z',
  actions: [],
  event: {
    id: 'e',
    time: '2026-11-26T12:34:56.789123456Z',
    source: 'bpftrace',
    behavior: 'process-exec',
    process: { pid: 7 },
  },
};

test('one line per verdict, without colors off a TTY, control characters escaped', () => {
  const out = new PassThrough();
  let text = '';
  out.on('data', (d: Buffer) => (text += d.toString()));
  const sink = new TerminalSink({ out });
  sink.write([verdict], verdict.event);
  sink.outcome(verdict, { action: 'kill', outcome: 'succeeded', detail: 'sent SIGKILL to pid 7', time: '' });
  assert.equal(
    text,
    '12:34:56.789 ENFORCE p/r Pod/shop/web-1[web] process-exec pid=7: shell \\u001b[2J/bin/sh\\u000aspawned\n' +
      '    ↳ kill succeeded: sent SIGKILL to pid 7 (p/r)\n',
  );
});

test('colors only when asked (TTY)', () => {
  const sink = new TerminalSink({ out: new PassThrough(), color: true });
  assert.ok(sink.format(verdict).includes('\u001b['), 'no ANSI escape');
  assert.equal(printable('a\u0007b\u009bc'), 'a\\u0007b\\u009bc');
});
