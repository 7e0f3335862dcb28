/**
 * One hostile record must never switch the store off. The attack: a Falco alert whose output_fields
 * hold a value nested 100 000 deep (600 KB, under every body limit). JSON.parse takes it, but the
 * store's JSON.stringify threw, the batch was retried forever and every later write joined it.
 * Replayed through the real `run --source stdin` process and the real SQLite file, then against
 * the store itself (a poisoned row beside good ones; a database that stays full). Also: the files
 * holding command lines are private, and a batch of bad records counts every record.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, describe, it } from 'node:test';
import type { Database } from 'better-sqlite3';
import type { Verdict } from '../../src/contracts/verdict.js';
import type { RuntimeEvent } from '../../src/events/types.js';
import { registry } from '../../src/observability/metrics.js';
import { openStore, type ReportStore } from '../../src/reports/store/index.js';
import { createHttpSource } from '../../src/sources/http/index.js';

const repoRoot = resolve(import.meta.dirname, '../..');
const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'kr-poison-'));
  dirs.push(d);
  return d;
}

async function metric(name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = registry.getSingleMetric(name);
  if (!m) return 0;
  const { values } = await m.get();
  return values
    .filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x))
    .reduce((s, v) => s + v.value, 0);
}

/** `{"a":{"a":…}}` nested `depth` deep, built as text (building the object would itself recurse). */
function nestedJson(depth: number): string {
  return '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
}

function falcoShellAlert(i: number, extraField = ''): string {
  const time = new Date(Date.UTC(2026, 0, 1, 0, 0, 0, i)).toISOString();
  return (
    `{"rule":"Terminal shell in container","priority":"Notice","time":"${time}",` +
    `"output":"shell ${i}","output_fields":{"evt.type":"execve","proc.exepath":"/bin/sh",` +
    `"proc.cmdline":"sh -c echo ${i}","proc.pid":${1000 + i},"evt.hostname":"node-1"${extraField}}}`
  );
}

const shellPolicy = JSON.stringify({
  apiVersion: 'runtime.kyverno.io/v1alpha1',
  kind: 'ClusterRuntimePolicy',
  metadata: { name: 'no-shells' },
  spec: {
    failureAction: 'Audit',
    rules: [
      {
        name: 'no-shell',
        match: { any: [{ resources: { kinds: ['Node'] } }] },
        restrict: {
          message: 'shell {{ event.process.binary }}',
          behaviors: ['process-exec'],
          pattern: { event: { process: { binary: '*/sh' } } },
        },
      },
    ],
  },
});

describe('a 100 000-deep Falco alert through run --source stdin', () => {
  it('is evaluated with its raw replaced, and every later alert is still saved', async () => {
    const dir = tempDir();
    const storeDir = join(dir, 'state'); // created by run: must come out 0700
    const db = join(storeDir, 'state.db');
    const log = join(storeDir, 'run.log');
    writeFileSync(join(dir, 'policy.json'), shellPolicy);
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        join(repoRoot, 'src/cli/main.ts'),
        'run',
        '--source',
        'stdin',
        '--policies',
        join(dir, 'policy.json'),
        '--db',
        db,
        '--log-file',
        log,
        '--listen',
        'off',
        '--mode',
        'audit',
      ],
      { cwd: repoRoot, stdio: ['pipe', 'ignore', 'pipe'] },
    );
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const deep = falcoShellAlert(0, `,"attacker":${nestedJson(100_000)}`);
    assert.ok(deep.length > 600_000, 'the attack record is the 600 KB one');
    const later = Array.from({ length: 50 }, (_, i) => falcoShellAlert(i + 1));
    child.stdin.end([deep, ...later].join('\n') + '\n');
    const [code] = (await once(child, 'exit')) as [number | null];
    assert.equal(code, 0, stderr);

    const store = openStore(db);
    try {
      const stats = store.stats();
      assert.equal(stats.occurrences, 51, 'the poisoned alert and all 50 later ones are saved');
      assert.equal(stats.lastError, undefined);
      const events = store.recentEvents(100);
      assert.equal(events.length, 51);
      const poisoned = events.find((e) => e.event.process?.pid === 1000);
      assert.ok(poisoned, 'the 100 000-deep alert was evaluated and stored');
      assert.deepEqual(poisoned.event.raw, { truncated: 'too-deep', limit: 64 });
    } finally {
      store.close();
    }
    assert.equal(statSync(storeDir).mode & 0o777, 0o700, 'store directory');
    assert.equal(statSync(db).mode & 0o777, 0o600, 'state.db');
    assert.equal(statSync(log).mode & 0o777, 0o600, 'JSON log');
  });
});

function verdictFor(event: RuntimeEvent): Verdict {
  return {
    policy: 'p',
    rule: 'r',
    mode: 'Audit',
    behavior: event.behavior,
    message: 'm',
    time: event.time,
    eventId: event.id,
    event,
    resource: { apiVersion: 'v1', kind: 'Node', name: `node-${event.id}` },
    synthetic: true,
    actions: [],
  } satisfies Verdict;
}

function goodEvent(i: number): RuntimeEvent {
  return {
    id: `good-${i}`,
    time: '2026-01-01T00:00:00Z',
    source: 'test',
    behavior: 'process-exec',
    process: { pid: i, binary: '/bin/sh' },
  };
}

/** What reaches the store when nothing guards the ingest edge: raw nested beyond JSON.stringify. */
function poisonedEvent(): RuntimeEvent {
  return { ...goodEvent(-1), id: 'poison', raw: JSON.parse(nestedJson(100_000)) as unknown };
}

function record(store: ReportStore, event: RuntimeEvent): void {
  store.recordVerdicts([verdictFor(event)], event);
}

