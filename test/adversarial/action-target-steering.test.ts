import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ActionExecutor } from '../../src/actions/executor.js';
import { PodCache } from '../../src/k8s/pod-cache.js';
import type { FakeApiServer } from '../integration/k8s/fake-apiserver/server.js';
import {
  runtimeEvent,
  seedPod,
  startCluster,
  verdictFor,
  WAIT_MS,
  waitFor,
} from '../integration/k8s/helpers.js';

describe('an event cannot steer a node action to another node', () => {
  let server: FakeApiServer;
  let cache: PodCache;
  before(async () => {
    server = await startCluster();
    cache = new PodCache({ kubeConfig: server.kubeConfig() });
    await cache.start(WAIT_MS);
  });
  after(async () => {
    await cache.stop();
    await server.close();
  });

  it('cordon and drain act on the pod’s own node, whatever node the event names', async () => {
    const executor = new ActionExecutor({ kubeConfig: server.kubeConfig(), lookup: cache });
    const pod = seedPod(server, 'steer', { node: 'node-1' });
    await waitFor(() => cache.byName('shop', 'steer') !== undefined, WAIT_MS, 'cached');
    const forged = runtimeEvent(pod, 'process-exec', { node: 'node-2' });
    const [o] = await executor.execute(verdictFor(pod, [{ cordon: {} }], { event: forged }));
    assert.equal(o!.outcome, 'succeeded', o!.detail);
    assert.equal((server.get('v1', 'Node', undefined, 'node-2') as any).spec.unschedulable, undefined);
    assert.equal((server.get('v1', 'Node', undefined, 'node-1') as any).spec.unschedulable, true);
  });

  it('a pod the cluster view does not know (only the event names it) is not cordoned at all', async () => {
    const executor = new ActionExecutor({ kubeConfig: server.kubeConfig(), lookup: cache });
    const ghost = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'ghost', namespace: 'shop', uid: 'not-a-real-uid' },
    } as any;
    const forged = runtimeEvent(ghost, 'process-exec', { node: 'node-2' });
    const [o] = await executor.execute(verdictFor(ghost, [{ drain: {} }], { event: forged }));
    assert.equal(o!.outcome, 'skipped', o!.detail);
    assert.equal(server.requestsMatching('PATCH', '/nodes/').length, 1, 'only the previous test’s cordon');
  });
});
