import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest, Agent } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { deflateSync, gzipSync } from 'node:zlib';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createHttpSource, isLoopbackHost, ListenPolicyError } from '../../../src/sources/http/index.js';
import { collector, sampleLines } from './helpers.js';

const falcoAlerts = sampleLines('falco', 'falco-alerts.jsonl');
const syscallAlert = falcoAlerts.find((l) => l.includes('Terminal shell in container'))!;

describe('HTTP receiver (inject)', () => {
  const sink = collector();
  const src = createHttpSource({ port: 0, authTokens: ['s3cret-token'], bodyLimitBytes: 64 * 1024 });
  const auth = { authorization: 'Bearer s3cret-token' };
  before(() => src.start(sink.emit));
  after(() => src.stop());

  it('accepts a Falco http_output alert with 202 and queues its event', async () => {
    const n = sink.events.length;
    const res = await src.app.inject({
      method: 'POST',
      url: '/falco',
      headers: { ...auth, 'content-type': 'application/json', 'user-agent': 'falcosecurity/falco' },
      payload: syscallAlert,
    });
    assert.equal(res.statusCode, 202, res.body);
    assert.equal(res.json().accepted, 1);
    assert.equal(sink.events.length, n + 1);
    assert.equal(sink.events.at(-1)!.source, 'falco');
  });

  it('accepts a Falcosidekick webhook payload (alert + uuid) on /', async () => {
    const payload = { ...(JSON.parse(syscallAlert) as object), uuid: '8d5fc5d9-4c5b-4f0e-8a7f-3c5e2b1a9d00' };
    const res = await src.app.inject({
      method: 'POST',
      url: '/',
      headers: { ...auth, 'content-type': 'application/json' },
      payload: JSON.stringify(payload),
    });
    assert.equal(res.statusCode, 202, res.body);
    assert.equal(sink.events.at(-1)!.source, 'falco');
  });

  it('accepts a batched JSON array, reporting each skipped element with its index and reason', async () => {
    const n = sink.events.length;
    const batch = `[${falcoAlerts.join(',')}, 42]`;
    const res = await src.app.inject({
      method: 'POST',
      url: '/events',
      headers: { ...auth, 'content-type': 'application/json' },
      payload: batch,
    });
    assert.equal(res.statusCode, 202, res.body);
    const body = res.json();
    assert.equal(body.records, falcoAlerts.length + 1);
    assert.equal(sink.events.length - n, body.accepted);
    assert.ok(Number(body.accepted) + Number(body.skippedTotal) >= Number(body.records));
    const last = body.skipped.find((s: { at: string }) => s.at === `index ${falcoAlerts.length}`);
    assert.ok(last, 'the number 42 is skipped with its index');
    assert.equal(typeof last.reason, 'string');
  });

  it('accepts NDJSON bodies and names the bad line', async () => {
    const res = await src.app.inject({
      method: 'POST',
      url: '/',
      headers: { ...auth, 'content-type': 'application/x-ndjson' },
      payload: `${syscallAlert}\n{"rule": oops\n${syscallAlert}\n`,
    });
    assert.equal(res.statusCode, 202, res.body);
    const body = res.json();
    assert.equal(body.accepted, 2);
    assert.deepEqual(
      body.skipped.map((s: { at: string; reason: string }) => [s.at, s.reason]),
      [['line 2', 'malformed-json']],
    );
  });

  it('answers 400 with the position of malformed JSON', async () => {
    const res = await src.app.inject({
      method: 'POST',
      url: '/falco',
      headers: { ...auth, 'content-type': 'application/json' },
      payload: '{\n  "rule": "x",\n  "priority": }',
    });
    assert.equal(res.statusCode, 400);
    const body = res.json();
    assert.equal(body.error, 'malformed-json');
    assert.equal(body.position.line, 3);
    assert.ok(body.position.column > 1);
  });

  it('answers 400 for a JSON scalar and for an empty body', async () => {
    for (const payload of ['"hello"', '   ']) {
      const res = await src.app.inject({
        method: 'POST',
        url: '/',
        headers: { ...auth, 'content-type': 'application/json' },
        payload,
      });
      assert.equal(res.statusCode, 400, payload);
    }
  });

  it('answers 401 without or with a wrong bearer token', async () => {
    for (const authorization of [
      undefined,
      'Bearer wrong',
      'Basic czNjcmV0LXRva2Vu',
      'Bearer s3cret-token-longer',
    ]) {
      const res = await src.app.inject({
        method: 'POST',
        url: '/falco',
        headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
        payload: syscallAlert,
      });
      assert.equal(res.statusCode, 401, String(authorization));
      assert.match(String(res.headers['www-authenticate']), /Bearer/);
      assert.equal(res.json().error, 'unauthorized');
    }
    assert.ok((src.stats().dropped.unauthorized ?? 0) >= 4);
  });

  it('answers 413 beyond the body limit and 415 for unsupported media types', async () => {
    const big = await src.app.inject({
      method: 'POST',
      url: '/',
      headers: { ...auth, 'content-type': 'application/json' },
      payload: JSON.stringify({ pad: 'x'.repeat(70 * 1024) }),
    });
    assert.equal(big.statusCode, 413);
    assert.equal(big.json().error, 'too-large');
    const text = await src.app.inject({
      method: 'POST',
      url: '/falco',
      headers: { ...auth, 'content-type': 'text/plain' },
      payload: '13:44:05.478445995: Critical A shell was spawned',
    });
    assert.equal(text.statusCode, 415);
    assert.match(text.json().message, /json_output/);
    const stats = src.stats();
    assert.ok((stats.dropped['too-large'] ?? 0) >= 1);
    assert.ok((stats.dropped['unsupported-media-type'] ?? 0) >= 1);
  });
});

