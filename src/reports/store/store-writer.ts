/**
 * The store's write side: writes are buffered for one event-loop tick and committed together in one
 * transaction (the pipeline evaluates events in batches, so a batch becomes one commit instead of one
 * fsync-bearing commit per event). A crash loses at most the writes of the current tick — which were
 * only in memory anyway, like the events still in the ingest queue — and never corrupts the file.
 *
 * Bounded: the pending writes (`maxPendingWrites`, oldest dropped), a failing database's retries
 * (`maxWriteRetries`, then the batch is dropped), and every table (retention, below). Every dropped
 * row is counted in kyverno_runtime_store_rows_dropped_total{reason}.
 *
 * Retention: violations (one row per policy/rule/resource) would otherwise grow forever under a churn
 * of short-lived pods, so at most once per `retentionCheckIntervalMs` the commit deletes the rows not
 * recorded for `maxViolationAgeMs`, then the oldest-recorded rows beyond `maxViolations` (their last
 * event and actions go with them, by foreign-key cascade). Every deleted row is counted in
 * kyverno_runtime_store_pruned_total{table}.
 */
import { resourceKey } from '../../contracts/keys.js';
import type { Database } from 'better-sqlite3';
import type { ActionOutcome } from '../../contracts/actions.js';
import type { RuntimeEvent } from '../../events/types.js';
import { exceptionName, verdictResult, type Verdict } from '../../contracts/verdict.js';
import {
  storeFlushSeconds,
  storePruned,
  storeRowsDropped,
  storeWriteErrors,
  type PrunedTable,
  type RowDropReason,
} from './metrics.js';

export interface StoreWriterOptions {
  maxEvents: number;
  maxActionsPerViolation: number;
  timelineRetentionMinutes: number;
  maxEventBytes: number;
  maxPendingWrites: number;
  maxWriteRetries: number;
  retryBackoffMs: number;
  maxViolations: number;
  maxViolationAgeMs: number;
  retentionCheckIntervalMs: number;
  now: () => number;
  onError?: (err: unknown) => void;
}

/** The verdict fields that identify the violation an action belongs to. */
export type ViolationKey = Pick<Verdict, 'policy' | 'policyNamespace' | 'rule' | 'resource'>;

/** What the write side reports in the store's stats. */
export interface WriteStatus {
  pendingWrites: number;
  flushes: number;
  lastError?: string;
}

type PendingWrite =
  | { kind: 'verdicts'; verdicts: Verdict[]; event: RuntimeEvent; at: number }
  | { kind: 'evaluated'; n: number; at: number }
  | { kind: 'action'; key: ViolationKey; eventId?: string; outcome: ActionOutcome };

export class StoreWriter {
  private pending: PendingWrite[] = [];
  private scheduled: NodeJS.Immediate | NodeJS.Timeout | undefined;
  private flushes = 0;
  private lastError: string | undefined;
  private lastTimelinePrune = 0;
  private lastViolationPrune = Number.NEGATIVE_INFINITY;
  /** Rows deleted by the transaction in progress; counted in the metric once it commits. */
  private pruned: Partial<Record<PrunedTable, number>> = {};
  private closed = false;
  /** Consecutive failed flushes; reset by a successful one. */
  private failedAttempts = 0;
  private readonly stmt: ReturnType<typeof prepareWrites>;

  constructor(
    private readonly db: Database,
    private readonly opts: StoreWriterOptions,
  ) {
    this.stmt = prepareWrites(db);
  }

  /** Records the verdicts of one event (and the event in the recent ring). Committed at the end of the tick. */
  recordVerdicts(verdicts: readonly Verdict[], event: RuntimeEvent): void {
    this.enqueue({ kind: 'verdicts', verdicts: [...verdicts], event, at: this.opts.now() });
  }

  /** Adds `n` events evaluated to the current minute of the timeline. */
  recordEvaluated(n: number): void {
    if (!(n > 0)) return;
    this.enqueue({ kind: 'evaluated', n: Math.floor(n), at: this.opts.now() });
  }

  /** Records one action outcome against the violation identified by the verdict. */
  recordActionOutcome(verdict: ViolationKey & { eventId?: string }, outcome: ActionOutcome): void {
    this.enqueue({ kind: 'action', key: verdict, eventId: verdict.eventId, outcome });
  }

  private enqueue(write: PendingWrite): void {
    if (this.closed) throw new Error('report store is closed');
    this.pending.push(write);
    if (this.pending.length > this.opts.maxPendingWrites) {
      const excess = this.pending.splice(0, this.pending.length - this.opts.maxPendingWrites);
      storeRowsDropped.inc({ reason: 'backlog-full' }, excess.length);
    }
    this.scheduled ??= setImmediate(() => {
      this.scheduled = undefined;
      this.flush();
    });
  }

