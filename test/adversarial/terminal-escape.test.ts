/**
 * Control characters in event fields and policy files never reach the terminal raw: run's verdict
 * lines, `apply` output and `validate` errors show a right-to-left override, ANSI escapes and C1
 * controls as visible \uXXXX escapes (real CLI processes, a real Tetragon event, a real file name).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { TerminalSink } from '../../src/cli/run/terminal.js';
import type { Verdict } from '../../src/contracts/verdict.js';
import { printable, printableText } from '../../src/util/terminal-text.js';

const repoRoot = resolve(import.meta.dirname, '../..');
const RLO = '\u202e';
const ANSI_CLEAR = '\u001b[2J\u001b[H';
/** Anything a terminal would act on rather than show. */
const RAW = new RegExp(
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  '[\\u0000-\\u0008\\u000b-\\u001f\\u007f-\\u009f\\u061c\\u200e\\u200f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069]',
);

/** A binary that reads as "/tmp/evil.jpg" on a terminal honouring the override, then clears it. */
const BINARY = `/tmp/${RLO}gpj.exe${ANSI_CLEAR}\u0085\u2066x\u2069`;

function tetragonEvent(binary: string): string {
  const line = readFileSync(
    fileURLToPath(new URL('../../../shared/samples/tetragon/testdata-events.jsonl', import.meta.url)),
    'utf8',
  ).split('\n')[0]!;
  const r = JSON.parse(line) as { process_exec: { process: { binary: string } } };
  r.process_exec.process.binary = binary;
  return JSON.stringify(r) + '\n';
}

const cli = (args: string[]): { status: number | null; stdout: string; stderr: string } =>
  spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    cwd: repoRoot,
    encoding: 'utf8',
    timeout: 120_000,
  });

describe('terminal output escapes control characters', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'kr-term-escape-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('one helper: bidi, C0, C1 and line separators become visible \\u escapes; JSON stays JSON', () => {
    assert.equal(
      printable(`a${RLO}b\u2067c\u001bd\u009be\nf\u2028`),
      'a\\u202eb\\u2067c\\u001bd\\u009be\\u000af\\u2028',
    );
    assert.equal(printableText('row 1\trow\n2\r'), 'row 1\trow\n2\\u000d');
    const json = JSON.stringify({ binary: BINARY });
    assert.deepEqual(JSON.parse(printableText(json)), { binary: BINARY }, 'same value after escaping');
    assert.doesNotMatch(printableText(json), RAW);
  });

  it("run's verdict line shows the override instead of obeying it", () => {
    const out = new PassThrough();
    let text = '';
    out.on('data', (d: Buffer) => (text += d.toString()));
    const event = {
      id: 'e',
      time: '2026-01-01T00:00:00Z',
      source: 'tetragon',
      behavior: 'process-exec',
    } as const;
    const v: Verdict = {
      policy: `p${RLO}`,
      rule: 'r',
      mode: 'Audit',
      resource: { apiVersion: 'v1', kind: 'Pod', namespace: 'ns', name: `web${ANSI_CLEAR}` },
      container: `c${RLO}`,
      behavior: 'process-exec',
      message: `exec of ${BINARY}`,
      eventId: 'e',
      time: event.time,
      actions: [],
      event: { ...event, process: { binary: BINARY } },
    };
    const sink = new TerminalSink({ out });
    sink.write([v], v.event);
    sink.outcome(v, { action: 'kill', outcome: 'failed', detail: `no such pid ${RLO}`, time: '' });
    assert.doesNotMatch(text.replace(/\n/g, ''), RAW);
    assert.ok(text.includes('exec of /tmp/\\u202egpj.exe\\u001b[2J\\u001b[H\\u0085\\u2066x\\u2069'), text);
    assert.ok(text.includes('Pod/ns/web\\u001b[2J'), text);
  });

  it('`apply -e` prints an event-derived message escaped, in table and JSON output', () => {
    const events = join(dir, 'events.jsonl');
    writeFileSync(events, tetragonEvent(BINARY));
    const policy = join(dir, 'policy.yaml');
    writeFileSync(
      policy,
      `apiVersion: runtime.kyverno.io/v1alpha1
kind: ClusterRuntimePolicy
metadata: {name: tmp-exec}
spec:
  rules:
    - name: no-tmp
      match: {any: [{resources: {kinds: [Pod]}}]}
      restrict:
        message: 'exec of {{ event.process.binary }}'
        behaviors: [process-exec]
        pattern: {event: {process: {binary: "/tmp/*"}}}
`,
    );
    const table = cli(['apply', '-p', policy, '-e', events]);
    assert.match(table.stdout, /exec of \/tmp\/\\u202egpj\.exe\\u001b\[2J/, table.stdout + table.stderr);
    assert.doesNotMatch(table.stdout.replace(/[\n\t]/g, ''), RAW);
    const json = cli(['apply', '-p', policy, '-e', events, '-o', 'json']);
    assert.doesNotMatch(json.stdout.replace(/[\n\t]/g, ''), RAW);
    const rows = JSON.parse(json.stdout) as { result: { message: string } }[];
    assert.equal(rows[0]!.result.message, `exec of ${BINARY}`, 'JSON consumers get the exact value');
  });

  it('`validate` escapes a hostile file name and field name in its errors', () => {
    const file = join(dir, `policy-${RLO}lmay.yaml`);
    writeFileSync(
      file,
      `apiVersion: runtime.kyverno.io/v1alpha1
kind: ClusterRuntimePolicy
metadata: {name: bad}
spec:
  "rules${ANSI_CLEAR}": []
`,
    );
    const r = cli(['validate', file]);
    assert.equal(r.status, 1);
    assert.ok(r.stdout.includes('policy-\\u202elmay.yaml:5:3:'), r.stdout);
    assert.ok(r.stdout.includes('\\u001b[2J'), r.stdout);
    assert.doesNotMatch(r.stdout.replace(/\n/g, ''), RAW);
  });
});