describe('HTTP receiver limits and listen policy', () => {
  it('rate-limits with 429 and Retry-After once the bucket is empty', async () => {
    // One token per 100 s: the burst of 2 is all this test can get, however slowly the machine runs
    // the four requests (at 1/s, a 1 s stall between two of them would refill a token).
    const src = createHttpSource({ port: 0, rateLimit: { ratePerSecond: 0.01, burst: 2 } });
    await src.start(() => undefined);
    try {
      const codes: number[] = [];
      for (let i = 0; i < 4; i++) {
        const res = await src.app.inject({
          method: 'POST',
          url: '/falco',
          headers: { 'content-type': 'application/json' },
          payload: syscallAlert,
        });
        codes.push(res.statusCode);
        if (res.statusCode === 429) assert.ok(Number(res.headers['retry-after']) >= 1);
      }
      assert.deepEqual(codes, [202, 202, 429, 429]);
      assert.equal(src.stats().dropped['rate-limited'], 2);
    } finally {
      await src.stop();
    }
  });

  it('refuses to listen beyond loopback without authentication', async () => {
    const src = createHttpSource({ host: '0.0.0.0', port: 0 });
    await assert.rejects(
      src.start(() => undefined),
      (err: unknown) => {
        assert.ok(err instanceof ListenPolicyError);
        assert.match(err.message, /--source-token-file/);
        return true;
      },
    );
    assert.equal(src.stats().status, 'failed');
    assert.equal(src.address(), undefined, 'nothing was bound');
  });

  it('knows which hosts are loopback', () => {
    for (const h of ['127.0.0.1', '127.9.9.9', '::1', '[::1]', 'localhost', '::ffff:127.0.0.1'])
      assert.ok(isLoopbackHost(h), h);
    for (const h of ['0.0.0.0', '::', '10.0.0.1', 'example.com', '::ffff:10.0.0.1'])
      assert.ok(!isLoopbackHost(h), h);
  });
});

describe('HTTP receiver on real sockets', () => {
  it('accepts one alert per connection, as Falco sends them without keep-alive', async () => {
    const sink = collector();
    const src = createHttpSource({ port: 0 });
    await src.start(sink.emit);
    try {
      const { port } = src.address()!;
      const agent = new Agent({ keepAlive: false });
      const statuses = await Promise.all(
        Array.from({ length: 30 }, () => post({ port, agent, body: syscallAlert })),
      );
      assert.deepEqual(new Set(statuses), new Set([202]));
      assert.equal(sink.events.length, 30);
    } finally {
      await src.stop();
    }
  });

  it('serves mTLS: a client without a certificate is refused, one with a CA-signed certificate is accepted', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kr-mtls-'));
    try {
      makePki(dir);
      const sink = collector();
      const src = createHttpSource({
        port: 0,
        tls: { key: join(dir, 'server.key'), cert: join(dir, 'server.crt'), ca: join(dir, 'ca.crt') },
      });
      await src.start(sink.emit);
      try {
        const { port } = src.address()!;
        const ca = readFileSync(join(dir, 'ca.crt'));
        await assert.rejects(postTls({ port, ca, body: syscallAlert }));
        const status = await postTls({
          port,
          ca,
          key: readFileSync(join(dir, 'client.key')),
          cert: readFileSync(join(dir, 'client.crt')),
          body: syscallAlert,
        });
        assert.equal(status, 202);
        assert.equal(sink.events.length, 1);
      } finally {
        await src.stop();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

function post(o: { port: number; agent: Agent; body: string }): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port: o.port,
        path: '/falco',
        method: 'POST',
        agent: o.agent,
        headers: { 'content-type': 'application/json' },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(o.body);
  });
}

function postTls(o: {
  port: number;
  ca: Buffer;
  key?: Buffer;
  cert?: Buffer;
  body: string;
}): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      {
        host: '127.0.0.1',
        port: o.port,
        path: '/falco',
        method: 'POST',
        ca: o.ca,
        servername: 'localhost',
        ...(o.key ? { key: o.key, cert: o.cert } : {}),
        headers: { 'content-type': 'application/json' },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(o.body);
  });
}