  /**
   * Commits everything buffered in one transaction. Safe to call any time; reads call it first.
   *
   * One bad row never blocks the others: when the batch fails because of one row (an event JSON
   * cannot serialise, SQLite refuses a value), the batch is written again with each row in its own
   * savepoint, and only the failing rows are dropped and counted (reason "unwritable"). When the
   * database itself fails (disk full, lock held, I/O error), the batch is kept and retried with
   * doubling backoff, `maxWriteRetries` times, then dropped and counted ("write-failed"): a database
   * that stays broken costs rows, never memory.
   */
  flush(): void {
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    const end = storeFlushSeconds.startTimer();
    try {
      try {
        this.commit(batch, false);
      } catch (err) {
        if (isDatabaseFailure(err)) throw err;
        this.commit(batch, true); // the failure was one row's: isolate it
      }
      this.flushes++;
      this.failedAttempts = 0;
      this.lastError = undefined;
    } catch (err) {
      storeWriteErrors.inc();
      this.lastError = err instanceof Error ? err.message : String(err);
      this.opts.onError?.(err);
      this.failedAttempts++;
      if (this.failedAttempts > this.opts.maxWriteRetries) {
        this.failedAttempts = 0;
        this.dropRows(batch, 'write-failed');
      } else {
        this.pending = batch.concat(this.pending);
        if (!this.closed && this.scheduled === undefined) {
          const delay = Math.min(30_000, this.opts.retryBackoffMs * 2 ** (this.failedAttempts - 1));
          this.scheduled = setTimeout(() => {
            this.scheduled = undefined;
            this.flush();
          }, delay);
          this.scheduled.unref();
        }
      }
    } finally {
      end();
    }
  }

  /** One transaction for the batch; with `isolate`, each row in its own savepoint. */
  private commit(batch: readonly PendingWrite[], isolate: boolean): void {
    this.pruned = {};
    let unwritable = 0;
    this.db.transaction(() => {
      for (const w of batch) {
        if (!isolate) {
          this.apply(w);
          continue;
        }
        try {
          this.applyAlone(w); // a nested better-sqlite3 transaction is a savepoint
        } catch (err) {
          if (isDatabaseFailure(err)) throw err;
          unwritable++;
          this.opts.onError?.(err);
        }
      }
      this.trim();
    })();
    if (unwritable > 0) storeRowsDropped.inc({ reason: 'unwritable' }, unwritable);
    for (const [table, n] of Object.entries(this.pruned)) storePruned.inc({ table }, n);
  }

  private readonly applyAlone = (w: PendingWrite): void => this.db.transaction(() => this.apply(w))();

  private dropRows(rows: readonly PendingWrite[], reason: RowDropReason): void {
    if (rows.length > 0) storeRowsDropped.inc({ reason }, rows.length);
  }

  private apply(w: PendingWrite): void {
    switch (w.kind) {
      case 'verdicts':
        this.applyVerdicts(w.verdicts, w.event, w.at);
        return;
      case 'evaluated':
        this.stmt.addTimeline.run(Math.floor(w.at / 60_000), w.n, 0, 0);
        return;
      case 'action': {
        const k = w.key;
        const row = this.stmt.findViolation.get(
          k.policy,
          k.policyNamespace ?? '',
          k.rule,
          resourceKey(k.resource),
        );
        if (!row) {
          storeRowsDropped.inc({ reason: 'orphan-action' });
          return;
        }
        const o = w.outcome;
        this.stmt.insertAction.run(row.id, w.eventId ?? null, o.action, o.outcome, o.detail ?? null, o.time);
        this.countPruned(
          'actions',
          this.stmt.trimActions.run({ v: row.id, keep: this.opts.maxActionsPerViolation }).changes,
        );
        return;
      }
    }
  }

