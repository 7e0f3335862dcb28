import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ClusterAgent } from '../../../src/app/cluster-agent.js';
import { ContextCache } from '../../../src/k8s/context-cache.js';
import type { FakeApiServer } from './fake-apiserver/server.js';
import { runtimeEvent, seedPod, startCluster, WAIT_MS, waitFor } from './helpers.js';

const policy = {
  apiVersion: 'runtime.kyverno.io/v1alpha1',
  kind: 'ClusterRuntimePolicy',
  metadata: { name: 'allow-list' },
  spec: {
    rules: [
      {
        name: 'allowed',
        match: { any: [{ resources: { kinds: ['Pod'] } }] },
        context: [
          {
            name: 'allowed',
            configMap: { name: 'allowed-binaries', namespace: '{{ request.object.metadata.namespace }}' },
          },
        ],
        restrict: {
          behaviors: ['process-exec'],
          conditions: {
            all: [
              {
                key: '{{ event.process.binary }}',
                operator: 'AnyNotIn',
                value: "{{ split(allowed.data.binaries, ',') }}",
              },
            ],
          },
        },
      },
    ],
  },
};

describe('context entries in cluster mode', () => {
  let server: FakeApiServer;
  let agent: ClusterAgent;
  let cache: ContextCache;

  before(async () => {
    server = await startCluster();
    server.seed(policy);
    server.seed({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'allowed-binaries', namespace: 'shop' },
      data: { binaries: '/usr/sbin/nginx,/bin/true' },
    });
    cache = new ContextCache({ kubeConfig: server.kubeConfig(), ttlMs: 200 });
    agent = new ClusterAgent({
      kubeConfig: server.kubeConfig(),
      mode: 'daemonset',
      nodeName: 'node-1',
      namespace: 'kube-system',
      context: cache,
    });
    await agent.start(WAIT_MS);
    await waitFor(() => agent.engine.policies.length === 1, WAIT_MS, 'policy compiled');
  });
  after(async () => {
    await agent.stop();
    await server.close();
  });

  it('reads the allow-list ConfigMap through the cache: an error until loaded, then verdicts; an edit is seen after the TTL', async () => {
    const pod = seedPod(server, 'web-1');
    await waitFor(() => agent.pods.byName('shop', 'web-1') !== undefined);
    const nc = () =>
      agent.handleEvent(runtimeEvent(pod, 'process-exec', { process: { pid: 1, binary: '/bin/nc' } }));
    assert.equal((await nc()).verdicts.length, 0, 'not loaded yet');
    assert.equal(agent.engine.takeRuleErrors().recent[0]?.reason, 'context');
    await cache.settled();
    assert.equal((await nc()).verdicts.length, 1, '/bin/nc is not on the list');
    const nginx = await agent.handleEvent(
      runtimeEvent(pod, 'process-exec', { process: { pid: 2, binary: '/usr/sbin/nginx' } }),
    );
    assert.equal(nginx.verdicts.length, 0);

    server.seed({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'allowed-binaries', namespace: 'shop' },
      data: { binaries: '/usr/sbin/nginx,/bin/nc' },
    });
    await new Promise((r) => setTimeout(r, 250));
    await nc(); // stale: answers with the old list and refreshes
    await cache.settled();
    assert.equal((await nc()).verdicts.length, 0, 'the edited list allows /bin/nc');
  });
});
