import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ClusterAgent } from '../../../src/app/cluster-agent.js';
import type { FakeApiServer } from './fake-apiserver/server.js';
import { runtimeEvent, seedPod, startCluster, WAIT_MS, waitFor } from './helpers.js';

function policy(
  binaryPattern: string,
  mode: 'Audit' | 'Enforce',
  extraRule = false,
): Record<string, unknown> {
  const rule = (name: string, pattern: string): Record<string, unknown> => ({
    name,
    match: { any: [{ resources: { kinds: ['Pod'] } }] },
    restrict: {
      message: 'shell started',
      behaviors: ['process-exec'],
      pattern: { event: { process: { binary: pattern } } },
      actions: [{ label: { labels: { 'security.example.com/shell': 'seen' } } }],
    },
  });
  return {
    apiVersion: 'runtime.kyverno.io/v1alpha1',
    kind: 'ClusterRuntimePolicy',
    metadata: { name: 'no-shell', annotations: { 'policies.kyverno.io/severity': 'high' } },
    spec: {
      failureAction: mode,
      rules: [rule('deny-shell', binaryPattern), ...(extraRule ? [rule('deny-curl', '*/curl')] : [])],
    },
  };
}

describe('policies from the cluster', () => {
  let server: FakeApiServer;
  let agent: ClusterAgent;
  let swaps = 0;

  before(async () => {
    server = await startCluster();
    agent = new ClusterAgent({
      kubeConfig: server.kubeConfig(),
      mode: 'daemonset',
      nodeName: 'node-1',
      namespace: 'kube-system',
      reportMinIntervalMs: 20,
      // Leaderless status writes, spread over a short window for the test.
      informer: { statusSpreadMs: 50 },
      onEngine: () => swaps++,
    });
    await agent.start(WAIT_MS);
  });
  after(async () => {
    await agent.stop();
    await server.close();
  });

  it('compiles a ClusterRuntimePolicy, marks it Ready and evaluates with it', async () => {
    server.seed(policy('*/sh', 'Audit'));
    await waitFor(() => agent.policyWatcher!.policies.length === 1, WAIT_MS, 'policy compiled');
    await waitFor(
      () =>
        (server.get('runtime.kyverno.io/v1alpha1', 'ClusterRuntimePolicy', undefined, 'no-shell') as any)
          ?.status?.conditions?.[0]?.status === 'True',
      WAIT_MS,
      'Ready=True',
    );
    const st = (
      server.get('runtime.kyverno.io/v1alpha1', 'ClusterRuntimePolicy', undefined, 'no-shell') as any
    ).status;
    assert.equal(st.conditions[0].type, 'Ready');
    assert.equal(st.conditions[0].reason, 'Compiled');
    assert.equal(st.observedGeneration, 1);

    const pod = seedPod(server, 'web-1');
    await waitFor(() => agent.pods.byName('shop', 'web-1') !== undefined);
    const { verdicts, outcomes } = await agent.handleEvent(
      runtimeEvent(pod, 'process-exec', { process: { binary: '/bin/sh' } }),
    );
    assert.equal(verdicts.length, 1);
    assert.equal(verdicts[0]!.mode, 'Audit');
    assert.deepEqual(outcomes, [], 'Audit runs no action');
  });

  it('takes an edited policy into effect without restart', async () => {
    const swapsBefore = swaps;
    server.seed(policy('*/bash', 'Enforce', true));
    await waitFor(
      () => swaps > swapsBefore && agent.engine.policies[0]?.rules.length === 2,
      WAIT_MS,
      'engine swapped',
    );
    const pod = seedPod(server, 'web-2');
    await waitFor(() => agent.pods.byName('shop', 'web-2') !== undefined);
    const sh = await agent.handleEvent(runtimeEvent(pod, 'process-exec', { process: { binary: '/bin/sh' } }));
    assert.equal(sh.verdicts.length, 0, '/bin/sh no longer matches');
    const bash = await agent.handleEvent(
      runtimeEvent(pod, 'process-exec', { process: { binary: '/bin/bash' } }),
    );
    assert.equal(bash.verdicts.length, 1);
    assert.equal(bash.verdicts[0]!.mode, 'Enforce');
    assert.equal(bash.outcomes[0]!.outcome, 'succeeded');
    assert.equal(
      server.get('v1', 'Pod', 'shop', 'web-2')!.metadata.labels?.['security.example.com/shell'],
      'seen',
    );
    await waitFor(
      () =>
        (server.get('runtime.kyverno.io/v1alpha1', 'ClusterRuntimePolicy', undefined, 'no-shell') as any)
          ?.status?.observedGeneration === 2,
      WAIT_MS,
      'status observedGeneration 2',
    );
  });

  it('reports a broken policy as Ready=False with its errors and keeps the others', async () => {
    const broken = policy('*/sh', 'Enforce');
    broken.metadata = { name: 'broken' };
    // Valid for the CRD schema, rejected by the compiler: a restrict rule must name its behaviors.
    delete (broken.spec as any).rules[0].restrict.behaviors;
    server.seed(broken);
    await waitFor(
      () =>
        (server.get('runtime.kyverno.io/v1alpha1', 'ClusterRuntimePolicy', undefined, 'broken') as any)
          ?.status?.conditions?.[0]?.status === 'False',
      WAIT_MS,
      'Ready=False',
    );
    const cond = (
      server.get('runtime.kyverno.io/v1alpha1', 'ClusterRuntimePolicy', undefined, 'broken') as any
    ).status.conditions[0];
    assert.equal(cond.reason, 'Invalid');
    assert.match(cond.message, /cluster:ClusterRuntimePolicy\/broken:\d+:\d+: .*behaviors/);
    assert.equal(agent.policyWatcher!.policies.length, 1, 'the good policy stays loaded');
    assert.deepEqual(server.invalid, []);
  });

  it('drops a deleted policy', async () => {
    server.remove('runtime.kyverno.io/v1alpha1', 'ClusterRuntimePolicy', undefined, 'no-shell');
    await waitFor(() => agent.engine.policies.length === 0, WAIT_MS, 'policy removed');
  });
});
