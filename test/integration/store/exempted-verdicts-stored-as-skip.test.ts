/**
 * A verdict a PolicyException exempted is stored as `skip` with the exception named, not as a
 * violation: real SQLite, verdicts from the real runtime engine with a real exception, the HTTP API,
 * and a database written by the previous schema migrated in place.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { createRuntimeEngine } from '../../../src/engine/runtime/index.js';
import { ExceptionSet } from '../../../src/engine/exceptions/index.js';
import { loadPolicyText } from '../../../src/policy/index.js';
import type { Verdict } from '../../../src/contracts/verdict.js';
import type { RuntimeEvent } from '../../../src/events/types.js';
import { MIGRATIONS } from '../../../src/reports/store/schema.js';
import { openStore, SCHEMA_VERSION, type ReportStore } from '../../../src/reports/store/index.js';
import { createLocalServer } from '../../../src/server/index.js';
import {
  EXEMPTION_EXCEPTION as EXCEPTION,
  EXEMPTION_POLICY as POLICY,
  tetragonExecEvents,
} from './fixtures.js';

function tempDir(): { dir: string; done: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'kr-store-skip-'));
  return { dir, done: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Two real sample events: one in a pod the exception names, one in a pod it does not. */
function twoEvents(): { exempted: RuntimeEvent; violating: RuntimeEvent } {
  const base = tetragonExecEvents().find((e) => e.pod?.name !== undefined && e.process?.binary);
  assert.ok(base, 'a sample exec event in a pod');
  return {
    exempted: { ...base, id: 'ev-debug', pod: { ...base.pod, namespace: 'team', name: 'debug-7' } },
    violating: { ...base, id: 'ev-web', pod: { ...base.pod, namespace: 'team', name: 'web-1' } },
  };
}

function engineVerdicts(events: RuntimeEvent[]): { event: RuntimeEvent; verdicts: Verdict[] }[] {
  const policy = loadPolicyText(POLICY, 'policy.yaml');
  const exception = loadPolicyText(EXCEPTION, 'exception.yaml');
  assert.deepEqual([...policy.errors, ...exception.errors], []);
  const engine = createRuntimeEngine(policy.policies, {
    exceptions: new ExceptionSet(exception.exceptions ?? [], { clusterWideNamespaces: ['*'] }),
  });
  return events.map((event) => ({ event, verdicts: engine.evaluate(event) }));
}

function record(store: ReportStore, events: RuntimeEvent[]): void {
  for (const { event, verdicts } of engineVerdicts(events)) store.recordVerdicts(verdicts, event);
  store.flush();
}

test('an exempted verdict is stored as skip naming the exception; a violation as fail', () => {
  const { dir, done } = tempDir();
  const store = openStore(join(dir, 'store.db'));
  try {
    const { exempted, violating } = twoEvents();
    record(store, [exempted, violating, exempted]);
    const all = store.listViolations();
    assert.equal(all.total, 2);
    const skip = all.items.find((v) => v.resource.name === 'debug-7')!;
    const fail = all.items.find((v) => v.resource.name === 'web-1')!;
    assert.equal(skip.result, 'skip');
    assert.equal(skip.exception, 'ops/debug-pods');
    assert.equal(skip.count, 2);
    assert.equal(fail.result, 'fail');
    assert.equal(fail.exception, undefined);

    assert.deepEqual(
      store.listViolations({ result: 'skip' }).items.map((v) => v.resource.name),
      ['debug-7'],
    );
    assert.deepEqual(
      store.listViolations({ result: 'fail' }).items.map((v) => v.resource.name),
      ['web-1'],
    );
    const b = store.breakdown();
    assert.deepEqual(
      b.byResult.map((r) => [r.key, r.violations, r.occurrences]),
      [
        ['skip', 1, 2],
        ['fail', 1, 1],
      ],
    );
    // A mode counts what it did: the exempted row was neither enforced nor audited.
    assert.deepEqual(
      b.byMode.map((r) => [r.key, r.violations, r.occurrences]),
      [[fail.mode, 1, 1]],
    );
    assert.equal(store.breakdown({ result: 'skip' }).byMode.length, 0);
    // The timeline counts the exempted verdicts apart from the violations.
    const minute = store
      .timeline(Date.now() - 60_000)
      .reduce((acc, bucket) => ({ v: acc.v + bucket.violations, s: acc.s + bucket.skipped }), { v: 0, s: 0 });
    assert.deepEqual(minute, { v: 1, s: 2 });
    const detail = store.getViolation(skip.id)!;
    assert.equal(detail.result, 'skip');
    assert.deepEqual(detail.actions, []);
  } finally {
    store.close();
    done();
  }
});