/** A throwaway CA, a server certificate for localhost/127.0.0.1 and a client certificate. */
function makePki(dir: string): void {
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  ssl(
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    'ca.key',
    '-out',
    'ca.crt',
    '-days',
    '1',
    '-subj',
    '/CN=test-ca',
  );
  for (const [name, ext] of [
    ['server', 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth'],
    ['client', 'extendedKeyUsage=clientAuth'],
  ] as const) {
    ssl(
      'req',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.csr`,
      '-subj',
      `/CN=${name}`,
    );
    writeFileSync(join(dir, `${name}.ext`), `${ext}\n`);
    ssl(
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      `${name}.crt`,
      '-days',
      '1',
      '-extfile',
      `${name}.ext`,
    );
  }
}

describe('HTTP receiver compression (Falco compress_uploads)', () => {
  it('accepts gzip and deflate bodies, stops a zip bomb at the body limit, and rejects bad encodings', async () => {
    const sink = collector();
    const src = createHttpSource({ port: 0, bodyLimitBytes: 64 * 1024 });
    await src.start(sink.emit);
    try {
      for (const [encoding, body] of [
        ['gzip', gzipSync(syscallAlert)],
        ['deflate', deflateSync(syscallAlert)],
      ] as const) {
        const res = await src.app.inject({
          method: 'POST',
          url: '/falco',
          headers: { 'content-type': 'application/json', 'content-encoding': encoding },
          payload: body,
        });
        assert.equal(res.statusCode, 202, `${encoding}: ${res.body}`);
      }
      assert.equal(sink.events.length, 2);
      const bomb = gzipSync(Buffer.alloc(10 * 1024 * 1024, 0x20)); // 10 MiB of spaces, ~10 KiB compressed
      const big = await src.app.inject({
        method: 'POST',
        url: '/',
        headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
        payload: bomb,
      });
      assert.equal(big.statusCode, 413);
      const garbage = await src.app.inject({
        method: 'POST',
        url: '/',
        headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
        payload: Buffer.from('definitely not gzip'),
      });
      assert.equal(garbage.statusCode, 400);
      assert.equal(garbage.json().error, 'bad-payload');
      const br = await src.app.inject({
        method: 'POST',
        url: '/',
        headers: { 'content-type': 'application/json', 'content-encoding': 'br' },
        payload: Buffer.from('x'),
      });
      assert.equal(br.statusCode, 415);
    } finally {
      await src.stop();
    }
  });
});

describe('HTTP receiver: CloudEvents and RuntimeEvent JSON', () => {
  const runtimeEvent = readFileSync(
    new URL('../../../docs/examples/shell-in-production/events.jsonl', import.meta.url),
    'utf8',
  )
    .split('\n')
    .find((l) => l.trim() !== '')!;

  it('accepts CloudEvents in structured mode, batch mode and binary mode (Falcosidekick cloudevents output)', async () => {
    const sink = collector();
    const src = createHttpSource({ port: 0 });
    await src.start(sink.emit);
    try {
      const envelope = {
        specversion: '1.0',
        id: 'ce-1',
        source: 'https://falco.org',
        type: 'falco.rule.output.v1',
        datacontenttype: 'application/json',
        data: JSON.parse(syscallAlert) as object,
      };
      const structured = await src.app.inject({
        method: 'POST',
        url: '/cloudevents',
        headers: { 'content-type': 'application/cloudevents+json' },
        payload: JSON.stringify(envelope),
      });
      assert.equal(structured.statusCode, 202, structured.body);
      const batch = await src.app.inject({
        method: 'POST',
        url: '/',
        headers: { 'content-type': 'application/cloudevents-batch+json' },
        payload: JSON.stringify([envelope, { ...envelope, id: 'ce-2' }]),
      });
      assert.equal(batch.statusCode, 202, batch.body);
      assert.equal(batch.json().accepted, 2);
      const binary = await src.app.inject({
        method: 'POST',
        url: '/',
        headers: {
          'content-type': 'application/json',
          'ce-specversion': '1.0',
          'ce-id': 'ce-3',
          'ce-source': 'https://falco.org',
          'ce-type': 'falco.rule.output.v1',
        },
        payload: syscallAlert,
      });
      assert.equal(binary.statusCode, 202, binary.body);
      assert.equal(sink.events.length, 4);
      assert.ok(sink.events.every((e) => e.source === 'falco'));
    } finally {
      await src.stop();
    }
  });

  it('accepts RuntimeEvent JSON as is (id preserved)', async () => {
    const sink = collector();
    const src = createHttpSource({ port: 0 });
    await src.start(sink.emit);
    try {
      const res = await src.app.inject({
        method: 'POST',
        url: '/events',
        headers: { 'content-type': 'application/json' },
        payload: runtimeEvent,
      });
      assert.equal(res.statusCode, 202, res.body);
      assert.equal(sink.events[0]!.id, (JSON.parse(runtimeEvent) as { id: string }).id);
    } finally {
      await src.stop();
    }
  });
});