  private applyVerdicts(verdicts: Verdict[], event: RuntimeEvent, at: number): void {
    const eventJson = this.eventJson(event);
    for (const v of verdicts) {
      const e = v.event;
      const { id } = this.stmt.upsertViolation.get({
        policy: v.policy,
        policy_namespace: v.policyNamespace ?? '',
        rule: v.rule,
        resource_key: resourceKey(v.resource),
        resource_api_version: v.resource.apiVersion,
        resource_kind: v.resource.kind,
        resource_namespace: v.resource.namespace ?? '',
        resource_name: v.resource.name,
        resource_uid: v.resource.uid ?? null,
        synthetic: v.synthetic ? 1 : 0,
        mode: v.mode,
        behavior: v.behavior,
        severity: v.severity ?? null,
        category: v.category ?? null,
        message: v.message,
        container: v.container ?? e.container?.name ?? null,
        image: e.container?.image ?? null,
        node: e.node ?? null,
        source: e.source,
        process_binary: e.process?.binary ?? null,
        process_args: e.process?.args ? JSON.stringify(e.process.args) : null,
        process_pid: e.process?.pid ?? null,
        process_uid: e.process?.uid ?? null,
        parent_binary: e.parent?.binary ?? null,
        parent_args: e.parent?.args ? JSON.stringify(e.parent.args) : null,
        parent_pid: e.parent?.pid ?? null,
        time: v.time || e.time,
        updated_at: at,
        event_id: v.eventId,
        result: verdictResult(v),
        exception: v.exception ? exceptionName(v.exception) : null,
      })!;
      this.stmt.putViolationEvent.run(id, e === event ? eventJson : this.eventJson(e));
    }
    this.stmt.insertEvent.run(
      event.id,
      event.time,
      at,
      event.source,
      event.behavior,
      event.pod?.namespace ?? null,
      event.pod?.name ?? null,
      event.process?.binary ?? null,
      verdicts.length,
      eventJson,
    );
    const skipped = verdicts.filter((v) => v.exception !== undefined).length;
    if (verdicts.length > 0)
      this.stmt.addTimeline.run(Math.floor(at / 60_000), 0, verdicts.length - skipped, skipped);
  }

  /** Serialises an event, replacing an oversized `raw` so one huge record cannot bloat the store. */
  private eventJson(event: RuntimeEvent): string {
    const json = JSON.stringify(event);
    if (json.length <= this.opts.maxEventBytes) return json;
    const { raw: _raw, ...rest } = event;
    const slim = JSON.stringify({ ...rest, raw: { truncated: true, bytes: json.length } });
    if (slim.length <= this.opts.maxEventBytes) return slim;
    return JSON.stringify({
      id: event.id,
      time: event.time,
      source: event.source,
      behavior: event.behavior,
      raw: { truncated: true, bytes: json.length },
    });
  }

  private countPruned(table: PrunedTable, n: number): void {
    if (n > 0) this.pruned[table] = (this.pruned[table] ?? 0) + n;
  }

  private trim(): void {
    this.countPruned('events', this.stmt.trimEvents.run(this.opts.maxEvents).changes);
    const now = this.opts.now();
    if (now - this.lastTimelinePrune >= 60_000) {
      this.lastTimelinePrune = now;
      const minute = Math.floor(now / 60_000) - this.opts.timelineRetentionMinutes;
      this.countPruned('timeline', this.stmt.pruneTimeline.run(minute).changes);
    }
    // A wall clock stepped back must not postpone retention until it catches up.
    const since = now - this.lastViolationPrune;
    if (since < 0 || since >= this.opts.retentionCheckIntervalMs) {
      this.lastViolationPrune = now;
      this.pruneViolations(now);
    }
  }

  /** Age first (rows nobody has seen for a while), then the cap (least recently recorded first). */
  private pruneViolations(now: number): void {
    const { maxViolations, maxViolationAgeMs } = this.opts;
    if (maxViolationAgeMs > 0)
      this.countPruned('violations', this.stmt.pruneViolationsByAge.run(now - maxViolationAgeMs).changes);
    if (maxViolations > 0) {
      // count(*) is cheap next to a delete; the delete runs only when over the cap.
      const excess = this.stmt.countViolations.get()!.n - maxViolations;
      if (excess > 0) this.countPruned('violations', this.stmt.pruneOldestViolations.run(excess).changes);
    }
  }

  status(): WriteStatus {
    return {
      pendingWrites: this.pending.length,
      flushes: this.flushes,
      ...(this.lastError !== undefined ? { lastError: this.lastError } : {}),
    };
  }

  /**
   * Flushes what it can and stops accepting writes. A database still failing gets one more attempt
   * without waiting; rows still pending then are counted ("shutdown"). The caller closes the database.
   */
  close(): void {
    if (this.closed) return;
    if (this.scheduled !== undefined) {
      clearImmediate(this.scheduled as NodeJS.Immediate);
      clearTimeout(this.scheduled as NodeJS.Timeout);
      this.scheduled = undefined;
    }
    this.closed = true; // no retry timer from here on
    this.flush();
    if (this.pending.length > 0) this.flush();
    this.dropRows(this.pending, 'shutdown');
    this.pending = [];
  }
}

