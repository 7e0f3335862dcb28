/**
 * A tenant who may create ConfigMaps (the usual paramKind) floods the cluster with them: the agent's
 * per-kind parameter cache stops growing at its limit and counts what it dropped.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { loadPolicyText } from '../../src/policy/index.js';
import { ParamWatcher } from '../../src/k8s/params.js';
import { registry } from '../../src/observability/metrics.js';
import type { FakeApiServer } from '../integration/k8s/fake-apiserver/server.js';
import { startCluster, WAIT_MS, waitFor } from '../integration/k8s/helpers.js';

const POLICY = `apiVersion: runtime.kyverno.io/v1alpha1
kind: RuntimeValidatingPolicy
metadata: {name: by-param}
spec:
  behaviors: [process-exec]
  paramKind: {apiVersion: v1, kind: ConfigMap}
  paramRef: {selector: {}}
  matchConstraints:
    resourceRules:
      - {apiGroups: [''], apiVersions: [v1], resources: [pods], operations: ['*']}
  validations:
    - expression: "params.data.ok == 'true'"
`;

async function dropped(): Promise<number> {
  const { values } = await registry.getSingleMetric('kyverno_runtime_param_objects_dropped_total')!.get();
  return values.find((v) => v.labels.kind === 'ConfigMap')?.value ?? 0;
}

describe('parameter cache under a ConfigMap flood', () => {
  let server: FakeApiServer;
  let params: ParamWatcher;
  before(async () => {
    server = await startCluster();
    params = new ParamWatcher({ kubeConfig: server.kubeConfig(), maxObjectsPerKind: 5 });
  });
  after(async () => {
    await params.stop();
    await server.close();
  });

  it('keeps at most the per-kind limit of parameter objects and counts the rest as dropped', async () => {
    const before = await dropped();
    for (let i = 0; i < 8; i++)
      server.seed({
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: `flood-${i}`, namespace: 'shop' },
        data: { ok: 'true', pad: 'x'.repeat(1000) },
      });
    const { policies, errors } = loadPolicyText(POLICY, 'p.yaml');
    assert.deepEqual(errors, []);
    params.setPolicies(policies);
    await waitFor(() => params.synced, WAIT_MS, 'ConfigMaps listed');
    assert.equal(params.find({ apiVersion: 'v1', kind: 'ConfigMap', namespace: 'shop' })?.length, 5);
    // Created after the list (through the watch): dropped as well.
    server.seed({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'late', namespace: 'shop' } });
    await waitFor(async () => (await dropped()) - before === 4, WAIT_MS, 'four dropped');
    assert.equal(params.find({ apiVersion: 'v1', kind: 'ConfigMap', namespace: 'shop' })?.length, 5);
  });
});
