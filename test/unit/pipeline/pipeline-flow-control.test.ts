import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RuntimeEvent } from '../../../src/events/types.js';
import type { Verdict } from '../../../src/contracts/verdict.js';
import { registry } from '../../../src/observability/metrics.js';
import { createPipeline, type VerdictSink } from '../../../src/pipeline/index.js';
import { event, flaggingEvaluator } from './helpers.js';

function collectingSink(): VerdictSink & { got: { verdicts: Verdict[]; event: RuntimeEvent }[] } {
  const got: { verdicts: Verdict[]; event: RuntimeEvent }[] = [];
  return { name: 'collect', got, write: (verdicts, e) => void got.push({ verdicts, event: e }) };
}

async function metricValue(name: string, labels: Record<string, string>): Promise<number> {
  const base = name.replace(/_count$/, '');
  const m = (await registry.getMetricsAsJSON()).find((x) => x.name === base);
  const v = m?.values.find(
    (x) =>
      ((x as { metricName?: string }).metricName ?? base) === name &&
      Object.entries(labels).every(([k, val]) => x.labels[k] === val),
  );
  return v?.value ?? 0;
}

describe('pipeline flow control', () => {
  it('evaluates every event and fans verdicts out to every sink', async () => {
    const a = collectingSink();
    const b = collectingSink();
    const p = createPipeline({ engine: flaggingEvaluator('pol-a'), sinks: [a, b], queueSize: 8 });
    for (let i = 0; i < 20; i++) await p.submit(event(i), { source: 'fanout', canWait: true });
    await p.drain();
    assert.equal(a.got.length, 20);
    assert.equal(b.got.length, 20);
    assert.deepEqual(
      a.got.map((g) => g.event.id),
      Array.from({ length: 20 }, (_, i) => `ev-${i}`),
      'order preserved',
    );
    assert.equal(a.got[0]!.verdicts[0]!.policy, 'pol-a');
    await p.stop();
  });

  it('drops and counts "queue-full" for inputs that cannot wait, never silently', async () => {
    const evaluator = flaggingEvaluator('x', 200); // slow engine: 0.2 ms per event
    const p = createPipeline({ engine: evaluator, queueSize: 10, batchSize: 4 });
    const before = await metricValue('kyverno_runtime_events_dropped_total', {
      source: 'http-burst',
      reason: 'queue-full',
    });
    for (let i = 0; i < 200; i++) p.submit(event(i), { source: 'http-burst', canWait: false });
    await p.drain();
    const s = p.stats();
    const dropped = s.dropped['queue-full'] ?? 0;
    assert.ok(dropped > 0, 'a burst into a 10-slot queue must drop');
    assert.equal(s.evaluated + dropped, 200, 'every event is either evaluated or counted as dropped');
    const after = await metricValue('kyverno_runtime_events_dropped_total', {
      source: 'http-burst',
      reason: 'queue-full',
    });
    assert.equal(after - before, dropped, 'the Prometheus counter agrees');
    await p.stop();
  });

  it('blocks readers that can wait instead of dropping, with memory bounded by the queue', async () => {
    const p = createPipeline({ engine: flaggingEvaluator('x', 50), queueSize: 5, batchSize: 2 });
    let maxQueued = 0;
    let blocked = 0;
    for (let i = 0; i < 100; i++) {
      const wait = p.submit(event(i), { source: 'file', canWait: true });
      if (wait) {
        blocked++;
        await wait;
      }
      maxQueued = Math.max(maxQueued, p.stats().queued);
    }
    await p.drain();
    const s = p.stats();
    assert.equal(s.evaluated, 100);
    assert.deepEqual(s.dropped, {});
    assert.ok(blocked > 0, 'the reader had to wait');
    assert.ok(maxQueued <= 5, `queue never exceeded its capacity (saw ${maxQueued})`);
    await p.stop();
  });

  it('counts a throwing engine as "evaluation-error" and keeps going', async () => {
    const p = createPipeline({
      engine: {
        evaluate(e) {
          if (e.id === 'ev-3') throw new Error('boom');
          return [];
        },
      },
    });
    for (let i = 0; i < 6; i++) p.submit(event(i), { source: 't', canWait: false });
    await p.drain();
    assert.equal(p.stats().dropped['evaluation-error'], 1);
    assert.equal(p.stats().evaluated, 5);
    await p.stop();
  });

  it('isolates sink failures: counted, other sinks still receive', async () => {
    const good = collectingSink();
    const p = createPipeline({
      engine: flaggingEvaluator('x'),
      sinks: [
        {
          name: 'throws',
          write: () => {
            throw new Error('sync fail');
          },
        },
        { name: 'rejects', write: () => Promise.reject(new Error('async fail')) },
        good,
      ],
    });
    for (let i = 0; i < 3; i++) p.submit(event(i), { source: 't', canWait: false });
    await p.drain();
    assert.equal(good.got.length, 3);
    assert.equal(p.stats().sinkErrors, 6);
    await p.stop();
  });

  it('swaps the engine atomically between events (policy reload)', async () => {
    const sink = collectingSink();
    const p = createPipeline({ engine: flaggingEvaluator('v1'), sinks: [sink], queueSize: 100 });
    for (let i = 0; i < 10; i++) await p.submit(event(i), { source: 't', canWait: true });
    await p.drain();
    p.setEngine(flaggingEvaluator('v2'));
    for (let i = 10; i < 20; i++) await p.submit(event(i), { source: 't', canWait: true });
    await p.drain();
    const policies = sink.got.map((g) => g.verdicts[0]!.policy);
    assert.deepEqual(policies, [...Array<string>(10).fill('v1'), ...Array<string>(10).fill('v2')]);
    await p.stop();
  });

  it('stop() drains what was queued, then drops later submits as "shutting-down"', async () => {
    const p = createPipeline({ engine: flaggingEvaluator('x', 20), queueSize: 1000 });
    for (let i = 0; i < 300; i++) p.submit(event(i), { source: 't', canWait: false });
    await p.stop();
    assert.equal(p.stats().evaluated, 300);
    p.submit(event(999), { source: 't', canWait: false });
    assert.equal(p.stats().dropped['shutting-down'], 1);
  });

  it('records processing lag and evaluation time', async () => {
    const p = createPipeline({ engine: flaggingEvaluator('x'), queueSize: 100 });
    const lagBefore = await metricValue('kyverno_runtime_processing_lag_seconds_count', {});
    for (let i = 0; i < 10; i++) p.submit(event(i), { source: 't', canWait: false });
    await p.drain();
    const lagAfter = await metricValue('kyverno_runtime_processing_lag_seconds_count', {});
    assert.equal(lagAfter - lagBefore, 10);
    await p.stop();
  });
});
