import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '../../../src/reports/store/index.js';
import { createLocalServer, ServerConfigError } from '../../../src/server/index.js';
import type { SourceStats } from '../../../src/sources/types.js';
import { tetragonExecEvents, verdictFor } from '../store/fixtures.js';

const events = tetragonExecEvents();

function rawGet(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function withServer(
  fn: (ctx: {
    url: string;
    server: Awaited<ReturnType<typeof createLocalServer>>;
    state: { ready: boolean; eventsIn: number };
  }) => Promise<void>,
  extra: Partial<Parameters<typeof createLocalServer>[0]> = {},
): Promise<void> {
  const store = openStore(':memory:');
  const uiDir = mkdtempSync(join(tmpdir(), 'kr-ui-'));
  mkdirSync(join(uiDir, 'assets'));
  writeFileSync(join(uiDir, 'index.html'), '<!doctype html><title>kyverno-runtime</title>');
  writeFileSync(join(uiDir, 'assets', 'app-abc123.js'), 'console.log(1)');
  const state = { ready: false, eventsIn: 0 };
  const server = await createLocalServer({
    store,
    listen: { host: '127.0.0.1', port: 0 },
    uiDir,
    ready: () => state.ready,
    policies: () => ({
      policies: [
        {
          name: 'restrict-exec',
          kind: 'ClusterRuntimePolicy',
          mode: 'Audit',
          rules: [{ name: 'no-shell', type: 'restrict', behaviors: ['process-exec'], actions: [] }],
          source: { file: 'policies/exec.yaml', line: 1 },
        },
      ],
      errors: [{ file: 'policies/bad.yaml', line: 7, col: 3, message: 'unknown field "restrictt"' }],
    }),
    sources: (): SourceStats[] => [
      {
        name: 'tail',
        kind: 'file',
        status: 'running',
        eventsIn: state.eventsIn,
        dropped: { 'malformed-json': 2 },
      },
    ],
    ...extra,
  });
  try {
    for (const e of events) store.recordVerdicts([verdictFor(e)], e);
    await fn({ url: server.url, server, state });
  } finally {
    await server.close();
    store.close();
    rmSync(uiDir, { recursive: true, force: true });
  }
}

test('probes and Prometheus metrics', async () => {
  await withServer(async ({ url, state }) => {
    assert.equal((await fetch(`${url}healthz`)).status, 200);
    assert.equal((await fetch(`${url}readyz`)).status, 503);
    state.ready = true;
    assert.equal((await fetch(`${url}readyz`)).status, 200);
    const m = await fetch(`${url}metrics`);
    assert.match(m.headers.get('content-type') ?? '', /text\/plain/);
    const text = await m.text();
    assert.match(text, /# TYPE kyverno_runtime_events_in_total counter/);
    assert.match(text, /kyverno_runtime_store_flush_duration_seconds_count \d+/);
  });
});

test('violations: filters, paging, details, and clear 400s', async () => {
  await withServer(async ({ url }) => {
    const list = (await (await fetch(`${url}api/violations?limit=2`)).json()) as {
      items: { id: number; resource: { name: string; namespace?: string } }[];
      total: number;
      nextCursor?: string;
    };
    assert.equal(list.items.length, 2);
    assert.ok(list.total > 2 && list.nextCursor);
    const next = (await (
      await fetch(`${url}api/violations?limit=2&cursor=${list.nextCursor}`)
    ).json()) as typeof list;
    assert.notDeepEqual(
      next.items.map((v) => v.id),
      list.items.map((v) => v.id),
    );
    const pod = events.find((e) => e.pod?.name)!.pod!;
    const filtered = (await (
      await fetch(`${url}api/violations?namespace=${pod.namespace}&pod=${encodeURIComponent(pod.name!)}`)
    ).json()) as typeof list;
    assert.ok(filtered.total >= 1 && filtered.items.every((v) => v.resource.name === pod.name));
    const detail = (await (await fetch(`${url}api/violations/${list.items[0]!.id}`)).json()) as {
      lastEvent: { id: string; raw?: unknown };
      actions: unknown[];
    };
    assert.ok(detail.lastEvent.id && Array.isArray(detail.actions));
    assert.equal((await fetch(`${url}api/violations/999999`)).status, 404);
    const bad = await fetch(`${url}api/violations?behavior=teleport`);
    assert.equal(bad.status, 400);
    assert.match(((await bad.json()) as { error: { message: string } }).error.message, /behavior/);
    assert.equal((await fetch(`${url}api/violations?cursor=nope`)).status, 400);
    assert.equal((await fetch(`${url}api/violations?limit=100000`)).status, 400);
    const summary = (await (await fetch(`${url}api/violations/summary`)).json()) as {
      total: { occurrences: number };
      byBehavior: { key: string }[];
    };
    assert.equal(summary.total.occurrences, events.length);
    const tl = (await (await fetch(`${url}api/timeline?minutes=10`)).json()) as {
      buckets: { violations: number }[];
    };
    assert.equal(tl.buckets.length, 10);
    assert.equal(
      tl.buckets.reduce((n, b) => n + b.violations, 0),
      events.length,
    );
    const ev = (await (await fetch(`${url}api/events?limit=3`)).json()) as { items: unknown[] };
    assert.equal(ev.items.length, 3);
  });
});

test('policies with load errors, and sources with events/s', async () => {
  const serverStartedAt = Date.now();
  await withServer(async ({ url, state }) => {
    const p = (await (await fetch(`${url}api/policies`)).json()) as {
      policies: { name: string }[];
      errors: { file: string; line: number; col: number }[];
    };
    assert.equal(p.policies[0]!.name, 'restrict-exec');
    assert.deepEqual([p.errors[0]!.file, p.errors[0]!.line, p.errors[0]!.col], ['policies/bad.yaml', 7, 3]);
    await fetch(`${url}api/sources`);
    const countedFrom = Date.now();
    state.eventsIn = 500;
    await new Promise((r) => setTimeout(r, 250));
    const askedAt = Date.now();
    const s = (await (await fetch(`${url}api/sources`)).json()) as {
      sources: { name: string; eventsPerSecond: number; dropped: Record<string, number> }[];
    };
    const answeredAt = Date.now();
    // The rate is 500 events over the time since the oldest sample (taken at 0 after the server
    // started, before the count moved) and the sample of this request. Bounded by when things
    // happened rather than by a fixed number, so a slow machine cannot break it: at least 500 over
    // all this test waited, at most 500 over the pause (±1 ms for Date.now() rounding).
    const rate = s.sources[0]!.eventsPerSecond;
    const lowest = 500 / ((answeredAt - serverStartedAt + 1) / 1000);
    const highest = 500 / ((askedAt - countedFrom - 1) / 1000);
    assert.ok(rate >= lowest && rate <= highest, `rate ${rate} outside [${lowest}, ${highest}]`);
    assert.equal(s.sources[0]!.dropped['malformed-json'], 2);
  });
});

test('SSE stream delivers published verdicts and drops a client that stops reading', async () => {
  await withServer(
    async ({ url, server }) => {
      const ac = new AbortController();
      const res = await fetch(`${url}api/stream`, { signal: ac.signal });
      assert.equal(res.headers.get('content-type'), 'text/event-stream; charset=utf-8');
      const reader = res.body!.getReader();
      const decoder = new TextDecoder();
      let seen = '';
      server.publish([verdictFor(events[0]!, { policy: 'live-policy' })]);
      while (!seen.includes('live-policy') || !seen.includes(': heartbeat')) {
        const { value, done } = await reader.read();
        if (done) break;
        seen += decoder.decode(value);
      }
      assert.match(seen, /event: verdict\ndata: \{.*"policy":"live-policy"/);
      assert.match(seen, /: heartbeat/);
      ac.abort();

      // A client that never reads: its socket buffer fills, then its bounded queue, then it is dropped.
      const stalled = await new Promise<import('node:http').IncomingMessage>((resolve) =>
        request(`${url}api/stream`, (r) => {
          r.pause();
          resolve(r);
        }).end(),
      );
      const closed = new Promise<void>((resolve) => stalled.socket.on('close', () => resolve()));
      const big = verdictFor(events[0]!, { message: 'x'.repeat(16 * 1024) });
      for (let i = 0; i < 2000; i++) server.publish([big]);
      await closed;
      const metrics = await (await fetch(`${url}metrics`)).text();
      assert.match(metrics, /kyverno_runtime_sse_clients_dropped_total\{reason="slow"\} [1-9]/);
    },
    { stream: { heartbeatMs: 50, maxBuffered: 8 } },
  );
});

test('auth: non-loopback needs a token; the token guards /api and /metrics; Host is checked', async () => {
  const store = openStore(':memory:');
  try {
    await assert.rejects(
      createLocalServer({
        store,
        listen: { host: '0.0.0.0', port: 0 },
        ready: () => true,
        policies: () => ({ policies: [], errors: [] }),
        sources: () => [],
      }),
      ServerConfigError,
    );
  } finally {
    store.close();
  }
  await withServer(
    async ({ url }) => {
      assert.equal((await fetch(`${url}api/violations`)).status, 401);
      assert.equal((await fetch(`${url}metrics`)).status, 401);
      assert.equal(
        (await fetch(`${url}api/violations`, { headers: { authorization: 'Bearer wrong' } })).status,
        401,
      );
      assert.equal(
        (await fetch(`${url}api/violations`, { headers: { authorization: 'Bearer s3cret' } })).status,
        200,
      );
      assert.equal((await fetch(`${url}healthz`)).status, 200, 'probes stay open');
      assert.equal((await fetch(url)).status, 200, 'the dashboard shell holds no data');
    },
    { auth: { token: 's3cret' } },
  );
  await withServer(async ({ url }) => {
    const rebound = await rawGet(`${url}api/violations`, { host: 'attacker.example:8090' });
    assert.equal(rebound.status, 403, 'DNS-rebinding Host refused');
    assert.equal((await rawGet(`${url}api/violations`, { host: 'localhost:8090' })).status, 200);
  });
});

test('dashboard assets: exact files, SPA fallback, no traversal, caching', async () => {
  await withServer(async ({ url }) => {
    const index = await fetch(`${url}violations/12?policy=x`);
    assert.equal(index.status, 200);
    assert.match(await index.text(), /kyverno-runtime/);
    assert.equal(index.headers.get('cache-control'), 'no-cache');
    assert.match(index.headers.get('content-security-policy') ?? '', /default-src 'self'/);
    const js = await fetch(`${url}assets/app-abc123.js`);
    assert.equal(js.status, 200);
    assert.match(js.headers.get('cache-control') ?? '', /immutable/);
    assert.equal((await fetch(`${url}assets/missing.js`)).status, 404);
    assert.equal((await rawGet(`${url}assets/..%2f..%2fpackage.json`)).status, 404);
    assert.equal((await fetch(`${url}api/nothing-here`)).status, 404);
    const etag = js.headers.get('etag')!;
    assert.equal(
      (await fetch(`${url}assets/app-abc123.js`, { headers: { 'if-none-match': etag } })).status,
      304,
    );
  });
});
