/**
 * The store's read side: violations listed (filter, keyset cursor), one violation with its last event
 * and actions, the overview breakdown, recent events, the timeline and stats. Every read first commits
 * the writes still buffered, so a read sees everything recorded before it.
 */
import type { Database } from 'better-sqlite3';
import type { RuntimeEvent } from '../../events/types.js';
import { SCHEMA_VERSION } from './schema.js';
import { buildWhere, decodeCursor, encodeCursor, type SqlParams } from './query.js';
import { eventFromRow, violationFromRow, type EventRow, type ViolationRow } from './rows.js';
import type { WriteStatus } from './store-writer.js';
import type {
  CountBy,
  Page,
  PageRequest,
  StoredAction,
  StoredEvent,
  StoreStats,
  TimelineBucket,
  ViolationBreakdown,
  ViolationDetail,
  ViolationFilter,
  ViolationSummary,
} from './types.js';

const MAX_PAGE = 500;
const DEFAULT_PAGE = 50;

/** The write side as the reads see it: committed before each read, and reported in the stats. */
export interface PendingWrites {
  flush(): void;
  status(): WriteStatus;
}

export class StoreQueries {
  constructor(
    private readonly db: Database,
    private readonly path: string,
    private readonly writes: PendingWrites,
    private readonly now: () => number,
  ) {}

  listViolations(filter: ViolationFilter = {}, page: PageRequest = {}): Page<ViolationSummary> {
    this.writes.flush();
    const limit = Math.min(Math.max(Math.floor(page.limit ?? DEFAULT_PAGE), 1), MAX_PAGE);
    const where = buildWhere(filter);
    const params: SqlParams = [...where.params];
    let keyset = '';
    let offset = 0;
    if (page.cursor !== undefined) {
      const c = decodeCursor(page.cursor);
      keyset = `${where.sql ? ' AND' : ' WHERE'} (updated_at < ? OR (updated_at = ? AND id < ?))`;
      params.push(c.updatedAt, c.updatedAt, c.id);
    } else if (page.offset !== undefined) {
      offset = Math.max(0, Math.floor(page.offset));
    }
    const rows = this.db
      .prepare<SqlParams, ViolationRow>(
        `SELECT * FROM violations${where.sql}${keyset} ORDER BY updated_at DESC, id DESC LIMIT ? OFFSET ?`,
      )
      .all(...params, limit + 1, offset);
    const total = this.db
      .prepare<SqlParams, { n: number }>(`SELECT count(*) AS n FROM violations${where.sql}`)
      .get(...where.params)!.n;
    const items = rows.slice(0, limit).map(violationFromRow);
    const last = items.at(-1);
    return {
      items,
      total,
      ...(rows.length > limit && last ? { nextCursor: encodeCursor(last.updatedAt, last.id) } : {}),
    };
  }

  getViolation(id: number): ViolationDetail | undefined {
    this.writes.flush();
    const row = this.db
      .prepare<[number], ViolationRow & { json: string }>(
        'SELECT v.*, e.json FROM violations v JOIN violation_events e ON e.violation_id = v.id WHERE v.id = ?',
      )
      .get(id);
    if (!row) return undefined;
    const actions = this.db
      .prepare<
        [number],
        {
          id: number;
          event_id: string | null;
          action: string;
          outcome: string;
          detail: string | null;
          time: string;
        }
      >('SELECT * FROM actions WHERE violation_id = ? ORDER BY id DESC')
      .all(id)
      .map((a): StoredAction => ({
        id: a.id,
        action: a.action as StoredAction['action'],
        outcome: a.outcome as StoredAction['outcome'],
        time: a.time,
        ...(a.detail !== null ? { detail: a.detail } : {}),
        ...(a.event_id !== null ? { eventId: a.event_id } : {}),
      }));
    return { ...violationFromRow(row), lastEvent: JSON.parse(row.json) as RuntimeEvent, actions };
  }

