/**
 * The fake API server answers as a real one where the agent's resilience depends on it: lists come
 * in pages the reflector follows to the end; a continue token from a compacted snapshot is 410
 * Expired, after which the reflector lists again from the first page; throttling is 429 with
 * Retry-After.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CoreV1Api, type V1Pod } from '@kubernetes/client-node';
import { Reflector } from '../../../src/k8s/reflector.js';
import type { FakeApiServer } from './fake-apiserver/server.js';
import { seedPod, startCluster, WAIT_MS } from './helpers.js';

describe('fake API server realism: pagination, 410 on stale continue, 429', () => {
  let server: FakeApiServer;
  before(async () => {
    server = await startCluster();
    for (let i = 0; i < 23; i++) seedPod(server, `p-${String(i).padStart(2, '0')}`);
    seedPod(server, 'elsewhere', { node: 'node-2' });
  });
  after(async () => {
    await server.close();
  });

  it('the reflector follows continue tokens page by page to the whole node list', async () => {
    const core = server.kubeConfig().makeApiClient(CoreV1Api);
    const before = server.listPages;
    const r = new Reflector<V1Pod>({
      resource: 'pods',
      kubeConfig: server.kubeConfig(),
      path: '/api/v1/pods',
      fieldSelector: 'spec.nodeName=node-1',
      pageSize: 5,
      list: (s) => core.listPodForAllNamespaces(s),
    });
    await r.start(WAIT_MS);
    try {
      assert.equal(r.size, 23);
      assert.equal(r.get('shop', 'elsewhere'), undefined);
      assert.equal(server.listPages - before, 5, '23 pods in pages of 5');
      const pages = server.requests.filter((q) => q.path === '/api/v1/pods' && q.query.get('limit') === '5');
      assert.equal(pages.filter((q) => q.query.get('continue') !== null).length, 4);
    } finally {
      await r.stop();
    }
  });

  it('answers 410 Expired to a continue token whose snapshot was compacted', async () => {
    const core = server.kubeConfig().makeApiClient(CoreV1Api);
    const first = await core.listPodForAllNamespaces({ limit: 5 });
    const token = first.metadata?._continue;
    assert.ok(token !== undefined && token !== '');
    server.restart({ compact: true });
    await assert.rejects(core.listPodForAllNamespaces({ limit: 5, _continue: token }), (err: unknown) => {
      assert.equal((err as { code?: number }).code, 410);
      assert.match(String((err as { body?: unknown }).body), /too old to display a consistent list/);
      return true;
    });
    // A fresh list (no token) works.
    const again = await core.listPodForAllNamespaces({ limit: 100 });
    assert.equal(again.items.length, 24);
  });

  it('throttles with 429 and a Retry-After header', async () => {
    server.throttleNext('GET', '/api/v1/namespaces', 1, 3);
    const res = await fetch(`${server.url}/api/v1/namespaces`, {
      headers: { authorization: 'Bearer fake-token' },
    });
    assert.equal(res.status, 429);
    assert.equal(res.headers.get('retry-after'), '3');
    const body = (await res.json()) as { reason?: string; details?: { retryAfterSeconds?: number } };
    assert.equal(body.reason, 'TooManyRequests');
    assert.equal(body.details?.retryAfterSeconds, 3);
    const next = await fetch(`${server.url}/api/v1/namespaces`, {
      headers: { authorization: 'Bearer fake-token' },
    });
    assert.equal(next.status, 200);
    await next.text();
  });
});
