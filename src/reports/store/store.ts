/**
 * The embedded report store for local mode (better-sqlite3): violations aggregated per
 * (policy, rule, resource), the actions taken on them, a bounded ring of recent events and a
 * per-minute timeline.
 *
 * A thin facade over one database handle (database.ts), its write side (store-writer.ts: buffering,
 * batching, row isolation, retries, retention) and its read side (store-queries.ts).
 *
 * Durability: WAL journal, writes committed once per event-loop tick. `synchronous=NORMAL` is the
 * default: in WAL mode it cannot corrupt the database and an application crash loses no committed
 * transaction; only an OS crash or power loss may roll back the last commits. `FULL` adds an fsync
 * per commit (per tick), which blocks the event loop on slow disks; choose it with
 * `synchronous: 'FULL'` where power loss matters more.
 */
import type { Database } from 'better-sqlite3';
import type { ActionOutcome } from '../../contracts/actions.js';
import type { RuntimeEvent } from '../../events/types.js';
import type { Verdict } from '../../contracts/verdict.js';
import { closeDatabase, openDatabase } from './database.js';
import { StoreQueries } from './store-queries.js';
import { StoreWriter, type ViolationKey } from './store-writer.js';
import type {
  Page,
  PageRequest,
  StoredEvent,
  StoreStats,
  TimelineBucket,
  ViolationBreakdown,
  ViolationDetail,
  ViolationFilter,
  ViolationSummary,
} from './types.js';

export { resourceKey } from '../../contracts/keys.js';
export type { ViolationKey } from './store-writer.js';

export interface StoreOptions {
  /** Recent events kept (ring). Default 1000. */
  maxEvents?: number;
  /** Action outcomes kept per violation. Default 50. */
  maxActionsPerViolation?: number;
  /** Timeline retention in minutes. Default 7 days. */
  timelineRetentionMinutes?: number;
  /** Stored event JSON above this size has its `raw` replaced by a marker. Default 64 KiB. */
  maxEventBytes?: number;
  /** Writes kept for retry while the database fails; beyond it the oldest are dropped and counted. Default 50 000. */
  maxPendingWrites?: number;
  /** Failed attempts at one batch before its rows are dropped and counted (write-failed). Default 5. */
  maxWriteRetries?: number;
  /** Delay before the first retry (ms), doubled per failure up to 30 s. Default 1000. */
  retryBackoffMs?: number;
  /** Violation rows kept; beyond it the least recently recorded are deleted. Default 100 000; 0 = no cap. */
  maxViolations?: number;
  /** Violations not recorded for this long (ms) are deleted. Default 30 days; 0 = kept regardless of age. */
  maxViolationAgeMs?: number;
  /** Minimum time between two violation retention checks (ms). Default 1000; 0 = at every commit. */
  retentionCheckIntervalMs?: number;
  synchronous?: 'NORMAL' | 'FULL';
  /** Wall clock in ms; injectable for tests. */
  now?: () => number;
  onError?: (err: unknown) => void;
}

export const DEFAULT_MAX_VIOLATIONS = 100_000;
export const DEFAULT_MAX_VIOLATION_AGE_MS = 30 * 24 * 60 * 60 * 1000;

function nonNegative(name: string, value: number): number {
  if (!Number.isFinite(value) || value < 0)
    throw new RangeError(`store option ${name} must be a non-negative number, got ${value}`);
  return Math.floor(value);
}

export class ReportStore {
  readonly path: string;
  private readonly db: Database;
  private readonly writer: StoreWriter;
  private readonly queries: StoreQueries;
  private closed = false;

  constructor(path: string, options: StoreOptions = {}) {
    this.path = path;
    const now = options.now ?? Date.now;
    this.db = openDatabase(path, options.synchronous ?? 'NORMAL');
    try {
      this.writer = new StoreWriter(this.db, {
        maxEvents: options.maxEvents ?? 1000,
        maxActionsPerViolation: options.maxActionsPerViolation ?? 50,
        timelineRetentionMinutes: options.timelineRetentionMinutes ?? 7 * 24 * 60,
        maxEventBytes: options.maxEventBytes ?? 64 * 1024,
        maxPendingWrites: options.maxPendingWrites ?? 50_000,
        maxWriteRetries: nonNegative('maxWriteRetries', options.maxWriteRetries ?? 5),
        retryBackoffMs: nonNegative('retryBackoffMs', options.retryBackoffMs ?? 1000),
        maxViolations: nonNegative('maxViolations', options.maxViolations ?? DEFAULT_MAX_VIOLATIONS),
        maxViolationAgeMs: nonNegative(
          'maxViolationAgeMs',
          options.maxViolationAgeMs ?? DEFAULT_MAX_VIOLATION_AGE_MS,
        ),
        retentionCheckIntervalMs: nonNegative(
          'retentionCheckIntervalMs',
          options.retentionCheckIntervalMs ?? 1000,
        ),
        now,
        onError: options.onError,
      });
    } catch (err) {
      this.db.close();
      throw err;
    }
    this.queries = new StoreQueries(this.db, path, this.writer, now);
  }

  // ---- writes (buffered per tick) ---------------------------------------------------------------

  /** Records the verdicts of one event (and the event in the recent ring). Committed at the end of the tick. */
  recordVerdicts(verdicts: readonly Verdict[], event: RuntimeEvent): void {
    this.writer.recordVerdicts(verdicts, event);
  }

  /** Adds `n` events evaluated to the current minute of the timeline. */
  recordEvaluated(n: number): void {
    this.writer.recordEvaluated(n);
  }

  /** Records one action outcome against the violation identified by the verdict. */
  recordActionOutcome(verdict: ViolationKey & { eventId?: string }, outcome: ActionOutcome): void {
    this.writer.recordActionOutcome(verdict, outcome);
  }

  /** Commits everything buffered now (see StoreWriter.flush). */
  flush(): void {
    this.writer.flush();
  }

  // ---- reads -------------------------------------------------------------------------------------

  listViolations(filter: ViolationFilter = {}, page: PageRequest = {}): Page<ViolationSummary> {
    return this.queries.listViolations(filter, page);
  }

  getViolation(id: number): ViolationDetail | undefined {
    return this.queries.getViolation(id);
  }

  /** Counts by policy, namespace, resource, behavior and mode, for the overview (honours the filter). */
  breakdown(filter: ViolationFilter = {}, top = 10): ViolationBreakdown {
    return this.queries.breakdown(filter, top);
  }

  recentEvents(limit = 100, beforeSeq?: number): StoredEvent[] {
    return this.queries.recentEvents(limit, beforeSeq);
  }

  /** Per-bucket counts from `from` to `to` (unix ms), every bucket present (zeros filled). */
  timeline(from: number, to?: number, stepMinutes = 1): TimelineBucket[] {
    return this.queries.timeline(from, to, stepMinutes);
  }

  stats(): StoreStats {
    return this.queries.stats();
  }

  /**
   * Flushes what it can, checkpoints the WAL and closes the file. Idempotent. A database still
   * failing gets one more attempt without waiting; rows still pending then are counted ("shutdown").
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.writer.close();
    closeDatabase(this.db);
  }
}

/** Opens (creating and migrating when needed) the store at `path` (":memory:" for a throwaway one). */
export function openStore(path: string, options: StoreOptions = {}): ReportStore {
  return new ReportStore(path, options);
}
