import assert from 'node:assert/strict';
import { createServer, type IncomingMessage } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { ActionExecutor } from '../../../src/actions/executor.js';
import { WebhookDestinations } from '../../../src/actions/webhook-destination.js';
import { EventRecorder } from '../../../src/k8s/events.js';
import { PodCache } from '../../../src/k8s/pod-cache.js';
import type { FakeApiServer } from './fake-apiserver/server.js';
import { runtimeEvent, seedPod, startCluster, verdictFor, waitFor } from './helpers.js';

/** The selector and pod template every apps/v1 workload must carry. */
const WORKLOAD_SPEC = {
  selector: { matchLabels: { app: 'web' } },
  template: {
    metadata: { labels: { app: 'web' } },
    spec: { containers: [{ name: 'app', image: 'nginx:1.27' }] },
  },
};

describe('action safety limits', () => {
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

  it('1,000 identical events for one pod make exactly one deletePod', async () => {
    const executor = new ActionExecutor({ kubeConfig: server.kubeConfig(), lookup: cache });
    const pod = seedPod(server, 'noisy');
    await waitFor(() => cache.byName('shop', 'noisy') !== undefined);
    const outcomes = await Promise.all(
      Array.from({ length: 1000 }, () => executor.execute(verdictFor(pod, [{ deletePod: {} }]))),
    );
    const flat = outcomes.flat();
    assert.equal(flat.filter((o) => o.outcome === 'succeeded').length, 1);
    assert.equal(flat.filter((o) => o.outcome === 'deduplicated').length, 999);
    assert.equal(server.requestsMatching('DELETE', '/pods/noisy').length, 1);
  });

  it('1,000 pods violating at once: the API budget holds and every pod is handled', async () => {
    const rate = 400;
    const burst = 50;
    const executor = new ActionExecutor({
      kubeConfig: server.kubeConfig(),
      lookup: cache,
      perPolicy: { rate: 10_000, burst: 10_000 },
      apiBudget: { rate, burst },
    });
    server.recordRequests = true;
    const pods = Array.from({ length: 1000 }, (_, i) =>
      seedPod(server, `burst-${i}`, { labels: { app: 'burst' } }),
    );
    await waitFor(() => cache.byName('shop', 'burst-999') !== undefined);
    const started = process.hrtime.bigint();
    const outcomes = (
      await Promise.all(pods.map((p) => executor.execute(verdictFor(p, [{ deletePod: {} }]))))
    ).flat();
    const elapsedS = Number(process.hrtime.bigint() - started) / 1e9;
    assert.equal(
      outcomes.filter((o) => o.outcome === 'succeeded').length,
      1000,
      JSON.stringify(outcomes.find((o) => o.outcome !== 'succeeded')),
    );
    assert.equal(
      server.list('v1', 'Pod', 'shop').filter((p) => p.metadata.name.startsWith('burst-')).length,
      0,
    );
    // The budget itself (at most burst + rate grants in any window) is checked on grant times in
    // test/integration/actions/token-bucket-budget.test.ts. Here, arrival times at the fake server share this
    // process's event loop and bunch up after a stall, so only the overall pace is asserted.
    const times = server
      .requestsMatching('DELETE', '/pods/burst-')
      .map((r) => Number(r.receivedAt - started) / 1e9)
      .sort((a, b) => a - b);
    assert.equal(times.length, 1000);
    assert.ok(elapsedS >= (1000 - burst) / rate - 0.1, `finished too fast for the budget: ${elapsedS}s`);
    // The bucket starts with `burst` tokens; the last of the paced grants comes (1000 - burst) / rate
    // after the start at the earliest, and no request arrives before its grant. Measured from the
    // start (not from the first arrival, which a stalled event loop can delay), so a stall cannot
    // shrink the window.
    const last = times.at(-1)!;
    assert.ok(
      last >= ((1000 - burst) / rate) * 0.95,
      `the 1000th DELETE arrived ${last.toFixed(2)} s after the start`,
    );
  });

  it('per-policy rate limit refuses a runaway policy (and lets the next event retry)', async () => {
    const executor = new ActionExecutor({
      kubeConfig: server.kubeConfig(),
      lookup: cache,
      perPolicy: { rate: 1, burst: 2 },
    });
    const pods = Array.from({ length: 5 }, (_, i) => seedPod(server, `limited-${i}`));
    await waitFor(() => cache.byName('shop', 'limited-4') !== undefined);
    const outcomes = (
      await Promise.all(
        pods.map((p) => executor.execute(verdictFor(p, [{ label: { labels: { hit: 'yes' } } }]))),
      )
    ).flat();
    assert.equal(outcomes.filter((o) => o.outcome === 'succeeded').length, 2);
    assert.equal(outcomes.filter((o) => o.outcome === 'rate-limited').length, 3);
    await new Promise((r) => setTimeout(r, 1100));
    const retry = await executor.execute(verdictFor(pods[4]!, [{ label: { labels: { hit: 'yes' } } }]));
    assert.equal(retry[0]!.outcome, 'succeeded', 'not deduplicated after being rate-limited');
  });

  it('a DaemonSet agent acts only on its own node’s pods', async () => {
    const executor = new ActionExecutor({
      kubeConfig: server.kubeConfig(),
      lookup: cache,
      nodeName: 'node-1',
    });
    const pod = seedPod(server, 'on-node-2', { node: 'node-2' });
    await waitFor(() => cache.byName('shop', 'on-node-2') !== undefined);
    const [o] = await executor.execute(verdictFor(pod, [{ deletePod: {} }]));
    assert.equal(o!.outcome, 'skipped');
    assert.ok(server.get('v1', 'Pod', 'shop', 'on-node-2'));
  });

  it('scales the owning Deployment through the scale subresource and cordons the node', async () => {
    const dep = server.seed({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web', namespace: 'shop' },
      spec: { replicas: 3, ...WORKLOAD_SPEC },
    });
    const rs = server.seed({
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: {
        name: 'web-7d9f',
        namespace: 'shop',
        ownerReferences: [
          {
            apiVersion: 'apps/v1',
            kind: 'Deployment',
            name: 'web',
            uid: dep.metadata.uid!,
            controller: true,
          },
        ],
      },
      spec: { replicas: 3, ...WORKLOAD_SPEC },
    });
    const pod = seedPod(server, 'web-7d9f-abcde', {
      owner: { kind: 'ReplicaSet', name: 'web-7d9f', uid: rs.metadata.uid! },
    });
    await waitFor(() => cache.byName('shop', 'web-7d9f-abcde') !== undefined);
    const executor = new ActionExecutor({ kubeConfig: server.kubeConfig(), lookup: cache });
    const outcomes = await executor.execute(verdictFor(pod, [{ scale: { replicas: 0 } }, { cordon: {} }]));
    assert.deepEqual(
      outcomes.map((o) => o.outcome),
      ['succeeded', 'succeeded'],
      JSON.stringify(outcomes),
    );
    assert.equal((server.get('apps/v1', 'Deployment', 'shop', 'web')!.spec as any).replicas, 0);
    assert.equal((server.get('v1', 'Node', undefined, 'node-1')!.spec as any).unschedulable, true);
    assert.equal(server.requestsMatching('PATCH', '/deployments/web/scale').length, 1);
    assert.deepEqual(server.invalid, []);
  });

  it('records an Event and calls a webhook with a bearer token from a Secret', async () => {
    server.seed({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'hook', namespace: 'shop' },
      data: { token: Buffer.from('s3cret\n').toString('base64') },
    });
    const received: { auth: string | undefined; body: any }[] = [];
    const hook = createServer((req: IncomingMessage, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        received.push({ auth: req.headers.authorization, body: JSON.parse(body) });
        res.end('ok');
      });
    });
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
    const port = (hook.address() as { port: number }).port;
    const kc = server.kubeConfig();
    const executor = new ActionExecutor({
      kubeConfig: kc,
      lookup: cache,
      events: new EventRecorder({ kubeConfig: kc }),
      allowInsecureWebhooks: true,
      // A loopback receiver must be allowed explicitly.
      webhookDestinations: new WebhookDestinations(['127.0.0.1']),
      namespace: 'shop',
    });
    const pod = seedPod(server, 'hooked');
    await waitFor(() => cache.byName('shop', 'hooked') !== undefined);
    const outcomes = await executor.execute(
      verdictFor(
        pod,
        [
          { event: { reason: 'ShellSpawned', message: 'shell in {{ request.object.metadata.name }}' } },
          { webhook: { url: `http://127.0.0.1:${port}/hook`, secretRef: { name: 'hook' } } },
        ],
        {
          event: runtimeEvent(pod, 'process-exec'),
        },
      ),
    );
    hook.close();
    assert.equal(outcomes[1]!.outcome, 'succeeded', outcomes[1]!.detail);
    assert.equal(received.length, 1);
    assert.equal(received[0]!.auth, 'Bearer s3cret');
    assert.equal(received[0]!.body.policy, 'no-shell');
    assert.equal(received[0]!.body.resource.name, 'hooked');
    const strict = new ActionExecutor({ kubeConfig: kc, lookup: cache });
    const refused = await strict.execute(
      verdictFor(pod, [{ webhook: { url: `http://127.0.0.1:${port}/hook` } }], { rule: 'r2' }),
    );
    assert.equal(refused[0]!.outcome, 'failed');
    assert.match(refused[0]!.detail ?? '', /https only/);
    assert.equal(outcomes[0]!.outcome, 'succeeded', outcomes[0]!.detail);
    await waitFor(() =>
      server.list('events.k8s.io/v1', 'Event', 'shop').some((e: any) => e.reason === 'ShellSpawned'),
    );
    const ev = (server.list('events.k8s.io/v1', 'Event', 'shop') as any[]).find(
      (e) => e.reason === 'ShellSpawned',
    );
    assert.equal(ev.note, 'shell in hooked', '{{ }} variables rendered');
    assert.equal(ev.type, 'Warning');
  });
});
