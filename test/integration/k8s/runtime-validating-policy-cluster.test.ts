import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ClusterAgent } from '../../../src/app/cluster-agent.js';
import type { FakeApiServer } from './fake-apiserver/server.js';
import { runtimeEvent, seedPod, startCluster, WAIT_MS, waitFor } from './helpers.js';

const policy = (kind: string, namespace?: string): Record<string, unknown> => ({
  apiVersion: 'runtime.kyverno.io/v1alpha1',
  kind,
  metadata: { name: `no-shell-${kind.toLowerCase()}`, ...(namespace ? { namespace } : {}) },
  spec: {
    validationActions: ['Audit'],
    behaviors: ['process-exec'],
    matchConstraints: {
      resourceRules: [{ apiGroups: [''], apiVersions: ['v1'], resources: ['pods'], operations: ['*'] }],
    },
    variables: [{ name: 'bin', expression: 'event.process.binary' }],
    validations: [
      {
        expression: "!variables.bin.endsWith('/sh')",
        messageExpression: "'shell ' + variables.bin + ' in ' + object.metadata.name",
      },
    ],
  },
});

describe('RuntimeValidatingPolicy from the cluster', () => {
  let server: FakeApiServer;
  let agent: ClusterAgent;

  before(async () => {
    server = await startCluster();
    agent = new ClusterAgent({
      kubeConfig: server.kubeConfig(),
      mode: 'daemonset',
      nodeName: 'node-1',
      namespace: 'kube-system',
      reportMinIntervalMs: 20,
      informer: { statusSpreadMs: 50 },
    });
    await agent.start(WAIT_MS);
  });
  after(async () => {
    await agent.stop();
    await server.close();
  });

  it('watches both kinds, marks them Ready and evaluates the pod from the cache', async () => {
    server.seed(policy('RuntimeValidatingPolicy'));
    server.seed(policy('NamespacedRuntimeValidatingPolicy', 'other'));
    await waitFor(() => agent.policyWatcher!.policies.length === 2, WAIT_MS, 'policies compiled');
    await waitFor(
      () =>
        (
          server.get(
            'runtime.kyverno.io/v1alpha1',
            'RuntimeValidatingPolicy',
            undefined,
            'no-shell-runtimevalidatingpolicy',
          ) as any
        )?.status?.conditions?.[0]?.status === 'True',
      WAIT_MS,
      'Ready=True',
    );
    const pod = seedPod(server, 'web-1');
    await waitFor(() => agent.pods.byName('shop', 'web-1') !== undefined);
    const { verdicts } = await agent.handleEvent(
      runtimeEvent(pod, 'process-exec', { process: { binary: '/bin/sh' } }),
    );
    // The namespaced policy lives in `other`: only the cluster-wide one applies to shop/web-1.
    assert.deepEqual(
      verdicts.map((v) => [v.policy, v.message]),
      [['no-shell-runtimevalidatingpolicy', 'shell /bin/sh in web-1']],
    );
  });

  it('a bad expression marks the policy not Ready with file:line:col', async () => {
    const bad = policy('RuntimeValidatingPolicy');
    (bad.metadata as any).name = 'bad';
    (bad.spec as any).validations = [{ expression: 'variables.nope' }];
    server.seed(bad);
    await waitFor(
      () =>
        (server.get('runtime.kyverno.io/v1alpha1', 'RuntimeValidatingPolicy', undefined, 'bad') as any)
          ?.status?.conditions?.[0]?.status === 'False',
      WAIT_MS,
      'Ready=False',
    );
    const st = (server.get('runtime.kyverno.io/v1alpha1', 'RuntimeValidatingPolicy', undefined, 'bad') as any)
      .status;
    assert.match(st.conditions[0].message, /:\d+:\d+: validation: undeclared variable `variables.nope`/);
  });
});
