/**
 * ConnectionPool (src/k8s/connection-pool.ts) hands out one keep-alive agent while the TLS material
 * client-node computes per request stays the same, a new one when it changes (a rotated client
 * certificate or CA), and leaves proxy agents alone.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import { describe, it } from 'node:test';
import { ConnectionPool } from '../../../src/k8s/connection-pool.js';

describe('ConnectionPool', () => {
  it('reuses one keep-alive agent while the TLS material is unchanged (Buffers compared by content)', () => {
    const pool = new ConnectionPool({ idleTimeoutMs: 1234, maxSockets: 7, maxFreeSockets: 3 });
    const first = pool.agentFor(new https.Agent({ ca: Buffer.from('CA-1'), rejectUnauthorized: true }));
    const again = pool.agentFor(new https.Agent({ ca: Buffer.from('CA-1'), rejectUnauthorized: true }));
    assert.ok(first instanceof https.Agent);
    assert.equal(again, first);
    assert.equal(first.options.keepAlive, true);
    assert.equal(first.maxSockets, 7);
    assert.equal(first.maxFreeSockets, 3);
    assert.equal(first.options.timeout, 1234);
    assert.deepEqual(first.options.ca, Buffer.from('CA-1'));
    pool.destroy();
  });

  it('switches to a new agent when the CA, client certificate or verification changes', () => {
    const pool = new ConnectionPool();
    const a = pool.agentFor(new https.Agent({ ca: Buffer.from('CA-1'), cert: 'cert-1', key: 'key-1' }));
    const rotatedCert = pool.agentFor(
      new https.Agent({ ca: Buffer.from('CA-1'), cert: 'cert-2', key: 'key-2' }),
    );
    const rotatedCa = pool.agentFor(
      new https.Agent({ ca: Buffer.from('CA-2'), cert: 'cert-2', key: 'key-2' }),
    );
    const noVerify = pool.agentFor(
      new https.Agent({ ca: Buffer.from('CA-2'), cert: 'cert-2', key: 'key-2', rejectUnauthorized: false }),
    );
    assert.equal(new Set([a, rotatedCert, rotatedCa, noVerify]).size, 4);
    assert.equal((noVerify as https.Agent).options.rejectUnauthorized, false);
    pool.destroy();
  });

  it('shares one plain-HTTP agent and returns proxy agents (subclasses) untouched', () => {
    const pool = new ConnectionPool();
    const plain = pool.agentFor(new http.Agent());
    assert.equal(pool.agentFor(new http.Agent()), plain);
    assert.equal((plain as http.Agent).maxFreeSockets, 16); // pooled defaults; reuse itself: api-clients test
    class ProxyAgent extends https.Agent {}
    const proxy = new ProxyAgent();
    assert.equal(pool.agentFor(proxy), proxy);
    assert.equal(pool.agentFor(undefined), undefined);
    pool.destroy();
  });
});
