/**
 * Store retention with real SQLite: a churn of short-lived pods (one violation row each) stays under
 * the row cap, the least recently recorded rows go first (a pod seen again is kept), rows not seen
 * for the maximum age go, their last event and actions go with them, every deleted row is counted in
 * kyverno_runtime_store_pruned_total{table}, and the bound holds across a restart.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { RuntimeEvent } from '../../../src/events/types.js';
import { registry } from '../../../src/observability/metrics.js';
import { openStore } from '../../../src/reports/store/index.js';
import { tetragonExecEvents, verdictFor } from './fixtures.js';

const base = tetragonExecEvents().find((e) => e.pod?.namespace !== undefined)!;

/** The real sample, as if it happened in a fresh short-lived pod. */
function inPod(i: number): RuntimeEvent {
  return {
    ...base,
    id: `churn-${i}`,
    pod: { ...base.pod, namespace: 'batch', name: `job-${i}-x7k2p` },
  };
}

async function pruned(table: string): Promise<number> {
  const m = await registry.getSingleMetric('kyverno_runtime_store_pruned_total')!.get();
  return m.values.find((v) => v.labels.table === table)?.value ?? 0;
}

function podsIn(store: ReturnType<typeof openStore>): string[] {
  return store
    .listViolations({}, { limit: 500 })
    .items.map((v) => v.resource.name)
    .sort();
}

test('a churn of short-lived pods stays under the row cap, oldest last-recorded first', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kr-retention-'));
  const path = join(dir, 'state.db');
  let t = 1_700_000_000_000;
  const options = {
    maxViolations: 20,
    retentionCheckIntervalMs: 0,
    maxActionsPerViolation: 5,
    now: () => t,
  };
  const prunedBefore = await pruned('violations');
  let store = openStore(path, options);
  try {
    for (let i = 0; i < 100; i++) {
      t += 1000;
      const e = inPod(i);
      store.recordVerdicts([verdictFor(e, { mode: 'Enforce' })], e);
      store.recordActionOutcome(verdictFor(e), { action: 'kill', outcome: 'succeeded', time: e.time });
      // job-0 keeps violating: it is recorded recently, so it is never the oldest.
      if (i % 10 === 9) {
        const again = { ...inPod(0), id: `again-${i}` };
        store.recordVerdicts([verdictFor(again)], again);
      }
      store.flush();
    }
    const stats = store.stats();
    assert.equal(stats.violations, 20);
    assert.equal(stats.actions, 20, 'the pruned rows took their actions along (cascade)');
    const pods = podsIn(store);
    assert.ok(pods.includes('job-0-x7k2p'), 'a pod seen again is kept');
    assert.ok(pods.includes('job-99-x7k2p') && !pods.includes('job-1-x7k2p'));
    // 19 most recent churned pods + job-0.
    const expected = ['job-0-x7k2p', ...Array.from({ length: 19 }, (_, k) => `job-${81 + k}-x7k2p`)].sort();
    assert.deepEqual(pods, expected);
    assert.equal((await pruned('violations')) - prunedBefore, 80);
    const job0 = store.listViolations({ pod: 'job-0-x7k2p' }).items[0]!;
    assert.equal(job0.count, 11, 'the kept row keeps its aggregate');
    assert.ok(store.getViolation(job0.id)?.lastEvent, 'and its last event');

    // The cap holds across a restart, and a lower cap at open prunes at the first commit.
    store.close();
    store = openStore(path, { ...options, maxViolations: 5 });
    assert.equal(store.stats().violations, 20, 'nothing is deleted before a commit');
    t += 1000;
    const e = inPod(1000);
    store.recordVerdicts([verdictFor(e)], e);
    store.flush();
    assert.equal(store.stats().violations, 5);
    assert.ok(podsIn(store).includes('job-1000-x7k2p'));
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('violations not recorded for the maximum age are deleted; 0 disables each bound', async () => {
  let t = 1_700_000_000_000;
  const hour = 3_600_000;
  const store = openStore(':memory:', {
    maxViolations: 0,
    maxViolationAgeMs: 24 * hour,
    retentionCheckIntervalMs: 60_000,
    now: () => t,
  });
  const before = await pruned('violations');
  try {
    for (let i = 0; i < 10; i++) {
      const e = inPod(i);
      store.recordVerdicts([verdictFor(e)], e);
    }
    store.flush();
    t += 20 * hour;
    const fresh = inPod(10);
    store.recordVerdicts([verdictFor(fresh)], fresh);
    store.flush();
    assert.equal(store.stats().violations, 11, 'younger than a day: kept (and no row cap)');
    t += 5 * hour; // the first ten are now 25 h old, the last one 5 h
    const later = inPod(11);
    store.recordVerdicts([verdictFor(later)], later);
    store.flush();
    assert.deepEqual(podsIn(store), ['job-10-x7k2p', 'job-11-x7k2p']);
    assert.equal((await pruned('violations')) - before, 10);

    // Checks are spaced by retentionCheckIntervalMs (60 s here). job-10 was recorded 5 h ago.
    const record = (i: number): void => {
      const e = inPod(i);
      store.recordVerdicts([verdictFor(e)], e);
      store.flush();
    };
    t += 19 * hour - 10_000; // job-10 is 10 s short of a day old: the check runs, keeps it
    record(12);
    t += 30_000; // now 20 s past a day, but the next check is not due yet
    record(13);
    assert.ok(podsIn(store).includes('job-10-x7k2p'), 'not checked within the interval');
    t += 31_000; // due
    record(14);
    assert.ok(!podsIn(store).includes('job-10-x7k2p'), 'deleted at the next check');
    assert.equal((await pruned('violations')) - before, 11);
  } finally {
    store.close();
  }
});

test('the recent-events ring counts what it drops; bad retention options are refused', async () => {
  const before = await pruned('events');
  const store = openStore(':memory:', { maxEvents: 3 });
  try {
    for (let i = 0; i < 8; i++) {
      const e = inPod(i);
      store.recordVerdicts([verdictFor(e)], e);
      store.flush();
    }
    assert.equal(store.stats().events, 3);
    assert.equal((await pruned('events')) - before, 5);
  } finally {
    store.close();
  }
  assert.throws(() => openStore(':memory:', { maxViolations: -1 }), /maxViolations must be a non-negative/);
  assert.throws(() => openStore(':memory:', { maxViolationAgeMs: Number.NaN }), /non-negative/);
});
