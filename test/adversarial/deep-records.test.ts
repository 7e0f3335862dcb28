/**
 * The ingest guard: whatever the tool, a record nested 100 000 deep or carrying megabyte strings is
 * still evaluated, but what its event keeps is bounded, so nothing downstream that serialises it
 * (store, live stream, log) can throw or be flooded. Real tool samples with the attack spliced in.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { adaptLine, type AdaptOutcome } from '../../src/events/adapters/index.js';
import { boundRaw, guardEvent } from '../../src/events/adapters/guard.js';
import type { RuntimeEvent } from '../../src/events/types.js';
import { registry } from '../../src/observability/metrics.js';
import { decodeLine } from '../../src/sources/records.js';
import { sampleLines } from '../integration/sources/helpers.js';

const DEEP = '{"a":'.repeat(100_000) + '1' + '}'.repeat(100_000);
const DEEP_ARRAY = '['.repeat(100_000) + ']'.repeat(100_000);

/** The first sample line of a tool that adapts into an event. */
function firstEventLine(tool: string, file: string): string {
  const line = sampleLines(tool, file).find((l) => {
    const out = adaptLine(l, 'auto');
    return out.kind === 'events' && out.events.length > 0;
  });
  assert.ok(line, `${tool}/${file} has an event sample`);
  return line;
}

function events(out: AdaptOutcome): RuntimeEvent[] {
  assert.equal(out.kind, 'events', out.kind === 'skipped' ? `${out.reason}: ${out.detail}` : '');
  return out.kind === 'events' ? out.events : [];
}

const samples: [string, string][] = [
  ['falco', 'falco-alerts.jsonl'],
  ['tetragon', 'docs-current.jsonl'],
  ['kubearmor', 'docs-alerts-logs.jsonl'],
  ['tracee', 'v1beta1-and-detector-examples.jsonl'],
];

describe('a record nested 100 000 deep', () => {
  for (const [tool, file] of samples) {
    it(`${tool}: is evaluated, and once kept its raw is replaced by a marker and the event serialises`, () => {
      const line = firstEventLine(tool, file).replace(/\}$/, `,"attacker":${DEEP}}`);
      const out = adaptLine(line, 'auto');
      const [event] = events(out);
      assert.ok(event);
      // Evaluation never reads raw: it is bounded when the event is kept (the pipeline, before its sinks).
      assert.equal(boundRaw(event), 'raw-too-deep');
      assert.deepEqual(event.raw, { truncated: 'too-deep', limit: 64 });
      assert.doesNotThrow(() => JSON.stringify(event));
    });
  }

  it('runtime: a RuntimeEvent whose raw is 100 000 arrays deep is evaluated with a marker', () => {
    const line = `{"id":"x","time":"2026-01-01T00:00:00Z","source":"s","behavior":"process-exec","raw":${DEEP_ARRAY}}`;
    const [event] = events(adaptLine(line, 'auto'));
    assert.equal(boundRaw(event!), 'raw-too-deep');
    assert.deepEqual(event?.raw, { truncated: 'too-deep', limit: 64 });
  });

  it('cloudevents: Falco data with a 100 000-deep field is evaluated with a marker', () => {
    const falco = firstEventLine('falco', 'falco-alerts.jsonl').replace(/\}$/, `,"attacker":${DEEP}}`);
    const line = `{"specversion":"1.0","id":"1","source":"falco","type":"falco.rule.output.v1","time":"2026-01-01T00:00:00Z","data":${falco}}`;
    const [event] = events(adaptLine(line, 'auto'));
    assert.equal(boundRaw(event!), 'raw-too-deep');
    assert.deepEqual(event?.raw, { truncated: 'too-deep', limit: 64 });
  });

  it('a depth of exactly 64 is kept', () => {
    const raw = JSON.parse('['.repeat(64) + ']'.repeat(64)) as unknown;
    const event: RuntimeEvent = { id: 'x', time: 't', source: 's', behavior: 'alert', raw };
    assert.deepEqual(guardEvent(event), { ok: true, truncations: undefined });
    assert.equal(boundRaw(event), undefined);
    assert.equal(event.raw, raw);
    const deeper: RuntimeEvent = { ...event, raw: [raw] };
    assert.equal(boundRaw(deeper), 'raw-too-deep');
    assert.deepEqual(deeper.raw, { truncated: 'too-deep', limit: 64 });
  });
});

