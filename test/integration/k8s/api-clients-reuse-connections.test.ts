/**
 * The API clients keep connections alive (src/k8s/api-clients.ts): N actions in a row travel over
 * one connection instead of N, across every client made from the same KubeConfig, over plain HTTP
 * (the fake API server) and over TLS with the cluster's CA still enforced. A request caught by a
 * connection the server closes is retried once when it is safe to resend, never when it is not.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { ActionExecutor } from '../../../src/actions/executor.js';
import { ACTIONS_POOL, apiClient, apiTransport, closeApiConnections } from '../../../src/k8s/api-clients.js';
import { loadKubeConfig } from '../../../src/k8s/config.js';
import type { FakeApiServer } from './fake-apiserver/server.js';
import { seedPod, startCluster, verdictFor } from './helpers.js';

const UNLIMITED = { rate: 1e6, burst: 1e6 };

describe('API clients reuse connections', () => {
  let server: FakeApiServer;
  let kc: KubeConfig;
  let executor: ActionExecutor;

  before(async () => {
    server = await startCluster();
    kc = server.kubeConfig();
    executor = new ActionExecutor({ kubeConfig: kc, perPolicy: UNLIMITED, apiBudget: UNLIMITED });
  });
  after(async () => {
    closeApiConnections(kc);
    await server.close();
  });

  it('runs 30 actions on 10 pods over one connection, across the core and networking clients', async () => {
    const pods = Array.from({ length: 10 }, (_, i) => seedPod(server, `reuse-${i}`));
    const before = server.connectionsOpened;
    for (const pod of pods) {
      const outcomes = await executor.execute(
        verdictFor(pod, [{ label: { labels: { seen: 'yes' } } }, { isolate: {} }, { deletePod: {} }]),
      );
      assert.deepEqual(
        outcomes.map((o) => `${o.action}:${o.outcome}`),
        ['label:succeeded', 'isolate:succeeded', 'deletePod:succeeded'],
        JSON.stringify(outcomes),
      );
    }
    const opened = server.connectionsOpened - before;
    // 40 requests (isolate makes two). One connection when nothing interferes; a second only if
    // the machine stalled past the server's 5 s keep-alive timeout between two of them.
    assert.ok(opened <= 2, `40 requests opened ${opened} connections`);
    assert.equal(server.requestsMatching('DELETE', '/pods/reuse-').length, 10);
  });

  it('reuses connections for makeApiClient on a KubeConfig from loadKubeConfig (the cluster command)', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'kr-kubeconfig-'));
    try {
      const file = path.join(dir, 'kubeconfig');
      writeFileSync(file, server.kubeConfigYaml());
      const loaded = loadKubeConfig({ kubeconfig: file });
      const core = loaded.makeApiClient(CoreV1Api); // as the PolicyReport writer and release do
      const before = server.connectionsOpened;
      for (let i = 0; i < 10; i++) await core.readNamespace({ name: 'shop' });
      assert.ok(server.connectionsOpened - before <= 2, `${server.connectionsOpened - before} connections`);
      closeApiConnections(loaded);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('retries a DELETE whose connection the server closed, once', async () => {
    const pod = seedPod(server, 'dropped-once');
    const retries = apiTransport(kc, ACTIONS_POOL).http.retries;
    server.dropNext('DELETE', '/pods/dropped-once');
    const [o] = await executor.execute(verdictFor(pod, [{ deletePod: {} }]));
    assert.equal(o?.outcome, 'succeeded', o?.detail);
    assert.deepEqual(
      server.requestsMatching('DELETE', '/pods/dropped-once').map((r) => r.status),
      [0, 200],
    );
    assert.equal(apiTransport(kc, ACTIONS_POOL).http.retries, retries + 1);
    assert.equal(server.get('v1', 'Pod', 'shop', 'dropped-once'), undefined);
  });

  it('retries a DELETE whose response body was cut short, once', async () => {
    const pod = seedPod(server, 'cut-short');
    const retries = apiTransport(kc, ACTIONS_POOL).http.retries;
    server.dropNext('DELETE', '/pods/cut-short', 1, { midBody: true });
    const [o] = await executor.execute(verdictFor(pod, [{ deletePod: {} }]));
    assert.equal(o?.outcome, 'succeeded', o?.detail);
    assert.equal(apiTransport(kc, ACTIONS_POOL).http.retries, retries + 1);
    assert.equal(server.get('v1', 'Pod', 'shop', 'cut-short'), undefined);
  });

  it('does not resend a POST (create) whose connection the server closed', async () => {
    const pod = seedPod(server, 'no-double-create');
    const retries = apiTransport(kc, ACTIONS_POOL).http.retries;
    server.dropNext('POST', '/networkpolicies');
    const [o] = await executor.execute(verdictFor(pod, [{ isolate: {} }]));
    assert.equal(o?.outcome, 'failed');
    assert.match(o.detail ?? '', /socket hang up|ECONNRESET/);
    assert.equal(server.requestsMatching('POST', '/networkpolicies').filter((r) => r.status === 0).length, 1);
    assert.equal(apiTransport(kc, ACTIONS_POOL).http.retries, retries);
  });

  it('resends a merge-patch (label) but never a JSON Patch, which may not be idempotent', async () => {
    const pod = seedPod(server, 'patched');
    server.dropNext('PATCH', '/pods/patched');
    const [labelled] = await executor.execute(verdictFor(pod, [{ label: { labels: { once: 'yes' } } }]));
    assert.equal(labelled?.outcome, 'succeeded', labelled?.detail);
    assert.equal(server.get('v1', 'Pod', 'shop', 'patched')?.metadata.labels?.once, 'yes');

    const retries = apiTransport(kc, ACTIONS_POOL).http.retries;
    server.dropNext('PATCH', '/pods/patched');
    const [jsonPatched] = await executor.execute(
      verdictFor(
        pod,
        [
          {
            patch: { type: 'json6902', patch: [{ op: 'add', path: '/metadata/labels/twice', value: 'no' }] },
          },
        ],
        {
          rule: 'json-patch', // a different dedup key than the label verdict above
        },
      ),
    );
    assert.equal(jsonPatched?.outcome, 'failed');
    assert.equal(apiTransport(kc, ACTIONS_POOL).http.retries, retries);
    assert.equal(server.get('v1', 'Pod', 'shop', 'patched')?.metadata.labels?.twice, undefined);
  });

  it('gives up after one retry: a second drop is the caller’s error', async () => {
    const pod = seedPod(server, 'dropped-twice');
    server.dropNext('DELETE', '/pods/dropped-twice', 2);
    const [o] = await executor.execute(verdictFor(pod, [{ deletePod: {} }]));
    assert.equal(o?.outcome, 'failed');
    assert.equal(server.requestsMatching('DELETE', '/pods/dropped-twice').length, 2);
    assert.ok(server.get('v1', 'Pod', 'shop', 'dropped-twice'), 'the pod is still there');
  });
});

describe('API clients reuse TLS connections and keep verifying the server', () => {
  let dir: string;
  let https: Server;
  let url: string;
  let ca: string;
  let handshakes = 0;

  before(async () => {
    // A throwaway self-signed certificate for 127.0.0.1 (fixed arguments, no input from anywhere).
    dir = mkdtempSync(path.join(tmpdir(), 'kr-tls-'));
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=kr-test-apiserver',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
        '-keyout',
        path.join(dir, 'key.pem'),
        '-out',
        path.join(dir, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    );
    ca = readFileSync(path.join(dir, 'cert.pem'), 'utf8');
    https = createServer({ key: readFileSync(path.join(dir, 'key.pem')), cert: ca }, (req, res) => {
      req.resume();
      req.on('end', () => {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' } }));
      });
    });
    https.on('secureConnection', () => handshakes++);
    await new Promise<void>((resolve) => https.listen(0, '127.0.0.1', resolve));
    const address = https.address();
    assert.ok(address !== null && typeof address === 'object');
    url = `https://127.0.0.1:${address.port}`;
  });
  after(async () => {
    https.closeAllConnections();
    await new Promise<void>((resolve) => https.close(() => resolve()));
    rmSync(dir, { recursive: true, force: true });
  });

  function kubeConfig(caData: string | undefined): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [
        {
          name: 'tls',
          server: url,
          skipTLSVerify: false,
          ...(caData !== undefined ? { caData: Buffer.from(caData).toString('base64') } : {}),
        },
      ],
      users: [{ name: 'u', token: 't' }],
      contexts: [{ name: 'tls', cluster: 'tls', user: 'u' }],
      currentContext: 'tls',
    });
    return kc;
  }

  it('makes 20 requests over one TLS handshake', async () => {
    const kc = kubeConfig(ca);
    const core = apiClient(kc, CoreV1Api);
    const before = handshakes;
    for (let i = 0; i < 20; i++) await core.deleteNamespacedPod({ name: `p-${i}`, namespace: 'shop' });
    assert.ok(handshakes - before <= 2, `20 requests made ${handshakes - before} TLS handshakes`);
    closeApiConnections(kc);
  });

  it('still rejects a server the kubeconfig’s CA did not sign', async () => {
    const kc = kubeConfig(undefined); // system CAs only: our self-signed server must be refused
    const core = apiClient(kc, CoreV1Api);
    await assert.rejects(core.deleteNamespacedPod({ name: 'p', namespace: 'shop' }), /self[- ]signed/i);
    closeApiConnections(kc);
  });
});
