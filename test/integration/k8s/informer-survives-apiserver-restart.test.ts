import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { PodCache } from '../../../src/k8s/pod-cache.js';
import { registry } from '../../../src/observability/metrics.js';
import type { FakeApiServer } from './fake-apiserver/server.js';
import { seedPod, startCluster, WAIT_MS, waitFor } from './helpers.js';

async function metric(name: string, labels: Record<string, string>): Promise<number> {
  const m = await registry.getSingleMetric(name)?.get();
  return (m?.values ?? [])
    .filter((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val))
    .reduce((a, v) => a + v.value, 0);
}

describe('informers survive the API server', () => {
  let server: FakeApiServer;
  let cache: PodCache;

  before(async () => {
    server = await startCluster();
    cache = new PodCache({
      kubeConfig: server.kubeConfig(),
      relistIntervalMs: 0,
      stallTimeoutMs: 600,
      backoffInitialMs: 20,
    });
    await cache.start(WAIT_MS);
  });
  after(async () => {
    await cache.stop();
    await server.close();
  });

  it('asks for bookmarks and watches from the listed resourceVersion', async () => {
    await waitFor(() =>
      server.requestsMatching('GET', '/api/v1/pods').some((r) => r.query.get('watch') === 'true'),
    );
    const watch = server
      .requestsMatching('GET', '/api/v1/pods')
      .find((r) => r.query.get('watch') === 'true')!;
    assert.equal(watch.query.get('allowWatchBookmarks'), 'true');
    assert.notEqual(watch.query.get('resourceVersion'), '');
  });

  it('resumes after a restart mid-stream, relisting on 410 Gone, and drops pods deleted meanwhile', async () => {
    const keep = seedPod(server, 'keep');
    const doomed = seedPod(server, 'doomed');
    await waitFor(() => cache.byName('shop', 'doomed') !== undefined);
    const gone0 = await metric('kyverno_runtime_k8s_watch_restarts_total', {
      resource: 'pods',
      reason: 'gone',
    });

    server.setDown(true);
    await waitFor(() => !cache.pods.synced || server.watchCount === 0, WAIT_MS, 'watch dropped');
    // While it is down, the world changes and history is compacted (as after an etcd compaction).
    server.remove('v1', 'Pod', 'shop', 'doomed');
    const born = seedPod(server, 'born-during-outage');
    server.restart({ compact: true });
    server.setDown(false);

    await waitFor(
      () => cache.byName('shop', 'born-during-outage') !== undefined,
      WAIT_MS,
      'new pod after restart',
    );
    await waitFor(() => cache.byName('shop', 'doomed') === undefined, WAIT_MS, 'deleted pod removed');
    assert.equal(cache.byName('shop', 'keep')?.metadata?.uid, keep.metadata.uid);
    assert.equal(cache.byPodUid(doomed.metadata.uid!), undefined, 'index cleaned on delete');
    assert.equal(cache.byPodUid(born.metadata.uid!)?.metadata?.name, 'born-during-outage');
    await waitFor(() => cache.synced, WAIT_MS, 'namespaces and nodes resynced too');
    assert.ok(
      (await metric('kyverno_runtime_k8s_watch_restarts_total', { resource: 'pods', reason: 'gone' })) >
        gone0,
      `410 counted: ${JSON.stringify((await registry.getSingleMetric('kyverno_runtime_k8s_watch_restarts_total')?.get())?.values)} ${JSON.stringify(
        server
          .requestsMatching('GET', '/api/v1/pods')
          .slice(-4)
          .map((r) => [r.query.get('resourceVersion'), r.status]),
      )}`,
    );
  });

  it('detects a silently stalled watch and recovers', async () => {
    const stalled0 = await metric('kyverno_runtime_k8s_watch_restarts_total', {
      resource: 'pods',
      reason: 'stalled',
    });
    await waitFor(() => server.watchCount >= 3, WAIT_MS, 'all watches connected');
    server.stallWatches();
    seedPod(server, 'after-stall');
    await waitFor(() => cache.byName('shop', 'after-stall') !== undefined, WAIT_MS, 'event after stall');
    assert.ok(
      (await metric('kyverno_runtime_k8s_watch_restarts_total', { resource: 'pods', reason: 'stalled' })) >
        stalled0,
    );
  });

  it('keeps namespace labels current for namespaceSelector', async () => {
    server.seed({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop', labels: { env: 'prod' } } });
    await waitFor(() => cache.namespaceLabels('shop')?.env === 'prod');
  });
});
