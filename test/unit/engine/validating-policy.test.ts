import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { evaluateValidatingPolicy, pluralOf } from '../../../src/engine/validate/validating-policy.js';
import { loadPolicyText } from '../../../src/policy/index.js';

const vpol = `apiVersion: policies.kyverno.io/v1alpha1
kind: ValidatingPolicy
metadata: {name: no-host-path}
spec:
  validationActions: [Audit]
  matchConstraints:
    resourceRules:
    - apiGroups: [""]
      apiVersions: [v1]
      operations: [CREATE, UPDATE]
      resources: [pods]
  matchConditions:
  - name: not-system
    expression: "request.namespace != 'kube-system'"
  variables:
  - name: volumes
    expression: "object.spec.?volumes.orValue([])"
  validations:
  - expression: "variables.volumes.all(v, !has(v.hostPath))"
    message: hostPath volumes are forbidden
`;
const podSpec = (hostPath: boolean): Record<string, unknown> => ({
  containers: [{ name: 'c', image: 'x' }],
  volumes: hostPath ? [{ name: 'h', hostPath: { path: '/' } }] : [],
});

describe('ValidatingPolicy', () => {
  const loaded = loadPolicyText(vpol, 'v.yaml');
  const policy = loaded.validatingPolicies![0]!;

  it('loads apart from rule-based policies', () => {
    assert.deepEqual(loaded.errors, []);
    assert.equal(loaded.policies.length, 0);
    assert.equal(policy.name, 'no-host-path');
  });

  it('one result per resource: pass, fail with the message, skip on a false matchCondition', () => {
    const pod = (ns: string, hostPath: boolean): Record<string, unknown> => ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'p', namespace: ns },
      spec: podSpec(hostPath),
    });
    assert.deepEqual(
      evaluateValidatingPolicy(policy, pod('a', false)).map((r) => r.status),
      ['pass'],
    );
    const [fail] = evaluateValidatingPolicy(policy, pod('a', true));
    assert.deepEqual(
      [fail!.status, fail!.message, fail!.rule],
      ['fail', 'hostPath volumes are forbidden', ''],
    );
    assert.deepEqual(
      evaluateValidatingPolicy(policy, pod('kube-system', true)).map((r) => r.status),
      ['skip'],
    );
    assert.deepEqual(evaluateValidatingPolicy(policy, pod('a', true), { operation: 'DELETE' }), []);
  });

  it('autogen: pod controllers are checked through spec.template / spec.jobTemplate', () => {
    const deploy = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'd', namespace: 'a' },
      spec: { template: { spec: podSpec(true) } },
    };
    const cron = {
      apiVersion: 'batch/v1',
      kind: 'CronJob',
      metadata: { name: 'c', namespace: 'a' },
      spec: { jobTemplate: { spec: { template: { spec: podSpec(false) } } } },
    };
    assert.deepEqual(
      evaluateValidatingPolicy(policy, deploy).map((r) => r.status),
      ['fail'],
    );
    assert.deepEqual(
      evaluateValidatingPolicy(policy, cron).map((r) => r.status),
      ['pass'],
    );
    const svc = { apiVersion: 'v1', kind: 'Service', metadata: { name: 's', namespace: 'a' } };
    assert.deepEqual(evaluateValidatingPolicy(policy, svc), []);
  });

  it('resource names are the usual plurals', () => {
    assert.deepEqual(
      ['Pod', 'Ingress', 'NetworkPolicy', 'StorageClass', 'Endpoints', 'Gateway'].map(pluralOf),
      ['pods', 'ingresses', 'networkpolicies', 'storageclasses', 'endpoints', 'gateways'],
    );
  });
});
