/**
 * Attacks on who may feed events in: a local process or a web page (DNS rebinding) posting forged
 * events to the HTTP receiver, a TCP client skipping the token line, a unix socket left open to
 * everyone, a stale-socket path pointed at a real file, and error messages sending operators to
 * flags that do not exist. Everything goes through real sockets.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync, readFileSync, symlinkSync } from 'node:fs';
import { request } from 'node:http';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { registry } from '../../src/observability/metrics.js';
import { openStore } from '../../src/reports/store/index.js';
import { checkListenSafety, ListenPolicyError, ServerConfigError } from '../../src/net/access.js';
import { createLocalServer } from '../../src/server/index.js';
import { createHttpSource } from '../../src/sources/http/index.js';
import { createTcpSource } from '../../src/sources/ndjson/index.js';
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

interface Answer {
  status: number;
  body: string;
}

/** One HTTP request on a real socket (TCP port or unix socket), with any Host header. */
function post(opts: {
  port?: number;
  socketPath?: string;
  host?: string;
  authorization?: string;
  body?: string;
  path?: string;
  method?: string;
}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (opts.host !== undefined) headers.host = opts.host;
    if (opts.authorization !== undefined) headers.authorization = opts.authorization;
    const req = request(
      {
        ...(opts.socketPath !== undefined
          ? { socketPath: opts.socketPath }
          : { host: '127.0.0.1', port: opts.port }),
        path: opts.path ?? '/falco',
        method: opts.method ?? 'POST',
        headers,
        agent: false,
      },
      (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end(opts.method === 'GET' ? undefined : (opts.body ?? falco));
  });
}

/** Connects, writes `text`, and collects what the server says until it closes the connection. */
function tcpSession(
  where: { port: number } | { path: string },
  text: string,
): Promise<{ reply: string; socket: Socket; closed: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const s = 'port' in where ? connect(where.port, '127.0.0.1') : connect(where.path);
    let reply = '';
    s.on('data', (d: Buffer) => (reply += d.toString()));
    const closed = new Promise<void>((r) => s.on('close', () => r()));
    s.once('error', reject);
    s.once('connect', () => {
      s.write(text);
      resolve({
        get reply() {
          return reply;
        },
        socket: s,
        closed,
      });
    });
  });
}

describe('HTTP receiver: bearer tokens from a file', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'kr-auth-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('refuses a post without a token or with a wrong one (401, nothing ingested) and accepts any listed token, scheme in any case', async () => {
    const tokenPath = join(dir, 'tokens');
    writeFileSync(tokenPath, '# rotation: old and new\nfirst-token\n\nsecond-token\n');
    const c = collector();
    const src = createHttpSource({ name: 'auth-http-1', port: 0, tokenFile: tokenPath, rateLimit: false });
    await src.start(c.emit);
    try {
      const { port } = src.address()!;
      assert.equal((await post({ port })).status, 401);
      assert.equal((await post({ port, authorization: 'Bearer wrong' })).status, 401);
      assert.equal((await post({ port, authorization: 'Basic Zmlyc3QtdG9rZW4=' })).status, 401);
      assert.equal((await post({ port, authorization: 'Bearer first-token extra' })).status, 401);
      assert.equal(c.events.length, 0, 'no refused post was ingested');
      assert.equal(src.stats().dropped.unauthorized, 4);
      assert.equal((await post({ port, authorization: 'Bearer first-token' })).status, 202);
      assert.equal((await post({ port, authorization: 'bearer second-token' })).status, 202);
      assert.equal(c.events.length, 2);
      assert.deepEqual(src.authenticatedBy, ['token']);
    } finally {
      await src.stop();
    }
  });

  it('follows a rewritten token file: the removed token stops working, the new one works', async () => {
    const tokenPath = join(dir, 'tokens');
    writeFileSync(tokenPath, 'old-token\n');
    const c = collector();
    const src = createHttpSource({ name: 'auth-http-2', port: 0, tokenFile: tokenPath, rateLimit: false });
    await src.start(c.emit);
    try {
      const { port } = src.address()!;
      assert.equal((await post({ port, authorization: 'Bearer old-token' })).status, 202);
      writeFileSync(tokenPath, 'new-token-longer\n');
      let status = 0;
      const deadline = Date.now() + WAIT_MS;
      while (Date.now() < deadline) {
        status = (await post({ port, authorization: 'Bearer new-token-longer' })).status;
        if (status === 202) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      assert.equal(status, 202, 'new token accepted after the file changed');
      assert.equal((await post({ port, authorization: 'Bearer old-token' })).status, 401);
      // An emptied file is a mistake, not "let nobody in" nor "let everyone in": the last good set stays.
      writeFileSync(tokenPath, '');
      await new Promise((r) => setTimeout(r, 2500));
      assert.equal((await post({ port, authorization: 'Bearer new-token-longer' })).status, 202);
      assert.equal((await post({ port })).status, 401);
    } finally {
      await src.stop();
    }
  });

  it('refuses to start with a missing or empty token file, naming the file', () => {
    assert.throws(
      () => createHttpSource({ port: 0, tokenFile: join(dir, 'nope') }),
      /cannot read token file/,
    );
    writeFileSync(join(dir, 'empty'), '\n# only a comment\n');
    assert.throws(() => createHttpSource({ port: 0, tokenFile: join(dir, 'empty') }), /holds no token/);
  });
});

