/**
 * HTTP ingest: Falco alerts/s into the real receiver (fastify + bearer auth + payload parsing +
 * pipeline + RuntimeEngine with the docs/examples policies), with keep-alive (autocannon, 10
 * connections) and without (Falco's http_output default: a new connection per alert; Node client,
 * 10 concurrent), and p50/p99 accept latency. Baselines in the same run: a bare node:http server
 * that only JSON.parses the body, and the receiver with a no-op engine (ingest cost alone). The server runs in a child process so the load generator does
 * not share its event loop.
 *
 * Run: npx tsx bench/ingest-http.ts
 */
import { fork, type ChildProcess } from 'node:child_process';
import { createServer, request, Agent } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import autocannon from 'autocannon';
import { createRuntimeEngine } from '../src/engine/runtime/index.js';
import { createPipeline } from '../src/pipeline/index.js';
import { loadPolicies } from '../src/policy/index.js';
import { createHttpSource } from '../src/sources/http/index.js';
import { percentile, printTable } from './support.js';

const SECONDS = 5;
const CONCURRENCY = 10;
const TOKEN = 'bench-token-0123456789';
const alert = readFileSync(new URL('../../shared/samples/falco/falco-alerts.jsonl', import.meta.url), 'utf8')
  .split('\n')
  .find((l) => l.includes('Terminal shell in container'))!;

type ServerKind = 'receiver' | 'receiver-noop' | 'bare';

async function serve(kind: ServerKind): Promise<void> {
  process.on('disconnect', () => process.exit(0)); // never outlive the bench (no orphaned servers)
  if (kind === 'bare') {
    let n = 0;
    const srv = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        JSON.parse(Buffer.concat(chunks).toString('utf8'));
        n++;
        res.writeHead(202, { 'content-type': 'application/json' }).end('{}');
      });
    });
    srv.listen(0, '127.0.0.1', () => process.send!({ port: (srv.address() as AddressInfo).port }));
    process.on('message', () => process.send!({ stats: { accepted: n, evaluated: n, dropped: {} } }));
    return;
  }
  const { policies } = await loadPolicies([new URL('../docs/examples', import.meta.url).pathname]);
  // receiver-noop isolates ingest cost (fastify, auth, parsing, adapter, queue) from policy evaluation.
  const engine = kind === 'receiver' ? createRuntimeEngine(policies) : { evaluate: () => [] };
  const pipeline = createPipeline({ engine, queueSize: 10_000 });
  const src = createHttpSource({ port: 0, authTokens: [TOKEN], rateLimit: false });
  await pipeline.attach(src);
  process.send!({ port: src.address()!.port });
  process.on('message', () => {
    void pipeline.drain().then(() => {
      const p = pipeline.stats();
      process.send!({
        stats: { accepted: src.stats().eventsIn, evaluated: p.evaluated, dropped: p.dropped },
      });
    });
  });
}

function startServer(kind: ServerKind): Promise<{ child: ChildProcess; port: number }> {
  const child = fork(new URL(import.meta.url).pathname, ['--serve', kind], { stdio: 'inherit' });
  return new Promise((resolve) =>
    child.once('message', (m: { port: number }) => resolve({ child, port: m.port })),
  );
}

function serverStats(
  child: ChildProcess,
): Promise<{ accepted: number; evaluated: number; dropped: Record<string, number> }> {
  return new Promise((resolve) => {
    child.once(
      'message',
      (m: { stats: { accepted: number; evaluated: number; dropped: Record<string, number> } }) =>
        resolve(m.stats),
    );
    child.send('stats');
  });
}

async function keepAlive(
  port: number,
  seconds = SECONDS,
): Promise<{ rps: number; p50: number; p99: number; errors: number }> {
  const r = await autocannon({
    url: `http://127.0.0.1:${port}/falco`,
    method: 'POST',
    connections: CONCURRENCY,
    duration: seconds,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
    body: alert,
  });
  return { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, errors: r.errors + r.non2xx };
}

async function noKeepAlive(
  port: number,
  seconds = SECONDS,
): Promise<{ rps: number; p50: number; p99: number; errors: number }> {
  const agent = new Agent({ keepAlive: false });
  const lat: number[] = [];
  let errors = 0;
  const end = performance.now() + seconds * 1000;
  const one = () =>
    new Promise<void>((resolve) => {
      const t0 = performance.now();
      const req = request(
        {
          host: '127.0.0.1',
          port,
          path: '/falco',
          method: 'POST',
          agent,
          headers: {
            'content-type': 'application/json',
            authorization: `Bearer ${TOKEN}`,
            connection: 'close',
          },
        },
        (res) => {
          res.resume();
          res.on('end', () => {
            if (res.statusCode !== 202) errors++;
            lat.push(performance.now() - t0);
            resolve();
          });
        },
      );
      req.on('error', () => {
        errors++;
        resolve();
      });
      req.end(alert);
    });
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < end) await one();
    }),
  );
  lat.sort((a, b) => a - b);
  return { rps: lat.length / seconds, p50: percentile(lat, 50), p99: percentile(lat, 99), errors };
}

async function main(): Promise<void> {
  const rows = [
    ['server', 'connection', 'alerts/s', 'p50 ms', 'p99 ms', 'errors', 'accepted', 'evaluated', 'dropped'],
  ];
  const labels: Record<ServerKind, string> = {
    bare: 'baseline: node:http + JSON.parse',
    'receiver-noop': 'receiver + pipeline (no-op engine)',
    receiver: 'receiver + pipeline + engine',
  };
  for (const kind of ['bare', 'receiver-noop', 'receiver'] as const) {
    const { child, port } = await startServer(kind);
    await keepAlive(port, 1); // warm-up (JIT), not recorded
    const label = labels[kind];
    for (const [mode, fn] of [
      ['keep-alive (autocannon)', keepAlive],
      ['no keep-alive (Falco default)', noKeepAlive],
    ] as const) {
      const before = await serverStats(child);
      const r = await fn(port);
      const after = await serverStats(child);
      const dropped = Object.entries(after.dropped)
        .map(([k, v]) => `${v - (before.dropped[k] ?? 0)} ${k}`)
        .join(', ');
      rows.push([
        label,
        mode,
        Math.round(r.rps).toLocaleString('en-US'),
        r.p50.toFixed(2),
        r.p99.toFixed(2),
        String(r.errors),
        (after.accepted - before.accepted).toLocaleString('en-US'),
        (after.evaluated - before.evaluated).toLocaleString('en-US'),
        dropped || '0',
      ]);
    }
    child.kill();
  }
  console.log(
    `Falco alert (${alert.length} B), ${CONCURRENCY} concurrent, ${SECONDS} s per run, loopback, server in a child process`,
  );
  printTable(rows);
}

const serveIdx = process.argv.indexOf('--serve');
if (serveIdx >= 0) await serve(process.argv[serveIdx + 1] as ServerKind);
else await main();
