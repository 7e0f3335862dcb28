import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ClusterAgent } from '../../../src/app/cluster-agent.js';
import type { FakeApiServer } from './fake-apiserver/server.js';
import { runtimeEvent, seedPod, startCluster, WAIT_MS, waitFor } from './helpers.js';

/** Shells are allowed only when the ConfigMap `shell-policy` in the pod's namespace says so. */
const policy = (name: string, paramRef: Record<string, unknown>): Record<string, unknown> => ({
  apiVersion: 'runtime.kyverno.io/v1alpha1',
  kind: 'RuntimeValidatingPolicy',
  metadata: { name },
  spec: {
    validationActions: ['Audit'],
    behaviors: ['process-exec'],
    paramKind: { apiVersion: 'v1', kind: 'ConfigMap' },
    paramRef,
    matchConstraints: {
      resourceRules: [{ apiGroups: [''], apiVersions: ['v1'], resources: ['pods'], operations: ['*'] }],
    },
    validations: [
      {
        expression: "params.data.allowShell == 'true' || !event.process.binary.endsWith('/sh')",
        messageExpression: "'shell not allowed by ' + params.metadata.name",
      },
    ],
  },
});

const configMap = (allowShell: string, name = 'shell-policy', labels?: Record<string, string>) => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, namespace: 'shop', ...(labels ? { labels } : {}) },
  data: { allowShell },
});

describe('RuntimeValidatingPolicy params from the API server', () => {
  let server: FakeApiServer;
  let agent: ClusterAgent;

  before(async () => {
    server = await startCluster();
    agent = new ClusterAgent({
      kubeConfig: server.kubeConfig(),
      mode: 'daemonset',
      nodeName: 'node-1',
      namespace: 'kube-system',
      reports: false,
    });
    await agent.start(WAIT_MS);
  });
  after(async () => {
    await agent.stop();
    await server.close();
  });

  const shellIn = async (pod: ReturnType<typeof seedPod>): Promise<string[]> => {
    const { verdicts } = await agent.handleEvent(
      runtimeEvent(pod, 'process-exec', { process: { pid: 1, binary: '/bin/sh' } }),
    );
    return verdicts.map((v) => `${v.policy}: ${v.message}`);
  };

  it('a ConfigMap param created and then updated after start changes the verdict', async () => {
    server.seed(policy('shell-by-name', { name: 'shell-policy', parameterNotFoundAction: 'Deny' }));
    const pod = seedPod(server, 'web-1');
    await waitFor(() => agent.pods.byName('shop', 'web-1') !== undefined);
    await waitFor(() => agent.policyWatcher!.policies.length === 1, WAIT_MS, 'policy compiled');
    await waitFor(() => agent.params.synced, WAIT_MS, 'ConfigMaps listed');

    // No ConfigMap yet: parameterNotFoundAction Deny makes every matching event a violation.
    assert.deepEqual(await shellIn(pod), ['shell-by-name: no params found for policy shell-by-name']);

    server.seed(configMap('true'));
    await waitFor(async () => (await shellIn(pod)).length === 0, WAIT_MS, 'param allows the shell');

    server.seed(configMap('false'));
    await waitFor(
      async () => (await shellIn(pod)).join() === 'shell-by-name: shell not allowed by shell-policy',
      WAIT_MS,
      'updated param denies the shell',
    );

    // Deleted: back to "not found".
    server.remove('v1', 'ConfigMap', 'shop', 'shell-policy');
    await waitFor(
      async () => (await shellIn(pod)).join() === 'shell-by-name: no params found for policy shell-by-name',
      WAIT_MS,
      'deleted param is not found',
    );
    server.remove('runtime.kyverno.io/v1alpha1', 'RuntimeValidatingPolicy', undefined, 'shell-by-name');
    await waitFor(() => agent.policyWatcher!.policies.length === 0, WAIT_MS, 'policy removed');
  });

  it('a ConfigMap of the same name in another namespace is not the pod namespace param', async () => {
    server.seed(policy('shell-ns', { name: 'shell-policy', parameterNotFoundAction: 'Deny' }));
    server.seed({ ...configMap('true'), metadata: { name: 'shell-policy', namespace: 'kube-system' } });
    const pod = seedPod(server, 'web-2');
    await waitFor(() => agent.pods.byName('shop', 'web-2') !== undefined);
    await waitFor(() => agent.policyWatcher!.policies.length === 1, WAIT_MS, 'policy compiled');
    await waitFor(() => agent.params.synced, WAIT_MS, 'ConfigMaps listed');
    assert.deepEqual(await shellIn(pod), ['shell-ns: no params found for policy shell-ns']);
    server.remove('runtime.kyverno.io/v1alpha1', 'RuntimeValidatingPolicy', undefined, 'shell-ns');
    await waitFor(() => agent.policyWatcher!.policies.length === 0, WAIT_MS, 'policy removed');
  });

  it('paramRef.selector binds every labelled ConfigMap; Allow skips the policy when none match', async () => {
    server.seed(
      policy('shell-by-label', {
        selector: { matchLabels: { 'shell-policy': 'yes' } },
        parameterNotFoundAction: 'Allow',
      }),
    );
    const pod = seedPod(server, 'web-3');
    await waitFor(() => agent.pods.byName('shop', 'web-3') !== undefined);
    await waitFor(() => agent.policyWatcher!.policies.length === 1, WAIT_MS, 'policy compiled');
    await waitFor(() => agent.params.synced, WAIT_MS, 'ConfigMaps listed');
    // No labelled ConfigMap: Allow.
    assert.deepEqual(await shellIn(pod), []);
    server.seed(configMap('false', 'strict', { 'shell-policy': 'yes' }));
    server.seed(configMap('true', 'lenient', { 'shell-policy': 'yes' }));
    server.seed(configMap('false', 'unlabelled'));
    // Each bound param is evaluated: the strict one fails, the lenient one passes.
    await waitFor(
      async () => (await shellIn(pod)).join() === 'shell-by-label: shell not allowed by strict',
      WAIT_MS,
      'strict param denies',
    );
  });

  it('stops watching a paramKind no policy names any more', async () => {
    server.remove('runtime.kyverno.io/v1alpha1', 'RuntimeValidatingPolicy', undefined, 'shell-by-label');
    await waitFor(() => agent.policyWatcher!.policies.length === 0, WAIT_MS, 'policy removed');
    assert.equal(agent.params.find({ apiVersion: 'v1', kind: 'ConfigMap', namespace: 'shop' }), undefined);
  });
});