  /** Counts by policy, namespace, resource, behavior and mode, for the overview (honours the filter). */
  breakdown(filter: ViolationFilter = {}, top = 10): ViolationBreakdown {
    this.writes.flush();
    const where = buildWhere(filter);
    const group = (expr: string, onlyViolations = false): CountBy[] => {
      const sql = !onlyViolations
        ? where.sql
        : where.sql === ''
          ? " WHERE result != 'skip'"
          : `${where.sql} AND result != 'skip'`;
      return this.db
        .prepare<SqlParams, CountBy>(
          `SELECT ${expr} AS key, count(*) AS violations, sum(count) AS occurrences
           FROM violations${sql} GROUP BY 1 ORDER BY occurrences DESC, key LIMIT ?`,
        )
        .all(...where.params, top);
    };
    const total = this.db
      .prepare<SqlParams, { violations: number; occurrences: number | null }>(
        `SELECT count(*) AS violations, sum(count) AS occurrences FROM violations${where.sql}`,
      )
      .get(...where.params)!;
    return {
      total: { key: 'total', violations: total.violations, occurrences: total.occurrences ?? 0 },
      byPolicy: group('policy'),
      byNamespace: group("CASE WHEN resource_namespace = '' THEN '(cluster)' ELSE resource_namespace END"),
      byResource: group(
        "CASE WHEN resource_namespace = '' THEN lower(resource_kind) || '/' || resource_name ELSE resource_namespace || '/' || resource_name END",
      ),
      byBehavior: group('behavior'),
      // What each mode did: an exempted row was neither enforced nor audited.
      byMode: group('mode', true),
      byResult: group('result'),
    };
  }

  recentEvents(limit = 100, beforeSeq?: number): StoredEvent[] {
    this.writes.flush();
    const n = Math.min(Math.max(Math.floor(limit), 1), MAX_PAGE);
    const rows =
      beforeSeq === undefined
        ? this.db.prepare<[number], EventRow>('SELECT * FROM events ORDER BY seq DESC LIMIT ?').all(n)
        : this.db
            .prepare<[number, number], EventRow>(
              'SELECT * FROM events WHERE seq < ? ORDER BY seq DESC LIMIT ?',
            )
            .all(beforeSeq, n);
    return rows.map(eventFromRow);
  }

  /**
   * Per-bucket counts from `from` to `to` (unix ms), every bucket present (zeros filled).
   * `stepMinutes` merges minutes into wider buckets for long ranges.
   */
  timeline(from: number, to: number = this.now(), stepMinutes = 1): TimelineBucket[] {
    this.writes.flush();
    const step = Math.max(1, Math.floor(stepMinutes));
    const first = Math.floor(Math.floor(from / 60_000) / step) * step;
    const last = Math.floor(to / 60_000);
    const rows = this.db
      // `step` is a validated integer: inlined so SQLite does integer division (bound numbers may be REAL).
      .prepare<[number, number], { b: number; evaluated: number; violations: number; skipped: number }>(
        `SELECT (minute / ${step}) * ${step} AS b, sum(evaluated) AS evaluated, sum(violations) AS violations,
           sum(skipped) AS skipped
         FROM timeline WHERE minute >= ? AND minute <= ? GROUP BY b ORDER BY b`,
      )
      .all(first, last);
    const byBucket = new Map(rows.map((r) => [r.b, r]));
    const out: TimelineBucket[] = [];
    for (let b = first; b <= last; b += step) {
      const r = byBucket.get(b);
      out.push({
        t: b * 60_000,
        evaluated: r?.evaluated ?? 0,
        violations: r?.violations ?? 0,
        skipped: r?.skipped ?? 0,
      });
    }
    return out;
  }

  stats(): StoreStats {
    this.writes.flush();
    const one = (sql: string): number => this.db.prepare<[], { n: number | null }>(sql).get()!.n ?? 0;
    return {
      path: this.path,
      schemaVersion: SCHEMA_VERSION,
      violations: one('SELECT count(*) AS n FROM violations'),
      occurrences: one('SELECT sum(count) AS n FROM violations'),
      actions: one('SELECT count(*) AS n FROM actions'),
      events: one('SELECT count(*) AS n FROM events'),
      timelineBuckets: one('SELECT count(*) AS n FROM timeline'),
      ...this.writes.status(),
    };
  }
}