describe('the store isolates a row that cannot be written', () => {
  it('drops the poisoned row alone, counted; its batch and every later batch are written', async () => {
    const before = await metric('kyverno_runtime_store_rows_dropped_total', { reason: 'unwritable' });
    const store = openStore(':memory:', { onError: () => undefined });
    try {
      record(store, goodEvent(1));
      record(store, poisonedEvent());
      record(store, goodEvent(2));
      store.flush(); // one batch: good, poisoned, good
      for (let i = 3; i <= 10; i++) record(store, goodEvent(i));
      const stats = store.stats();
      assert.equal(stats.occurrences, 10, 'every good row of the batch and after it');
      assert.equal(stats.pendingWrites, 0, 'nothing left waiting for a retry');
      assert.equal(stats.lastError, undefined);
      assert.equal(
        (await metric('kyverno_runtime_store_rows_dropped_total', { reason: 'unwritable' })) - before,
        1,
      );
    } finally {
      store.close();
    }
  });

  it('retries a full database a bounded number of times, then drops and counts the rows, then recovers', async () => {
    const dir = tempDir();
    const failedBefore = await metric('kyverno_runtime_store_rows_dropped_total', {
      reason: 'write-failed',
    });
    const store = openStore(join(dir, 'state.db'), {
      maxWriteRetries: 2,
      retryBackoffMs: 1,
      onError: () => undefined,
    });
    const db = (store as unknown as { db: Database }).db;
    try {
      record(store, goodEvent(1));
      store.flush();
      // The disk is full from here: no page may be added.
      const pages = db.pragma('page_count', { simple: true }) as number;
      db.pragma(`max_page_count = ${pages}`);
      for (let i = 0; i < 200; i++) record(store, { ...goodEvent(100 + i), raw: { pad: 'x'.repeat(2000) } });
      store.flush();
      assert.equal(store.stats().pendingWrites, 200, 'kept for a retry after the first failure');
      store.flush();
      store.flush(); // third failure: beyond maxWriteRetries = 2
      assert.equal(store.stats().pendingWrites, 0, 'given up: memory does not grow with a full disk');
      assert.equal(
        (await metric('kyverno_runtime_store_rows_dropped_total', { reason: 'write-failed' })) - failedBefore,
        200,
        'every dropped row counted',
      );
      db.pragma('max_page_count = 1073741823');
      record(store, goodEvent(2));
      assert.equal(store.stats().occurrences, 2, 'writes resume once the disk has room');
    } finally {
      store.close();
    }
  });
});

describe('the store files are private', () => {
  it('creates state.db, -wal and -shm 0600 and narrows a world-readable file left behind', () => {
    const dir = tempDir();
    const db = join(dir, 'fresh', 'state.db');
    const store = openStore(db);
    try {
      record(store, goodEvent(1));
      store.flush();
      assert.equal(statSync(join(dir, 'fresh')).mode & 0o777, 0o700);
      for (const f of [db, `${db}-wal`, `${db}-shm`]) assert.equal(statSync(f).mode & 0o777, 0o600, f);
    } finally {
      store.close();
    }
    chmodSync(db, 0o644);
    openStore(db).close();
    assert.equal(statSync(db).mode & 0o777, 0o600, 'an existing 0644 file is narrowed');
  });
});

describe('a batch of bad records over real HTTP', () => {
  const src = createHttpSource({ port: 0, authTokens: ['t0ken'], bodyLimitBytes: 1024 * 1024 });
  const events: RuntimeEvent[] = [];
  after(() => src.stop());

  async function post(body: string, contentType: string): Promise<{ status: number; json: unknown }> {
    const { port } = src.address()!;
    const req = request({
      host: '127.0.0.1',
      port,
      method: 'POST',
      path: '/events',
      headers: { 'content-type': contentType, authorization: 'Bearer t0ken' },
    });
    req.end(body);
    const [res] = (await once(req, 'response')) as [import('node:http').IncomingMessage];
    let text = '';
    for await (const c of res) text += (c as Buffer).toString();
    return { status: res.statusCode!, json: JSON.parse(text) as unknown };
  }

  it('counts each of 1000 bad records of a JSON array, with its index', async () => {
    await src.start((e) => void events.push(e));
    const before = await metric('kyverno_runtime_events_dropped_total', { reason: 'unknown-format' });
    const body = JSON.stringify(Array.from({ length: 1000 }, (_, i) => ({ junk: i })));
    const res = await post(body, 'application/json');
    assert.equal(res.status, 400);
    const json = res.json as { skippedTotal: number; skipped: { at: string }[] };
    assert.equal(json.skippedTotal, 1000);
    assert.equal(json.skipped[1]?.at, 'index 1');
    assert.equal(
      (await metric('kyverno_runtime_events_dropped_total', { reason: 'unknown-format' })) - before,
      1000,
    );
    assert.equal(src.stats().dropped['unknown-format'], 1000);
  });

  it('counts each of 1000 malformed NDJSON lines, with its line number', async () => {
    const before = await metric('kyverno_runtime_events_dropped_total', { reason: 'malformed-json' });
    const body = Array.from({ length: 1000 }, (_, i) => `{"broken": ${i}`).join('\n');
    const res = await post(body, 'application/x-ndjson');
    assert.equal(res.status, 400);
    const json = res.json as { skippedTotal: number; skipped: { at: string }[] };
    assert.equal(json.skippedTotal, 1000);
    assert.equal(json.skipped[0]?.at, 'line 1');
    assert.equal(
      (await metric('kyverno_runtime_events_dropped_total', { reason: 'malformed-json' })) - before,
      1000,
    );
    assert.equal(events.length, 0);
  });
});
