/**
 * Attacks on how long and how much a sender may hold: a body trickled a byte at a time, connections
 * opened by the thousand, idle sockets, an idle client that would keep `run` alive after SIGTERM,
 * and a Tetragon agent (or something on its socket) sending a message that does not decode or
 * dropping the stream to make us reconnect in a loop. Real sockets, a real child process.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { adaptRecord } from '../../src/events/adapters/index.js';
import { registry } from '../../src/observability/metrics.js';
import { createHttpSource } from '../../src/sources/http/index.js';
import { createTcpSource } from '../../src/sources/ndjson/index.js';
import { createTetragonGrpcSource } from '../../src/sources/tetragon-grpc/index.js';
import { startFakeTetragon, type FakeTetragon } from '../integration/sources/fake-tetragon.js';
import { collector, sampleLines, waitFor, WAIT_MS } from '../integration/sources/helpers.js';

const falco = sampleLines('falco', 'falco-alerts.jsonl')[0]!;

async function metric(name: string, labels: Record<string, string>): Promise<number> {
  const m = registry.getSingleMetric(name);
  assert.ok(m, `metric ${name} exists`);
  const { values } = await m.get();
  return values
    .filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x))
    .reduce((sum, v) => sum + v.value, 0);
}

function open(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

/** Resolves when the server has closed `s` (reading on, so its FIN is seen). */
function closedOf(s: Socket): Promise<void> {
  if (s.destroyed) return Promise.resolve();
  s.resume();
  // 'end' too: a half-open client (allowHalfOpen) sees the server's FIN but never closes itself.
  return new Promise((r) => {
    s.once('end', () => r());
    s.once('close', () => r());
  });
}

describe('HTTP receiver: time and connection bounds', () => {
  it('cuts a trickled body at the request deadline (headers + body), with 408, counted', async () => {
    const deadlineMs = 600;
    const c = collector();
    const src = createHttpSource({
      name: 'lim-trickle',
      port: 0,
      requestTimeoutMs: deadlineMs,
      rateLimit: false,
    });
    await src.start(c.emit);
    try {
      const s = await open(src.address()!.port);
      const t0 = Date.now();
      s.write(
        'POST /falco HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{',
      );
      // One byte every 50 ms: never idle, never done.
      const drip = setInterval(() => s.write(' '), 50);
      let reply = '';
      s.on('data', (d: Buffer) => (reply += d.toString()));
      s.on('error', () => undefined);
      await closedOf(s);
      clearInterval(drip);
      const took = Date.now() - t0;
      assert.ok(took >= deadlineMs - 50, `cut too early: ${took} ms`);
      // The deadline is checked a few times per period: the overshoot is a fraction of it (plus
      // scheduling on a loaded machine), not Node's default 30 s check interval.
      assert.ok(took < deadlineMs + 4000, `cut after ${took} ms`);
      assert.match(reply, /^HTTP\/1\.1 408/);
      assert.equal(c.events.length, 0);
      assert.equal(
        await metric('kyverno_runtime_ingest_connections_closed_total', {
          source: 'lim-trickle',
          reason: 'request-timeout',
        }),
        1,
      );
    } finally {
      await src.stop();
    }
  });

  it('refuses connections over the cap at once, counts them, and serves again when one leaves', async () => {
    const cap = 5;
    const src = createHttpSource({ name: 'lim-cap', port: 0, maxConnections: cap, rateLimit: false });
    await src.start(() => undefined);
    const port = src.address()!.port;
    const sockets: Socket[] = [];
    try {
      for (let i = 0; i < cap + 3; i++) {
        const s = await open(port);
        s.on('error', () => undefined);
        sockets.push(s);
      }
      // The surplus is closed by the server without a byte read from it.
      await Promise.all(sockets.slice(cap).map(closedOf));
      await waitFor(
        () => src.stats().dropped['too-many-connections'] === 3,
        WAIT_MS,
        'refusals counted in the source stats',
      );
      assert.equal(
        await metric('kyverno_runtime_ingest_connections_closed_total', {
          source: 'lim-cap',
          reason: 'too-many-connections',
        }),
        3,
      );
      assert.equal(await metric('kyverno_runtime_ingest_connections', { source: 'lim-cap' }), cap);
      assert.ok(
        sockets.slice(0, cap).every((s) => !s.destroyed),
        'the first ones stay',
      );
      sockets[0]!.destroy();
      const deadline = Date.now() + WAIT_MS;
      while ((await metric('kyverno_runtime_ingest_connections', { source: 'lim-cap' })) >= cap) {
        assert.ok(Date.now() < deadline, 'the server saw the client leave');
        await new Promise((r) => setTimeout(r, 20));
      }
      const res = await fetch(`http://127.0.0.1:${port}/healthz`);
      assert.equal(res.status, 200, 'a slot freed is usable');
    } finally {
      for (const s of sockets) s.destroy();
      await src.stop();
    }
  });

  it('closes an idle keep-alive connection after the keep-alive timeout', async () => {
    const src = createHttpSource({
      name: 'lim-keepalive',
      port: 0,
      keepAliveTimeoutMs: 300,
      rateLimit: false,
    });
    await src.start(() => undefined);
    try {
      const s = await open(src.address()!.port);
      s.on('error', () => undefined);
      s.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
      const t0 = Date.now();
      await closedOf(s);
      const took = Date.now() - t0;
      assert.ok(took < 5000, `idle keep-alive held ${took} ms`);
    } finally {
      await src.stop();
    }
  });

  it('stop() cuts a request in flight after the grace period instead of waiting for it', async () => {
    const src = createHttpSource({ name: 'lim-stop-http', port: 0, shutdownGraceMs: 200, rateLimit: false });
    await src.start(() => undefined);
    const s = await open(src.address()!.port);
    s.on('error', () => undefined);
    s.write(
      'POST /falco HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{',
    );
    await new Promise((r) => setTimeout(r, 100));
    const t0 = Date.now();
    await src.stop();
    const took = Date.now() - t0;
    assert.ok(took < 3000, `stop took ${took} ms`);
    await closedOf(s);
  });
});

