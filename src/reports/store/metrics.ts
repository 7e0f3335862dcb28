/** The store's own metrics, registered on the process registry (see docs/metrics.md). */
import { Counter, Histogram } from 'prom-client';
import { registry } from '../../observability/metrics.js';

export const storeFlushSeconds = new Histogram({
  name: 'kyverno_runtime_store_flush_duration_seconds',
  help: 'Time to write one batch (one transaction) into the embedded SQLite store.',
  buckets: [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1],
  registers: [registry],
});

export const storeWriteErrors = new Counter({
  name: 'kyverno_runtime_store_write_errors_total',
  help: 'Store flushes that failed (the batch is retried with backoff a bounded number of times).',
  registers: [registry],
});

/** Why a row was given up (the `reason` label of storeRowsDropped). */
export type RowDropReason = 'backlog-full' | 'orphan-action' | 'unwritable' | 'write-failed' | 'shutdown';

export const storeRowsDropped = new Counter({
  name: 'kyverno_runtime_store_rows_dropped_total',
  help:
    'Store rows given up, one count per row, by reason (unwritable: this row alone could not be ' +
    'serialised or was refused by SQLite, the rest of its batch was written; write-failed: the database ' +
    'kept failing for the whole retry budget; backlog-full: more rows waited than the pending cap; ' +
    'shutdown: still failing at close; orphan-action: an action outcome for a violation the store never saw).',
  labelNames: ['reason'] as const,
  registers: [registry],
});

/** The tables whose rows retention deletes (the `table` label of storePruned). */
export type PrunedTable = 'violations' | 'events' | 'actions' | 'timeline';

export const storePruned = new Counter({
  name: 'kyverno_runtime_store_pruned_total',
  help:
    'Rows deleted by retention, by table (violations: over --store-max-violations or not seen for ' +
    '--store-retention, oldest last-recorded first; events: beyond the recent-events ring; actions: beyond ' +
    'the per-violation history; timeline: older than 7 days). A pruned violation takes its last event and ' +
    'action history with it.',
  labelNames: ['table'] as const,
  registers: [registry],
});
