import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import BetterSqlite3 from 'better-sqlite3';
import {
  openStore,
  SCHEMA_VERSION,
  StoreSchemaError,
  CursorError,
} from '../../../src/reports/store/index.js';
import { tetragonExecEvents, verdictFor } from './fixtures.js';

function tempDb(): { path: string; done: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'kr-store-'));
  return { path: join(dir, 'store.db'), done: () => rmSync(dir, { recursive: true, force: true }) };
}

const events = tetragonExecEvents();

test('violations aggregate per (policy, rule, resource) with counts and first/last seen', () => {
  const { path, done } = tempDb();
  const store = openStore(path);
  try {
    const a = events.find((e) => e.pod?.name !== undefined);
    assert.ok(a);
    const first = { ...a, time: '2026-11-26T10:00:00Z' };
    const second = { ...a, id: `${a.id}-again`, time: '2026-11-26T10:05:00Z' };
    store.recordVerdicts([verdictFor(first)], first);
    store.recordVerdicts([verdictFor(second)], second);
    store.recordVerdicts([verdictFor(second, { rule: 'other-rule' })], second);
    const page = store.listViolations({ policy: 'restrict-exec', rule: 'no-shell' });
    assert.equal(page.total, 1);
    const v = page.items[0]!;
    assert.equal(v.count, 2);
    assert.equal(v.firstSeen, '2026-11-26T10:00:00Z');
    assert.equal(v.lastSeen, '2026-11-26T10:05:00Z');
    assert.equal(v.lastEventId, second.id);
    assert.equal(v.resource.namespace, 'default');
    assert.equal(v.resource.name, a.pod?.name);
    assert.equal(v.process?.binary, a.process?.binary);
    assert.equal(store.listViolations().total, 2);
    const detail = store.getViolation(v.id)!;
    assert.equal(detail.lastEvent.id, second.id);
    assert.deepEqual(detail.lastEvent.raw, a.raw, 'the raw event is kept for forensics');
  } finally {
    store.close();
    done();
  }
});

test('writes survive a restart and a hard kill after the tick committed', () => {
  const { path, done } = tempDb();
  try {
    // A child process records and is SIGKILLed right after its writes were committed (one tick later).
    const script = `
      import { openStore } from './src/reports/store/index.ts';
      import { tetragonExecEvents, verdictFor } from './test/integration/store/fixtures.ts';
      const store = openStore(${JSON.stringify(path)});
      for (const e of tetragonExecEvents()) store.recordVerdicts([verdictFor(e)], e);
      store.recordEvaluated(1000);
      setImmediate(() => setImmediate(() => process.kill(process.pid, 'SIGKILL')));
    `;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      encoding: 'utf8',
    });
    assert.equal(r.signal, 'SIGKILL', r.stderr);
    const store = openStore(path);
    try {
      const s = store.stats();
      assert.equal(s.occurrences, events.length);
      assert.equal(s.events, events.length);
      const tl = store.timeline(Date.now() - 5 * 60_000);
      assert.equal(
        tl.reduce((n, b) => n + b.evaluated, 0),
        1000,
      );
      assert.equal(
        tl.reduce((n, b) => n + b.violations, 0),
        events.length,
      );
    } finally {
      store.close();
    }
  } finally {
    done();
  }
});

test('filters, text search and keyset paging', () => {
  let t = 1_000_000;
  const clocked = openStore(':memory:', { now: () => (t += 1000) });
  try {
    for (const [i, e] of events.entries()) {
      clocked.recordVerdicts(
        [verdictFor(e, { policy: i % 2 ? 'odd' : 'even', mode: i % 3 ? 'Audit' : 'Enforce' })],
        e,
      );
      clocked.flush();
    }
    const all = clocked.listViolations({}, { limit: 500 });
    // Newest first.
    assert.ok(all.items.every((v, i, a) => i === 0 || a[i - 1]!.updatedAt >= v.updatedAt));
    const seen: number[] = [];
    let cursor: string | undefined;
    do {
      const p = clocked.listViolations({}, { limit: 3, ...(cursor ? { cursor } : {}) });
      seen.push(...p.items.map((v) => v.id));
      cursor = p.nextCursor;
    } while (cursor);
    assert.deepEqual(
      seen,
      all.items.map((v) => v.id),
      'keyset pages cover every row once, in order',
    );
    assert.deepEqual(
      clocked.listViolations({}, { limit: 2, offset: 2 }).items.map((v) => v.id),
      all.items.slice(2, 4).map((v) => v.id),
    );
    const odd = clocked.listViolations({ policy: 'odd' });
    assert.ok(odd.total > 0 && odd.items.every((v) => v.policy === 'odd'));
    const enforce = clocked.listViolations({ mode: 'Enforce' });
    assert.ok(enforce.total > 0 && enforce.items.every((v) => v.mode === 'Enforce'));
    const pod = events.find((e) => e.pod?.name)!.pod!;
    const ns = clocked.listViolations({ namespace: pod.namespace!, pod: pod.name! });
    assert.ok(ns.total > 0 && ns.items.every((v) => v.resource.name === pod.name));
    const bin = events[0]!.process!.binary!;
    const q = clocked.listViolations({ q: bin.toUpperCase().slice(-6) });
    assert.ok(
      q.items.some((v) => v.process?.binary === bin),
      'search is case-insensitive',
    );
    assert.equal(clocked.listViolations({ q: '100%_' }).total, 0, 'LIKE wildcards are literal');
    assert.equal(clocked.listViolations({ since: t + 1 }).total, 0);
    const b = clocked.breakdown();
    assert.equal(b.total.occurrences, events.length);
    assert.equal(
      b.byPolicy.reduce((n, c) => n + c.occurrences, 0),
      events.length,
    );
    assert.ok(b.byBehavior.some((c) => c.key === 'process-exec'));
    assert.throws(() => clocked.listViolations({}, { cursor: 'garbage' }), CursorError);
  } finally {
    clocked.close();
  }
});