describe('NDJSON TCP: idle and shutdown bounds', () => {
  it('closes a connection that sends nothing for the idle timeout, counted', async () => {
    const c = collector();
    const src = createTcpSource({ name: 'lim-tcp-idle', port: 0, idleTimeoutMs: 300 });
    await src.start(c.emit);
    try {
      const s = await open(src.address()!.port);
      s.on('error', () => undefined);
      s.write(`${falco}\n`);
      const t0 = Date.now();
      await closedOf(s);
      const took = Date.now() - t0;
      assert.ok(took >= 250 && took < 5000, `idle connection closed after ${took} ms`);
      assert.equal(c.events.length, 1, 'what it sent before going idle counts');
      assert.equal(
        await metric('kyverno_runtime_ingest_connections_closed_total', {
          source: 'lim-tcp-idle',
          reason: 'idle-timeout',
        }),
        1,
      );
    } finally {
      await src.stop();
    }
  });

  it('does not count a connection held back by backpressure as idle', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let got = 0;
    const src = createTcpSource({ name: 'lim-tcp-bp', port: 0, idleTimeoutMs: 200 });
    await src.start(async () => {
      got++;
      if (got === 1) await gate;
    });
    try {
      const s = await open(src.address()!.port);
      s.on('error', () => undefined);
      s.write(`${falco}\n${falco}\n`);
      await waitFor(() => got === 1, WAIT_MS, 'first event');
      await new Promise((r) => setTimeout(r, 800));
      assert.ok(!s.destroyed, 'a sender waiting for the queue is not idle');
      release();
      await waitFor(() => got === 2, WAIT_MS, 'second event after release');
      s.destroy();
    } finally {
      await src.stop();
    }
  });

  it('stop() returns within the grace period while a client stays connected and silent', async () => {
    const src = createTcpSource({ name: 'lim-tcp-stop', port: 0, shutdownGraceMs: 300 });
    await src.start(() => undefined);
    // allowHalfOpen: this client ignores our FIN and keeps its side open, as a hostile one would.
    const s = connect({ port: src.address()!.port, host: '127.0.0.1', allowHalfOpen: true });
    s.on('error', () => undefined);
    await new Promise<void>((r) => s.once('connect', () => r()));
    await new Promise((r) => setTimeout(r, 100));
    const t0 = Date.now();
    await src.stop();
    const took = Date.now() - t0;
    assert.ok(took < 3000, `stop took ${took} ms`);
    s.destroy();
    assert.equal(
      await metric('kyverno_runtime_ingest_connections_closed_total', {
        source: 'lim-tcp-stop',
        reason: 'shutdown',
      }),
      1,
    );
  });
});

