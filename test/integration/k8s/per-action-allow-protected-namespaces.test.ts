/**
 * `allowProtectedNamespaces: true` on one action: the policy passes the published schema, the CRD
 * (the fake API server validates custom objects against deploy/crds) and the compiler, and the
 * action runs on a kube-system pod — while the same policy without it is skipped with the documented
 * outcome (`skipped`, "namespace kube-system is protected"), the pod untouched.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CustomObjectsApi } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { ClusterAgent } from '../../../src/app/cluster-agent.js';
import { loadPolicyText } from '../../../src/policy/index.js';
import type { FakeApiServer } from './fake-apiserver/server.js';
import { runtimeEvent, seedPod, startCluster, waitFor } from './helpers.js';

function shellPolicy(name: string, deletePod: Record<string, unknown>): Record<string, unknown> {
  return {
    apiVersion: 'runtime.kyverno.io/v1alpha1',
    kind: 'ClusterRuntimePolicy',
    metadata: { name },
    spec: {
      failureAction: 'Enforce',
      rules: [
        {
          name: 'no-shell',
          match: { any: [{ resources: { kinds: ['Pod'], namespaces: ['kube-system'] } }] },
          restrict: {
            message: 'shell in a system pod',
            behaviors: ['process-exec'],
            pattern: { event: { process: { binary: '*/sh' } } },
            actions: [{ deletePod }],
          },
        },
      ],
    },
  };
}

const allowed = shellPolicy('system-shell-allowed', {
  allowProtectedNamespaces: true,
  gracePeriodSeconds: 0,
});
const plain = shellPolicy('system-shell-plain', { gracePeriodSeconds: 0 });

describe('per-action allowProtectedNamespaces', () => {
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
    });
    await agent.start(5000);
  });
  after(async () => {
    await agent.stop();
    await server.close();
  });

  it('is accepted by the policy schema and compiler, and a non-boolean is refused with its path', () => {
    const ok = loadPolicyText(stringify(allowed), 'allowed.yaml');
    assert.deepEqual(ok.errors, []);
    assert.deepEqual(ok.policies[0]?.rules[0]?.restrict?.actions, [
      { deletePod: { allowProtectedNamespaces: true, gracePeriodSeconds: 0 } },
    ]);
    const bad = shellPolicy('bad', { allowProtectedNamespaces: 'yes' });
    const refused = loadPolicyText(stringify(bad), 'bad.yaml');
    assert.equal(refused.policies.length, 0);
    assert.match(refused.errors.map((e) => e.message).join('\n'), /allowProtectedNamespaces/);
  });

  it('passes the CRD schema on the API server, then deletes the kube-system pod only where allowed', async () => {
    const api = server.kubeConfig().makeApiClient(CustomObjectsApi);
    for (const body of [allowed, plain])
      await api.createClusterCustomObject({
        group: 'runtime.kyverno.io',
        version: 'v1alpha1',
        plural: 'clusterruntimepolicies',
        body,
      });
    assert.deepEqual(server.invalid, [], 'the CRD schema accepts the field');
    await waitFor(() => agent.engine.policies.length === 2, 10_000, 'both policies compiled');

    const pod = seedPod(server, 'coredns-7d4', { namespace: 'kube-system' });
    await waitFor(() => agent.pods.byName('kube-system', 'coredns-7d4') !== undefined, 10_000, 'pod cached');
    const verdicts = agent.engine.evaluate(
      runtimeEvent(pod, 'process-exec', { process: { pid: 77, binary: '/bin/sh' } }),
    );
    const byPolicy = new Map(verdicts.map((v) => [v.policy, v]));
    assert.deepEqual([...byPolicy.keys()].sort(), ['system-shell-allowed', 'system-shell-plain']);

    // Without the field: refused, the pod stays.
    const refused = await agent.handle(byPolicy.get('system-shell-plain')!);
    assert.equal(refused.length, 1);
    assert.equal(refused[0]!.action, 'deletePod');
    assert.equal(refused[0]!.outcome, 'skipped');
    assert.equal(refused[0]!.detail, 'namespace kube-system is protected');
    assert.ok(server.get('v1', 'Pod', 'kube-system', 'coredns-7d4'), 'pod still there');
    assert.equal(server.requestsMatching('DELETE', '/pods/coredns-7d4').length, 0);

    // With it: the pod is deleted.
    const acted = await agent.handle(byPolicy.get('system-shell-allowed')!);
    assert.equal(acted[0]!.outcome, 'succeeded', acted[0]!.detail);
    assert.equal(server.requestsMatching('DELETE', '/pods/coredns-7d4').length, 1);
    assert.equal(server.get('v1', 'Pod', 'kube-system', 'coredns-7d4'), undefined, 'pod deleted');
  });
});