describe('HTTP receiver: Host check against DNS rebinding', () => {
  it('answers 403 to a Host that is not loopback or the listen address, and ingests nothing', async () => {
    const c = collector();
    const src = createHttpSource({ name: 'auth-host', port: 0, rateLimit: false });
    await src.start(c.emit);
    try {
      const { port } = src.address()!;
      const rebound = await post({ port, host: `attacker.example:${port}` });
      assert.equal(rebound.status, 403);
      assert.match(rebound.body, /bad-host/);
      assert.equal((await post({ port, host: 'attacker.example' })).status, 403);
      assert.equal((await post({ port, method: 'GET', path: '/healthz', host: 'evil' })).status, 403);
      assert.equal(c.events.length, 0);
      assert.equal(src.stats().dropped['bad-host'], 3);
      assert.equal((await post({ port, host: `localhost:${port}` })).status, 202);
      assert.equal((await post({ port, host: `127.0.0.1:${port}` })).status, 202);
      assert.equal((await post({ port, host: `[::1]:${port}` })).status, 202);
      assert.equal(c.events.length, 3);
    } finally {
      await src.stop();
    }
  });

  it('the local API shares the same rules: lower-case "bearer" works there too, and a token file is read', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kr-api-'));
    const store = openStore(':memory:');
    writeFileSync(join(dir, 'api-token'), 'api-s3cret\n');
    const server = await createLocalServer({
      store,
      listen: { host: '127.0.0.1', port: 0 },
      auth: { tokenFile: join(dir, 'api-token') },
      ready: () => true,
      policies: () => ({ policies: [], errors: [] }),
      sources: () => [],
    });
    try {
      const port = Number(new URL(server.url).port);
      const get = (authorization?: string): Promise<Answer> =>
        post({ port, method: 'GET', path: '/api/violations', ...(authorization ? { authorization } : {}) });
      assert.equal((await get()).status, 401);
      assert.equal((await get('Bearer nope')).status, 401);
      assert.equal((await get('Bearer api-s3cret')).status, 200);
      assert.equal((await get('bearer api-s3cret')).status, 200);
    } finally {
      await server.close();
      store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('NDJSON TCP: the first line is the token', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'kr-tcp-auth-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('drops a connection whose first line is not a token, counted, and ingests nothing it sent', async () => {
    const tokenPath = join(dir, 'tokens');
    writeFileSync(tokenPath, 'tcp-token\n');
    const c = collector();
    const src = createTcpSource({ name: 'auth-tcp-1', port: 0, tokenFile: tokenPath });
    await src.start(c.emit);
    try {
      const { port } = src.address()!;
      // An attacker who does not know the token sends events straight away.
      const forged = await tcpSession({ port }, `${falco}\n${falco}\n`);
      await forged.closed;
      assert.match(forged.reply, /ERR unauthorized/);
      const wrong = await tcpSession({ port }, `not-the-token\n${falco}\n`);
      await wrong.closed;
      assert.equal(c.events.length, 0);
      assert.equal(src.stats().dropped.unauthorized, 2);
      assert.equal(
        await metric('kyverno_runtime_ingest_connections_closed_total', {
          source: 'auth-tcp-1',
          reason: 'unauthorized',
        }),
        2,
      );
      // The token, then events in the same segment: all of them count.
      const good = await tcpSession({ port }, `tcp-token\r\n${falco}\n${falco}\n`);
      await waitFor(() => c.events.length === 2, WAIT_MS, 'events after the token');
      good.socket.end();
      await good.closed;
      assert.equal(good.reply, '', 'nothing said to an authenticated sender');
    } finally {
      await src.stop();
    }
  });

  it('drops a connection that sends no token line in time (auth-timeout), or streams bytes without a newline', async () => {
    const c = collector();
    const src = createTcpSource({ name: 'auth-tcp-2', port: 0, authTokens: ['t0ken'], authTimeoutMs: 300 });
    await src.start(c.emit);
    try {
      const { port } = src.address()!;
      const t0 = Date.now();
      const silent = await tcpSession({ port }, '');
      await silent.closed;
      const took = Date.now() - t0;
      assert.ok(took >= 250 && took < 5000, `closed after ${took} ms`);
      assert.equal(src.stats().dropped['auth-timeout'], 1);
      const flood = await tcpSession({ port }, 'x'.repeat(64 * 1024));
      await flood.closed;
      assert.equal(src.stats().dropped.unauthorized, 1, 'an endless first line is not a token');
      assert.equal(c.events.length, 0);
    } finally {
      await src.stop();
    }
  });
});

describe('unix sockets', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'kr-unix-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('creates the HTTP socket owner-only (0600) and serves it; a custom mode is applied', async () => {
    const path = join(dir, 'http.sock');
    const c = collector();
    const src = createHttpSource({ name: 'unix-http', socketPath: path, rateLimit: false });
    await src.start(c.emit);
    try {
      const st = statSync(path);
      assert.ok(st.isSocket());
      assert.equal(st.mode & 0o777, 0o600);
      assert.equal(src.endpoint(), `unix:${path}`);
      assert.deepEqual(src.authenticatedBy, ['unix-socket']);
      assert.equal((await post({ socketPath: path })).status, 202);
      assert.equal(c.events.length, 1);
    } finally {
      await src.stop();
    }
    const tcpPath = join(dir, 'tcp.sock');
    const tcp = createTcpSource({ name: 'unix-tcp', port: 0, socketPath: tcpPath, socketMode: 0o660 });
    await tcp.start(c.emit);
    try {
      assert.equal(statSync(tcpPath).mode & 0o777, 0o660);
      const s = await tcpSession({ path: tcpPath }, `${falco}\n`);
      await waitFor(() => c.events.length === 2, WAIT_MS, 'event over the unix socket');
      s.socket.end();
    } finally {
      await tcp.stop();
    }
  });

  it('replaces a stale socket file, but never a regular file, a symlink or a live socket', async () => {
    const path = join(dir, 'in.sock');
    // A stale socket: bound, then the process "died" without unlinking (close() of a listening
    // unix server unlinks, so keep the file by binding from a child that is killed).
    spawnSync(process.execPath, [
      '-e',
      `require('net').createServer().listen(${JSON.stringify(path)}, () => process.exit(0))`,
    ]);
    assert.ok(statSync(path).isSocket(), 'stale socket left behind');
    const src = createTcpSource({ name: 'unix-stale', port: 0, socketPath: path });
    await src.start(() => undefined);
    await src.stop();

    const file = join(dir, 'precious');
    writeFileSync(file, 'keep me');
    const onFile = createTcpSource({ name: 'unix-file', port: 0, socketPath: file });
    await assert.rejects(
      onFile.start(() => undefined),
      /exists and is not a socket/,
    );
    assert.equal(readFileSync(file, 'utf8'), 'keep me');

    const link = join(dir, 'link.sock');
    symlinkSync(file, link);
    await assert.rejects(
      createHttpSource({ socketPath: link }).start(() => undefined),
      /exists and is not a socket/,
    );
    assert.equal(readFileSync(file, 'utf8'), 'keep me');

    const livePath = join(dir, 'live.sock');
    const live = createServer(() => undefined);
    await new Promise<void>((r) => live.listen(livePath, r));
    try {
      await assert.rejects(
        createTcpSource({ port: 0, socketPath: livePath }).start(() => undefined),
        /another process is listening/,
      );
    } finally {
      live.close();
    }
  });
});