describe('kyverno-runtime run: SIGTERM with an idle TCP client', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'kr-sigterm-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('exits within a few seconds although the client never closes', async () => {
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        'src/cli/main.ts',
        'run',
        '--source',
        'tcp',
        '--source-listen',
        '127.0.0.1:0',
        '--listen',
        'off',
        '--db',
        join(dir, 'state.db'),
        '--log-file',
        join(dir, 'log.json'),
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    let client: Socket | undefined;
    try {
      // Start-up under tsx on a loaded machine is slow; the bound under test is the shutdown.
      await waitFor(
        () => /listening on 127\.0\.0\.1:\d+/.test(stderr),
        60_000,
        `run to listen (stderr: ${stderr})`,
      );
      const port = Number(/listening on 127\.0\.0\.1:(\d+)/.exec(stderr)![1]);
      client = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
      client.on('error', () => undefined);
      await new Promise<void>((r) => client!.once('connect', () => r()));
      client.write(`${falco}\n`); // then silence, and never a FIN
      await new Promise((r) => setTimeout(r, 300));
      const t0 = Date.now();
      child.kill('SIGTERM');
      const timeout = new Promise<'hung'>((r) => setTimeout(() => r('hung'), 15_000).unref());
      const code = await Promise.race([exited, timeout]);
      const took = Date.now() - t0;
      assert.notEqual(code, 'hung', `run did not exit within 15 s of SIGTERM (stderr: ${stderr})`);
      assert.equal(code, 0, stderr);
      // The grace period is 2 s; the rest is the drain and the store's flush.
      assert.ok(took < 10_000, `exit took ${took} ms`);
      assert.match(stderr, /stopped/);
    } finally {
      client?.destroy();
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});

describe('Tetragon gRPC: hostile stream', () => {
  let dir: string;
  let fake: FakeTetragon | undefined;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'kr-grpc-bad-'));
  });
  afterEach(async () => {
    await fake?.stop();
    fake = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  const events = ['docs-current.jsonl', 'testdata-events.jsonl']
    .flatMap((f) => sampleLines('tetragon', f).map((l) => JSON.parse(l) as Record<string, unknown>))
    .filter((e) => {
      const out = adaptRecord(e, 'tetragon');
      return out.kind === 'events' && out.events.length === 1;
    });

  it('counts and skips a message that does not decode; the events after it still arrive on the same stream', async () => {
    const target = `unix://${join(dir, 'tetragon.sock')}`;
    // Field 1 (a length-delimited message) claiming 100 bytes that are not there: protobuf refuses it.
    const garbage = Buffer.from([0x0a, 0x64, 0x01, 0x02]);
    fake = await startFakeTetragon({ bind: target, events: [events[0]!, garbage, events[1]!, events[2]!] });
    const c = collector();
    const src = createTetragonGrpcSource({ name: 'lim-grpc-bad', target });
    await src.start(c.emit);
    try {
      await waitFor(() => c.events.length === 3, WAIT_MS, 'the three good events');
      assert.equal(src.stats().dropped['decode-error'], 1);
      assert.equal(src.subscriptions, 1, 'no re-subscription');
      assert.equal(src.stats().status, 'running');
    } finally {
      await src.stop();
    }
  });

  it('an agent that drops every stream after one event gets exponentially spaced re-subscriptions, counted', async () => {
    const target = `unix://${join(dir, 'tetragon.sock')}`;
    fake = await startFakeTetragon({ bind: target, events: [events[0]!], endAfter: true });
    const c = collector();
    const initialMs = 50;
    const src = createTetragonGrpcSource({
      name: 'lim-grpc-storm',
      target,
      backoff: { initialMs, maxMs: 800 },
    });
    const windowMs = 3000;
    await src.start(c.emit);
    try {
      await new Promise((r) => setTimeout(r, windowMs));
    } finally {
      await src.stop();
    }
    // Waits are at least half the delay (jitter): 25+50+100+200+400+400+... ms, so 3 s holds at most
    // 10 re-subscriptions; resetting the delay on every event (the old behaviour) allowed ~80.
    const subs = src.subscriptions;
    assert.ok(subs >= 3, `it does re-subscribe (${subs})`);
    assert.ok(subs <= 11, `${subs} subscriptions in ${windowMs} ms`);
    assert.equal(
      await metric('kyverno_runtime_source_reconnects_total', { source: 'lim-grpc-storm' }),
      subs - 1,
    );
    assert.ok(c.events.length >= subs - 1, 'each stream delivered its event');
  });
});