describe('oversized records', () => {
  it('a raw over 64 KiB is replaced; the event keeps its fields', () => {
    const line = firstEventLine('tetragon', 'docs-current.jsonl').replace(
      /\}$/,
      `,"padding":${JSON.stringify(Array.from({ length: 5000 }, (_, i) => `item-${i}-${'y'.repeat(10)}`))}}`,
    );
    const [event] = events(adaptLine(line, 'auto'));
    assert.equal(boundRaw(event!), 'raw-too-large');
    assert.deepEqual(event?.raw, { truncated: 'too-large', limit: 65536 });
    assert.ok(event?.process?.binary, 'the mapped fields are kept');
  });

  it('a 1 MiB command line is cut to 16 KiB with a visible marker, and counted', async () => {
    const metric = registry.getSingleMetric('kyverno_runtime_events_truncated_total')!;
    const count = async (): Promise<number> =>
      (await metric.get()).values
        .filter((v) => v.labels.reason === 'string-too-long')
        .reduce((s, v) => s + v.value, 0);
    const before = await count();
    const huge = 'A'.repeat(1024 * 1024);
    const line = JSON.stringify({
      id: 'big',
      time: '2026-01-01T00:00:00Z',
      source: 's',
      behavior: 'process-exec',
      process: { binary: '/bin/sh', args: ['-c', huge, 'tail'] },
    });
    const [event] = events(decodeLine(line, 'auto'));
    const arg = event?.process?.args?.[1] ?? '';
    assert.equal(arg.length < 16 * 1024 + 64, true, `cut (${arg.length})`);
    assert.ok(arg.startsWith('A'.repeat(16 * 1024)));
    assert.ok(arg.endsWith(`…[${1024 * 1024 - 16 * 1024} more characters]`));
    assert.deepEqual(event?.process?.args?.slice(-1), ['tail'], 'other arguments untouched');
    assert.equal((await count()) - before, 1);
  });

  it('never leaves half a surrogate pair at the cut', () => {
    const s = 'a'.repeat(16 * 1024 - 1) + '😀'.repeat(10);
    const event: RuntimeEvent = { id: 'x', time: 't', source: 's', behavior: 'alert', alert: { rule: s } };
    guardEvent(event);
    const rule = event.alert?.rule ?? '';
    assert.ok(rule.startsWith('a'.repeat(16 * 1024 - 1) + '…'), 'the pair is cut whole');
  });
});

describe('the guard on short lines', () => {
  it('a short RuntimeEvent line nested deeper than 64 levels is still refused, bare or in a CloudEvent', () => {
    const deepLabels = '{"a":'.repeat(70) + '1' + '}'.repeat(70);
    const line = `{"id":"x","time":"2026-01-01T00:00:00Z","source":"s","behavior":"alert","pod":{"labels":${deepLabels}}}`;
    assert.ok(line.length < 1024);
    const out = adaptLine(line, 'auto');
    // The schema (labels are strings) or the guard (depth) refuses it; either way it is never evaluated.
    assert.ok(
      out.kind === 'skipped' && ['invalid-event', 'too-deep'].includes(out.reason),
      JSON.stringify(out),
    );
    const ce = `{"specversion":"1.0","id":"1","source":"s","type":"io.kyverno.runtime.event.v1alpha1","data":${line}}`;
    const wrapped = adaptLine(ce, 'auto');
    assert.ok(
      wrapped.kind === 'skipped' && ['invalid-event', 'too-deep'].includes(wrapped.reason),
      JSON.stringify(wrapped).slice(0, 200),
    );
  });
});
