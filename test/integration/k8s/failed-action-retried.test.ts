import assert from 'node:assert/strict';
import { createServer, type ServerResponse } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { ActionExecutor } from '../../../src/actions/executor.js';
import { WebhookDestinations } from '../../../src/actions/webhook-destination.js';
import { PodCache } from '../../../src/k8s/pod-cache.js';
import { actionRetries } from '../../../src/observability/metrics.js';
import type { FakeApiServer } from './fake-apiserver/server.js';
import { seedPod, startCluster, verdictFor, waitFor } from './helpers.js';

async function retries(code: string): Promise<number> {
  return (await actionRetries.get()).values
    .filter((v) => v.labels.code === code)
    .reduce((n, v) => n + v.value, 0);
}

describe('a failed action does not occupy the dedup window', () => {
  let server: FakeApiServer;
  let cache: PodCache;

  before(async () => {
    server = await startCluster();
    cache = new PodCache({ kubeConfig: server.kubeConfig() });
    await cache.start(5000);
  });
  after(async () => {
    await cache.stop();
    await server.close();
  });

  it('deletePod answered 429 (Retry-After) then 500 is retried with backoff and succeeds in one run', async () => {
    const executor = new ActionExecutor({ kubeConfig: server.kubeConfig(), lookup: cache });
    const pod = seedPod(server, 'throttled');
    await waitFor(() => cache.byName('shop', 'throttled') !== undefined);
    const retriesBefore = await retries('429');
    server.failNext('DELETE', '/pods/throttled', 1, 429, 'TooManyRequests', 1);
    server.failNext('DELETE', '/pods/throttled', 1, 500, 'InternalError');
    const [outcome] = await executor.execute(verdictFor(pod, [{ deletePod: {} }]));
    assert.equal(outcome!.outcome, 'succeeded', outcome!.detail);
    const deletes = server.requestsMatching('DELETE', '/pods/throttled');
    assert.deepEqual(
      deletes.map((r) => r.status),
      [429, 500, 200],
    );
    // Retry-After: 1 was honoured: the second attempt came no sooner than a second after the first.
    assert.ok(deletes[1]!.receivedAt - deletes[0]!.receivedAt >= 1_000_000_000n, 'waited for Retry-After');
    assert.equal(await retries('429'), retriesBefore + 1);
    assert.equal(server.get('v1', 'Pod', 'shop', 'throttled'), undefined);
  });

  it('gives up within its bound and does not occupy the dedup window: the next event retries', async () => {
    const executor = new ActionExecutor({
      kubeConfig: server.kubeConfig(),
      lookup: cache,
      retry: { attempts: 2, maxMs: 2000, baseMs: 10 },
    });
    const pod = seedPod(server, 'flaky');
    await waitFor(() => cache.byName('shop', 'flaky') !== undefined);
    server.failNext('DELETE', '/pods/flaky', 2, 503, 'ServiceUnavailable');
    // A Retry-After past the bound is not waited for: the action fails at once.
    server.failNext('DELETE', '/pods/flaky', 1, 429, 'TooManyRequests', 3600);
    const outcomes = [];
    for (let i = 0; i < 4; i++)
      outcomes.push(...(await executor.execute(verdictFor(pod, [{ deletePod: {} }]))));
    assert.deepEqual(
      outcomes.map((o) => o.outcome),
      ['failed', 'failed', 'succeeded', 'deduplicated'],
      JSON.stringify(outcomes),
    );
    assert.match(outcomes[0]!.detail ?? '', /503/);
    assert.match(outcomes[1]!.detail ?? '', /429/);
    assert.deepEqual(
      server.requestsMatching('DELETE', '/pods/flaky').map((r) => r.status),
      [503, 503, 429, 200],
    );
    assert.equal(server.get('v1', 'Pod', 'shop', 'flaky'), undefined);
  });

  it('a refusal by the API server (403) is not retried', async () => {
    const executor = new ActionExecutor({ kubeConfig: server.kubeConfig(), lookup: cache });
    const pod = seedPod(server, 'forbidden');
    await waitFor(() => cache.byName('shop', 'forbidden') !== undefined);
    server.failNext('DELETE', '/pods/forbidden', 1, 403, 'Forbidden');
    const [o] = await executor.execute(verdictFor(pod, [{ deletePod: {} }]));
    assert.equal(o!.outcome, 'failed');
    assert.equal(server.requestsMatching('DELETE', '/pods/forbidden').length, 1);
  });

  it('a webhook that times out is retried by the next event', async () => {
    let calls = 0;
    const hung: ServerResponse[] = [];
    const hook = createServer((req, res) => {
      req.resume();
      calls++;
      if (calls === 1)
        hung.push(res); // never answers: the action times out
      else res.end('ok');
    });
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
    const port = (hook.address() as { port: number }).port;
    const executor = new ActionExecutor({
      kubeConfig: server.kubeConfig(),
      lookup: cache,
      allowInsecureWebhooks: true,
      webhookDestinations: new WebhookDestinations(['127.0.0.1']),
    });
    const pod = seedPod(server, 'hooked-retry');
    await waitFor(() => cache.byName('shop', 'hooked-retry') !== undefined);
    const v = () =>
      verdictFor(pod, [{ webhook: { url: `http://127.0.0.1:${port}/hook`, timeoutSeconds: 1 } }]);
    try {
      const [first] = await executor.execute(v());
      assert.equal(first!.outcome, 'failed', first!.detail);
      const [second] = await executor.execute(v());
      assert.equal(second!.outcome, 'succeeded', second!.detail);
      const [third] = await executor.execute(v());
      assert.equal(third!.outcome, 'deduplicated');
      assert.equal(calls, 2);
    } finally {
      for (const r of hung) r.destroy();
      hook.close();
    }
  });
});