test('recent events form a bounded ring; actions are linked to their violation', () => {
  const store = openStore(':memory:', { maxEvents: 5, maxActionsPerViolation: 3 });
  try {
    for (const e of events) store.recordVerdicts([verdictFor(e, { mode: 'Enforce' })], e);
    const recent = store.recentEvents(100);
    assert.equal(recent.length, 5);
    assert.equal(recent[0]!.eventId, events.at(-1)!.id, 'newest first');
    assert.deepEqual(
      recent.map((r) => r.eventId),
      events
        .slice(-5)
        .map((e) => e.id)
        .reverse(),
    );
    const v = verdictFor(events[0]!, { mode: 'Enforce' });
    for (let i = 0; i < 5; i++) {
      store.recordActionOutcome(v, {
        action: 'kill',
        outcome: i === 4 ? 'failed' : 'succeeded',
        detail: `try ${i}`,
        time: new Date().toISOString(),
      });
    }
    // An outcome for a violation the store never saw is counted, not invented.
    store.recordActionOutcome(
      { ...v, rule: 'never-recorded' },
      { action: 'kill', outcome: 'succeeded', time: '' },
    );
    const id = store.listViolations({ pod: events[0]!.pod!.name! }).items[0]!.id;
    const d = store.getViolation(id)!;
    assert.equal(d.actions.length, 3, 'kept the last 3');
    assert.equal(d.actions[0]!.outcome, 'failed');
    assert.equal(d.actions[0]!.detail, 'try 4');
    assert.equal(store.stats().actions, 3);
  } finally {
    store.close();
  }
});

test('oversized raw events are slimmed, not stored whole', () => {
  const store = openStore(':memory:', { maxEventBytes: 2048 });
  try {
    const e = { ...events[0]!, raw: { blob: 'x'.repeat(100_000) } };
    store.recordVerdicts([verdictFor(e)], e);
    const d = store.getViolation(store.listViolations().items[0]!.id)!;
    assert.deepEqual((d.lastEvent.raw as { truncated: boolean }).truncated, true);
    assert.equal(d.lastEvent.process?.binary, e.process?.binary);
  } finally {
    store.close();
  }
});

test('schema is versioned with user_version and a newer schema is refused', () => {
  const { path, done } = tempDb();
  try {
    openStore(path).close();
    const raw = new BetterSqlite3(path);
    assert.equal(raw.pragma('user_version', { simple: true }), SCHEMA_VERSION);
    assert.equal(raw.pragma('journal_mode', { simple: true }), 'wal');
    raw.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    raw.close();
    assert.throws(() => openStore(path), StoreSchemaError);
  } finally {
    done();
  }
});

test('timeline buckets per minute with zeros filled and wider steps', () => {
  let now = Date.UTC(2026, 10, 26, 12, 0, 30);
  const store = openStore(':memory:', { now: () => now });
  try {
    store.recordEvaluated(10);
    store.recordVerdicts([verdictFor(events[0]!)], events[0]!);
    now += 3 * 60_000;
    store.recordEvaluated(5);
    const tl = store.timeline(now - 3 * 60_000, now);
    assert.deepEqual(
      tl.map((b) => [b.evaluated, b.violations]),
      [
        [10, 1],
        [0, 0],
        [0, 0],
        [5, 0],
      ],
    );
    assert.equal(tl[0]!.t, Date.UTC(2026, 10, 26, 12, 0));
    const wide = store.timeline(now - 3 * 60_000, now, 2);
    assert.deepEqual(
      wide.map((b) => b.evaluated),
      [10, 5],
    );
  } finally {
    store.close();
  }
});
