import assert from 'node:assert/strict';
import { createServer, type ServerResponse } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { ActionExecutor } from '../../../src/actions/executor.js';
import { WebhookDestinations } from '../../../src/actions/webhook-destination.js';
import { PodCache } from '../../../src/k8s/pod-cache.js';
import type { FakeApiServer } from './fake-apiserver/server.js';
import { seedPod, startCluster, verdictFor, waitFor } from './helpers.js';

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

  it('deletePod answered 429 then 500 is retried by the next events, then deduplicated once done', async () => {
    const executor = new ActionExecutor({ kubeConfig: server.kubeConfig(), lookup: cache });
    const pod = seedPod(server, 'flaky');
    await waitFor(() => cache.byName('shop', 'flaky') !== undefined);
    server.failNext('DELETE', '/pods/flaky', 1, 429, 'TooManyRequests');
    server.failNext('DELETE', '/pods/flaky', 1, 500, 'InternalError');
    const outcomes = [];
    for (let i = 0; i < 4; i++)
      outcomes.push(...(await executor.execute(verdictFor(pod, [{ deletePod: {} }]))));
    assert.deepEqual(
      outcomes.map((o) => o.outcome),
      ['failed', 'failed', 'succeeded', 'deduplicated'],
      JSON.stringify(outcomes),
    );
    assert.match(outcomes[0]!.detail ?? '', /429/);
    assert.match(outcomes[1]!.detail ?? '', /500/);
    assert.equal(server.get('v1', 'Pod', 'shop', 'flaky'), undefined);
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