test('a row follows its latest verdict: exempted after the exception appears, fail once it is gone', () => {
  const store = openStore(':memory:');
  try {
    const { exempted } = twoEvents();
    const [{ verdicts }] = engineVerdicts([exempted]) as [{ event: RuntimeEvent; verdicts: Verdict[] }];
    const { exception: _gone, ...unexempted } = verdicts[0]!;
    store.recordVerdicts([{ ...unexempted, actions: [{ kill: {} }] }], exempted);
    assert.equal(store.listViolations().items[0]!.result, 'fail');
    store.recordVerdicts(verdicts, exempted);
    const row = store.listViolations().items[0]!;
    assert.equal(row.result, 'skip');
    assert.equal(row.exception, 'ops/debug-pods');
    store.recordVerdicts([{ ...unexempted, actions: [] }], exempted);
    const again = store.listViolations().items[0]!;
    assert.equal(again.result, 'fail');
    assert.equal(again.exception, undefined, 'no stale exception name on a violation');
  } finally {
    store.close();
  }
});

test('the HTTP API exposes result and exception and filters by result; a bad result is a 400', async () => {
  const store = openStore(':memory:');
  const uiDir = mkdtempSync(join(tmpdir(), 'kr-ui-'));
  const server = await createLocalServer({
    store,
    listen: { host: '127.0.0.1', port: 0 },
    uiDir,
    ready: () => true,
    policies: () => ({ policies: [], errors: [] }),
    sources: () => [],
  });
  try {
    const { exempted, violating } = twoEvents();
    record(store, [exempted, violating]);
    const get = async (path: string): Promise<{ status: number; body: unknown }> => {
      const res = await fetch(new URL(path, server.url));
      return { status: res.status, body: await res.json() };
    };
    const skipped = await get('/api/violations?result=skip');
    assert.equal(skipped.status, 200);
    const items = (
      skipped.body as { items: { result: string; exception?: string; resource: { name: string } }[] }
    ).items;
    assert.deepEqual(
      items.map((v) => [v.resource.name, v.result, v.exception]),
      [['debug-7', 'skip', 'ops/debug-pods']],
    );
    const summary = (await get('/api/violations/summary')).body as { byResult: { key: string }[] };
    assert.deepEqual(summary.byResult.map((r) => r.key).sort(), ['fail', 'skip']);
    const timeline = (await get('/api/timeline?minutes=5')).body as { buckets: { skipped: number }[] };
    assert.equal(
      timeline.buckets.reduce((n, b) => n + b.skipped, 0),
      1,
    );
    const bad = await get('/api/violations?result=exempt%27%20OR%201=1');
    assert.equal(bad.status, 400);
  } finally {
    await server.close();
    store.close();
    rmSync(uiDir, { recursive: true, force: true });
  }
});

test('a database written by schema 1 is migrated: old exempted rows become skip, the rest stay fail', () => {
  const { dir, done } = tempDir();
  const path = join(dir, 'old.db');
  const old = new BetterSqlite3(path);
  old.exec(MIGRATIONS[0]!.sql);
  old.pragma('user_version = 1');
  const insert = old.prepare(`
    INSERT INTO violations (policy, rule, resource_key, resource_api_version, resource_kind,
      resource_namespace, resource_name, mode, behavior, message, source, count, first_seen, last_seen,
      updated_at, last_event_id)
    VALUES ('no-exec', 'no-exec', ?, 'v1', 'Pod', 'team', ?, 'Enforce', 'process-exec', ?, 'tetragon', 3,
      '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z', 1, 'e')`);
  insert.run('team/debug-7', 'debug-7', 'rule is skipped due to policy exception ops/debug-pods');
  insert.run('team/debug-8', 'debug-8', 'rule is skipped due to policy exception cluster-wide');
  insert.run('team/web-1', 'web-1', 'exec /bin/sh');
  // A message that merely contains the words (event data in a template) is a violation.
  insert.run('team/web-2', 'web-2', 'exec rule is skipped due to policy exception x');
  insert.run('team/web-3', 'web-3', 'rule is skipped due to policy exception x and more');
  old.close();

  const store = openStore(path);
  try {
    assert.equal(SCHEMA_VERSION, 2);
    const rows = store
      .listViolations({}, { limit: 10 })
      .items.map((v) => [v.resource.name, v.result, v.exception ?? null])
      .sort((a, b) => String(a[0]).localeCompare(String(b[0])));
    assert.deepEqual(rows, [
      ['debug-7', 'skip', 'ops/debug-pods'],
      ['debug-8', 'skip', 'cluster-wide'],
      ['web-1', 'fail', null],
      ['web-2', 'fail', null],
      ['web-3', 'fail', null],
    ]);
    assert.equal(store.stats().schemaVersion, 2);
  } finally {
    store.close();
  }
  // Reopening does not migrate again.
  const again = openStore(path);
  try {
    assert.equal(again.listViolations({ result: 'skip' }).total, 2);
  } finally {
    again.close();
    done();
  }
});
