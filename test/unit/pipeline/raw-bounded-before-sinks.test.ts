/**
 * Evaluation never reads `raw`, so the ingest edge leaves it as parsed; the pipeline bounds it the
 * moment an event is kept (it has a verdict), before any sink can serialise it, and counts the cut.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RuntimeEvent } from '../../../src/events/types.js';
import type { Verdict } from '../../../src/contracts/verdict.js';
import { registry } from '../../../src/observability/metrics.js';
import { createPipeline, type VerdictSink } from '../../../src/pipeline/index.js';
import { event, flaggingEvaluator } from './helpers.js';

async function rawCuts(): Promise<number> {
  const metric = registry.getSingleMetric('kyverno_runtime_events_truncated_total')!;
  return (await metric.get()).values
    .filter((v) => v.labels.reason === 'raw-too-deep')
    .reduce((s, v) => s + v.value, 0);
}

test('a kept event reaches every sink with a bounded raw, and the cut is counted', async () => {
  const seen: { raw: unknown; serialised: string }[] = [];
  const sink: VerdictSink = {
    name: 'capture',
    write(_verdicts: Verdict[], e: RuntimeEvent) {
      seen.push({ raw: e.raw, serialised: JSON.stringify(e) });
    },
  };
  const before = await rawCuts();
  const p = createPipeline({ engine: flaggingEvaluator('keep'), sinks: [sink], queueSize: 4 });
  const deep = JSON.parse('['.repeat(100_000) + ']'.repeat(100_000)) as unknown;
  await p.submit({ ...event(1), raw: deep }, { source: 'test', canWait: true });
  await p.submit({ ...event(2), raw: { small: true } }, { source: 'test', canWait: true });
  await p.drain();
  await p.stop();
  assert.equal(seen.length, 2);
  assert.deepEqual(seen[0]!.raw, { truncated: 'too-deep', limit: 64 });
  assert.deepEqual(seen[1]!.raw, { small: true }, 'a raw within bounds is kept as it was');
  assert.equal((await rawCuts()) - before, 1);
});