describe('listen policy and its messages', () => {
  it('refuses a network input beyond loopback without a token; a token lets it start', async () => {
    await assert.rejects(
      createTcpSource({ host: '0.0.0.0', port: 0 }).start(() => undefined),
      ListenPolicyError,
    );
    await assert.rejects(
      createHttpSource({ host: '0.0.0.0', port: 0 }).start(() => undefined),
      ListenPolicyError,
    );
    const withToken = createTcpSource({ host: '0.0.0.0', port: 0, authTokens: ['x'] });
    await withToken.start(() => undefined);
    await withToken.stop();
  });

  it('every flag an error message names exists in that command', () => {
    const messages = [new ListenPolicyError('0.0.0.0').message];
    try {
      checkListenSafety('0.0.0.0', false, false);
    } catch (err) {
      assert.ok(err instanceof ServerConfigError);
      messages.push(err.message);
    }
    assert.equal(messages.length, 2);
    const help = (cmd: string): string => {
      const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', cmd, '--help'], {
        encoding: 'utf8',
      });
      assert.equal(r.status, 0, r.stderr);
      return r.stdout;
    };
    const helps: Record<string, string> = { run: help('run'), cluster: help('cluster') };
    let checked = 0;
    for (const m of messages) {
      // "run --x", "cluster --y" and "(run --a <path>; cluster --b <path>)": the command is the
      // nearest word before the flag; a bare flag belongs to run.
      for (const hit of m.matchAll(/(?:(run|cluster) )?(--[a-z][a-z-]+)/g)) {
        const cmd = hit[1] ?? 'run';
        assert.ok(helps[cmd]!.includes(hit[2]!), `${cmd} has no ${hit[2]} (message: ${m})`);
        checked++;
      }
    }
    assert.ok(checked >= 4, `flags checked: ${checked}`);
  });
});