/**
 * SQLite error codes that mean the database (not one row) failed: the batch is retried. Anything
 * else thrown while writing — a JSON.stringify RangeError, a bind TypeError, SQLITE_TOOBIG,
 * SQLITE_CONSTRAINT — belongs to the row being written.
 */
const DATABASE_FAILURE =
  /^SQLITE_(FULL|BUSY|LOCKED|IOERR|READONLY|CANTOPEN|CORRUPT|NOTADB|NOMEM|INTERRUPT|PROTOCOL|NOLFS|PERM|ABORT)/;

function isDatabaseFailure(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string') return DATABASE_FAILURE.test(code);
  return err.message.includes('database connection is not open');
}

function prepareWrites(db: Database) {
  return {
    upsertViolation: db.prepare<Record<string, unknown>, { id: number }>(`
      INSERT INTO violations (
        policy, policy_namespace, rule, resource_key, resource_api_version, resource_kind,
        resource_namespace, resource_name, resource_uid, synthetic, mode, behavior, severity,
        category, message, container, image, node, source, process_binary, process_args,
        process_pid, process_uid, parent_binary, parent_args, parent_pid, count, first_seen,
        last_seen, updated_at, last_event_id, result, exception)
      VALUES (
        @policy, @policy_namespace, @rule, @resource_key, @resource_api_version, @resource_kind,
        @resource_namespace, @resource_name, @resource_uid, @synthetic, @mode, @behavior, @severity,
        @category, @message, @container, @image, @node, @source, @process_binary, @process_args,
        @process_pid, @process_uid, @parent_binary, @parent_args, @parent_pid, 1, @time,
        @time, @updated_at, @event_id, @result, @exception)
      ON CONFLICT (policy, policy_namespace, rule, resource_key) DO UPDATE SET
        synthetic = excluded.synthetic, mode = excluded.mode, behavior = excluded.behavior,
        severity = excluded.severity, category = excluded.category, message = excluded.message,
        container = excluded.container, image = excluded.image, node = excluded.node,
        source = excluded.source, process_binary = excluded.process_binary,
        process_args = excluded.process_args, process_pid = excluded.process_pid,
        process_uid = excluded.process_uid, parent_binary = excluded.parent_binary,
        parent_args = excluded.parent_args, parent_pid = excluded.parent_pid,
        count = count + 1, last_seen = excluded.last_seen, updated_at = excluded.updated_at,
        last_event_id = excluded.last_event_id, result = excluded.result, exception = excluded.exception
      RETURNING id`),
    putViolationEvent: db.prepare<[number, string]>(
      'INSERT INTO violation_events (violation_id, json) VALUES (?, ?) ON CONFLICT (violation_id) DO UPDATE SET json = excluded.json',
    ),
    findViolation: db.prepare<[string, string, string, string], { id: number }>(
      'SELECT id FROM violations WHERE policy = ? AND policy_namespace = ? AND rule = ? AND resource_key = ?',
    ),
    insertAction: db.prepare(
      'INSERT INTO actions (violation_id, event_id, action, outcome, detail, time) VALUES (?, ?, ?, ?, ?, ?)',
    ),
    trimActions: db.prepare(`
      DELETE FROM actions WHERE violation_id = @v AND id <= (
        SELECT id FROM actions WHERE violation_id = @v ORDER BY id DESC LIMIT 1 OFFSET @keep)`),
    insertEvent: db.prepare(`
      INSERT INTO events (event_id, time, recorded_at, source, behavior, namespace, pod, binary, verdicts, json)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
    trimEvents: db.prepare('DELETE FROM events WHERE seq <= (SELECT max(seq) FROM events) - ?'),
    addTimeline: db.prepare(`
      INSERT INTO timeline (minute, evaluated, violations, skipped) VALUES (?, ?, ?, ?)
      ON CONFLICT (minute) DO UPDATE SET
        evaluated = evaluated + excluded.evaluated, violations = violations + excluded.violations,
        skipped = skipped + excluded.skipped`),
    pruneTimeline: db.prepare('DELETE FROM timeline WHERE minute < ?'),
    // Both walk the violations_recent index (updated_at, id) from the oldest end.
    pruneViolationsByAge: db.prepare('DELETE FROM violations WHERE updated_at < ?'),
    countViolations: db.prepare<[], { n: number }>('SELECT count(*) AS n FROM violations'),
    pruneOldestViolations: db.prepare<[number]>(
      'DELETE FROM violations WHERE id IN (SELECT id FROM violations ORDER BY updated_at, id LIMIT ?)',
    ),
  };
}
