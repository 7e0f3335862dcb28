import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { evaluateValidatingPolicy } from '../../../src/engine/validate/validating-policy.js';
import { staticParamLookup } from '../../../src/engine/runtime/index.js';
import { loadPolicyText } from '../../../src/policy/index.js';
import { applyToResources, toPolicyReports } from '../../../src/cli/commands/apply.js';

const vpol = (notFound: 'Allow' | 'Deny'): string => `apiVersion: policies.kyverno.io/v1alpha1
kind: ValidatingPolicy
metadata: {name: max-replicas}
spec:
  validationActions: [Audit]
  paramKind: {apiVersion: v1, kind: ConfigMap}
  paramRef: {name: limits, parameterNotFoundAction: ${notFound}}
  matchConstraints:
    resourceRules:
      - {apiGroups: [apps], apiVersions: [v1], resources: [deployments], operations: [CREATE]}
  validations:
    - expression: "object.spec.replicas <= int(params.data.maxReplicas)"
      messageExpression: "'replicas must be at most ' + params.data.maxReplicas"
  auditAnnotations:
    - key: replicas
      valueExpression: "string(object.spec.replicas)"
    - key: omitted
      valueExpression: "null"
`;
const limits = (ns: string, max: string) => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name: 'limits', namespace: ns },
  data: { maxReplicas: max },
});
const deploy = (ns: string, replicas: number) => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'd', namespace: ns },
  spec: { replicas },
});
const load = (notFound: 'Allow' | 'Deny') => {
  const r = loadPolicyText(vpol(notFound), 'p.yaml');
  assert.deepEqual(r.errors, []);
  return r.validatingPolicies![0]!;
};

describe('ValidatingPolicy paramKind and auditAnnotations', () => {
  it('binds params to the paramRef object in the resource namespace', () => {
    const params = staticParamLookup([limits('a', '3'), limits('b', '10')]);
    const p = load('Deny');
    const [inA] = evaluateValidatingPolicy(p, deploy('a', 5), { params });
    const [inB] = evaluateValidatingPolicy(p, deploy('b', 5), { params });
    assert.deepEqual([inA!.status, inA!.message], ['fail', 'replicas must be at most 3']);
    assert.equal(inB!.status, 'pass');
  });

  it('a missing param fails under Deny and skips under Allow', () => {
    const params = staticParamLookup([]);
    assert.deepEqual(
      evaluateValidatingPolicy(load('Deny'), deploy('a', 1), { params }).map((r) => [r.status, r.message]),
      [['fail', 'no params found for policy max-replicas']],
    );
    assert.equal(evaluateValidatingPolicy(load('Allow'), deploy('a', 1), { params })[0]!.status, 'skip');
  });

  it('records auditAnnotations as <policy>/<key>, omitting null values, in results and reports', () => {
    const params = staticParamLookup([limits('a', '3')]);
    const rows = applyToResources([], [deploy('a', 2)], 'CREATE', [load('Deny')], undefined, params);
    assert.deepEqual(rows[0]!.result.auditAnnotations, { 'max-replicas/replicas': '2' });
    const report = toPolicyReports(rows)[0] as { results: { properties: Record<string, string> }[] };
    assert.equal(report.results[0]!.properties['max-replicas/replicas'], '2');
  });

  it('an auditAnnotation that is not a string is a result error', () => {
    const text = vpol('Deny').replace('string(object.spec.replicas)', 'object.spec.replicas');
    const p = loadPolicyText(text, 'p.yaml').validatingPolicies![0]!;
    const [r] = evaluateValidatingPolicy(p, deploy('a', 2), {
      params: staticParamLookup([limits('a', '3')]),
    });
    assert.equal(r!.status, 'error');
    assert.match(r!.message, /auditAnnotations replicas/);
  });
});
