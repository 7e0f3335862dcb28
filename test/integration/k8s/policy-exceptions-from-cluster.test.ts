import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ClusterAgent } from '../../../src/app/cluster-agent.js';
import { FakeApiServer } from './fake-apiserver/server.js';
import { runtimeEvent, seedPod, startCluster, WAIT_MS, waitFor } from './helpers.js';

const policy = {
  apiVersion: 'runtime.kyverno.io/v1alpha1',
  kind: 'ClusterRuntimePolicy',
  metadata: { name: 'no-shell' },
  spec: {
    failureAction: 'Enforce',
    rules: [
      {
        name: 'deny-shell',
        match: { any: [{ resources: { kinds: ['Pod'] } }] },
        restrict: {
          behaviors: ['process-exec'],
          pattern: { event: { process: { binary: '*/sh' } } },
          actions: [{ label: { labels: { 'security.example.com/shell': 'seen' } } }],
        },
      },
    ],
  },
};

const v2Exception = (namespace: string) => ({
  apiVersion: 'kyverno.io/v2',
  kind: 'PolicyException',
  metadata: { name: 'debug', namespace },
  spec: {
    exceptions: [{ policyName: 'no-shell', ruleNames: ['deny-shell'] }],
    match: { any: [{ resources: { kinds: ['Pod'], names: ['debug-*'] } }] },
  },
});

describe('PolicyExceptions from the cluster', () => {
  let server: FakeApiServer;
  let agent: ClusterAgent;

  before(async () => {
    server = await startCluster(['shop', 'other', 'kube-system']);
    server.seed(policy);
    agent = new ClusterAgent({
      kubeConfig: server.kubeConfig(),
      mode: 'daemonset',
      nodeName: 'node-1',
      namespace: 'kube-system',
      reportMinIntervalMs: 20,
    });
    await agent.start(WAIT_MS);
    await waitFor(() => agent.engine.policies.length === 1, WAIT_MS, 'policy compiled');
  });
  after(async () => {
    await agent.stop();
    await server.close();
  });

  it('a kyverno.io/v2 exception created in the cluster exempts its pods: skip, no action run', async () => {
    const pod = seedPod(server, 'debug-1');
    await waitFor(() => agent.pods.byName('shop', 'debug-1') !== undefined);
    const before = await agent.handleEvent(runtimeEvent(pod));
    assert.equal(before.verdicts[0]?.exception, undefined);
    assert.equal(before.outcomes[0]?.outcome, 'succeeded');

    server.seed(v2Exception('shop'));
    await waitFor(() => agent.exceptions.size === 1, WAIT_MS, 'exception loaded');
    server.seed({ ...pod, metadata: { ...pod.metadata, labels: {} } });
    const after = await agent.handleEvent(runtimeEvent(pod));
    assert.deepEqual(after.verdicts[0]?.exception, { name: 'debug', namespace: 'shop' });
    assert.deepEqual(after.outcomes, [], 'an exempted rule runs no action');
  });

  it("an exception in one namespace does not exempt another namespace's pods", async () => {
    const pod = seedPod(server, 'debug-2', { namespace: 'other' });
    await waitFor(() => agent.pods.byName('other', 'debug-2') !== undefined);
    const r = await agent.handleEvent(runtimeEvent(pod));
    assert.equal(r.verdicts[0]?.exception, undefined);
    assert.equal(r.outcomes[0]?.outcome, 'succeeded');
  });

  it('a CEL exception is watched too, and a deleted exception stops applying', async () => {
    server.seed({
      apiVersion: 'policies.kyverno.io/v1alpha1',
      kind: 'PolicyException',
      metadata: { name: 'cel-web', namespace: 'shop' },
      spec: {
        policyRefs: [{ name: 'no-shell', kind: 'ClusterRuntimePolicy' }],
        matchConditions: [{ name: 'web', expression: "object.metadata.name == 'web-9'" }],
      },
    });
    await waitFor(() => agent.exceptions.size === 2, WAIT_MS, 'CEL exception loaded');
    const pod = seedPod(server, 'web-9');
    await waitFor(() => agent.pods.byName('shop', 'web-9') !== undefined);
    assert.equal((await agent.handleEvent(runtimeEvent(pod))).verdicts[0]?.exception?.name, 'cel-web');
    server.remove('policies.kyverno.io/v1alpha1', 'PolicyException', 'shop', 'cel-web');
    await waitFor(() => agent.exceptions.size === 1, WAIT_MS, 'CEL exception dropped');
    assert.equal((await agent.handleEvent(runtimeEvent(pod))).verdicts[0]?.exception, undefined);
  });

  it('a broken exception is rejected and the others stay', async () => {
    const broken = v2Exception('shop');
    broken.metadata.name = 'broken';
    (broken.spec.exceptions[0] as { ruleNames: string[] }).ruleNames = [];
    server.seed(broken);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(agent.exceptions.size, 1);
    assert.deepEqual(
      agent.exceptionWatcher!.exceptions.map((e) => e.name),
      ['debug'],
    );
  });
});

describe('PolicyException CRDs not installed', () => {
  it('the agent starts, says so, and evaluates without exceptions', async () => {
    const server = await FakeApiServer.start({
      bookmarkIntervalMs: 200,
      absent: ['kyverno.io/policyexceptions', 'policies.kyverno.io/policyexceptions'],
    });
    server.seed({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } });
    server.seed({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'node-1' }, spec: {} });
    server.seed(policy);
    const warnings: string[] = [];
    const logger = {
      warn: (_o: unknown, m: string) => warnings.push(m),
      info: () => {},
      error: () => {},
      debug: () => {},
    };
    const agent = new ClusterAgent({
      kubeConfig: server.kubeConfig(),
      mode: 'daemonset',
      nodeName: 'node-1',
      logger: logger as never,
    });
    try {
      await agent.start(WAIT_MS);
      assert.deepEqual(agent.exceptionWatcher!.watching, []);
      assert.ok(agent.ready);
      assert.equal(warnings.filter((w) => /CRD not installed/.test(w)).length, 2, warnings.join('\n'));
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(warnings.filter((w) => /CRD not installed/.test(w)).length, 2, 'said once, not retried');
    } finally {
      await agent.stop();
      await server.close();
    }
  });
});
