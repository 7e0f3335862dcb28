import { test } from 'node:test';
import assert from 'node:assert/strict';
import { eventsEvaluated } from '../../../src/observability/metrics.js';
import { openStore, sampleEvaluatedIntoTimeline } from '../../../src/reports/store/index.js';

test('the timeline counts events evaluated from the engine counter, only the growth since start', async () => {
  eventsEvaluated.inc(500); // evaluated before the store started: not this store's to count
  const store = openStore(':memory:');
  try {
    const stop = sampleEvaluatedIntoTimeline(store, 20);
    await new Promise((r) => setTimeout(r, 30));
    eventsEvaluated.inc(120);
    await new Promise((r) => setTimeout(r, 60));
    eventsEvaluated.inc(7);
    await stop(); // records the final delta
    const total = store.timeline(Date.now() - 2 * 60_000).reduce((n, b) => n + b.evaluated, 0);
    assert.equal(total, 127);
  } finally {
    store.close();
  }
});
