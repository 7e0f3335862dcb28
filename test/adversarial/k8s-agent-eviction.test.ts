/**
 * Root on one node = the agent's service account token, which RBAC lets create `pods/eviction` (the
 * deletePod `mode: evict` and drain actions). An eviction deletes the pod inside the API server
 * without the pod DELETE passing admission again, so the chart's pod DELETE rule does not see it: the
 * chart ships a second ValidatingAdmissionPolicy for the eviction request itself. Rendered here by the
 * real helm binary and evaluated by the project's CEL engine with the API server's param semantics
 * (one evaluation per param, ANDed; no param found → the binding's parameterNotFoundAction).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { compileCelConditions, compileCelValidations } from '../../src/engine/cel/index.js';
import { renderChart, type Manifest } from '../integration/k8s/helm/render.js';

const CHART = fileURLToPath(new URL('../../deploy/helm', import.meta.url));
const AGENT = 'system:serviceaccount:kyverno-runtime:kyverno-runtime';
const NODE_NAME_KEY = 'authentication.kubernetes.io/node-name';
const EVICTION_POLICY = 'kyverno-runtime-agent-eviction-scope';

interface EvictionRequest {
  namespace: string;
  /** The pod named in the URL (…/pods/<name>/eviction). */
  name: string;
  user?: string;
  /** The node the token was issued for; undefined = a token without node binding. */
  tokenNode?: string;
}

type Verdict = { matched: boolean; allowed: boolean; message?: string };

/**
 * The API server's admission of one eviction against the rendered policy and binding. `pods`: the
 * cluster's pods, of which the binding's paramRef selects those of the request's namespace.
 */
function admitter(docs: Manifest[]): (r: EvictionRequest, pods: Manifest[]) => Verdict {
  const vap = docs.find((d) => d.kind === 'ValidatingAdmissionPolicy' && d.metadata.name === EVICTION_POLICY);
  const binding = docs.find(
    (d) => d.kind === 'ValidatingAdmissionPolicyBinding' && d.spec.policyName === EVICTION_POLICY,
  );
  assert.ok(vap && binding, 'the chart renders the eviction policy and its binding');
  const spec = vap.spec as Manifest;
  const conditions = compileCelConditions(spec.matchConditions, spec.variables);
  const validations = compileCelValidations(spec.validations, spec.variables);
  const rules = spec.matchConstraints.resourceRules as { operations: string[]; resources: string[] }[];
  const paramRef = binding.spec.paramRef as Manifest | undefined;
  return (r, pods) => {
    if (!rules.some((rule) => rule.operations.includes('CREATE') && rule.resources.includes('pods/eviction')))
      return { matched: false, allowed: true };
    const eviction = {
      apiVersion: 'policy/v1',
      kind: 'Eviction',
      metadata: { name: r.name, namespace: r.namespace },
      deleteOptions: { preconditions: { uid: 'u-1' } },
    };
    const request = {
      operation: 'CREATE',
      namespace: r.namespace,
      name: r.name,
      resource: { group: '', version: 'v1', resource: 'pods' },
      subResource: 'eviction',
      userInfo: {
        username: r.user ?? AGENT,
        ...(r.tokenNode !== undefined && { extra: { [NODE_NAME_KEY]: [r.tokenNode] } }),
      },
    };
    const base = { request, object: eviction, oldObject: null };
    if (!conditions.evaluate({ ...base, params: null }).matched) return { matched: false, allowed: true };
    let params: (Manifest | null)[] = [null];
    if (spec.paramKind !== undefined) {
      // paramRef without a namespace: the request's namespace; `selector: {}`: all of its pods.
      assert.equal(paramRef?.namespace, undefined);
      assert.deepEqual(paramRef?.selector, {});
      params = pods.filter((p) => p.metadata.namespace === r.namespace);
      if (params.length === 0) {
        // parameterNotFoundAction Deny → the policy's failurePolicy (Fail): the request is refused.
        assert.equal(paramRef?.parameterNotFoundAction, 'Deny');
        assert.equal(spec.failurePolicy, 'Fail');
        return { matched: true, allowed: false, message: 'no params found' };
      }
    }
    for (const p of params) {
      const out = validations.evaluate({ ...base, params: p });
      if (!out.passed)
        return { matched: true, allowed: false, ...(out.message !== undefined && { message: out.message }) };
    }
    return { matched: true, allowed: true };
  };
}

function pod(name: string, node: string, namespace = 'shop'): Manifest {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace, uid: `uid-${namespace}-${name}` },
    spec: { nodeName: node, containers: [{ name: 'app', image: 'nginx:1.27' }] },
  };
}

const CLUSTER = [
  pod('web-a', 'node-1'),
  pod('web-b', 'node-2'),
  pod('db-0', 'node-2'),
  pod('pending', 'node-1', 'batch'),
  pod('kyverno-runtime-x1', 'node-1', 'kyverno-runtime'),
];
// A pod that is not scheduled yet has no spec.nodeName.
const UNSCHEDULED: Manifest = { ...pod('queued', 'x', 'batch'), spec: { containers: [] } };

describe('a stolen node agent token evicting pods, against the chart admission policy (CEL)', () => {
  const docs = renderChart(CHART);
  const admit = admitter(docs);

  it('the ClusterRole grants pods/eviction create, and the pod DELETE policy does not match evictions', () => {
    const role = docs.find((d) => d.kind === 'ClusterRole' && d.metadata.name === 'kyverno-runtime')!;
    const rules = role.rules as { resources: string[]; verbs: string[] }[];
    assert.ok(rules.some((r) => r.resources.includes('pods/eviction') && r.verbs.includes('create')));
    const podPolicy = docs.find(
      (d) => d.kind === 'ValidatingAdmissionPolicy' && d.metadata.name === 'kyverno-runtime-agent-scope',
    )!;
    const podRules = podPolicy.spec.matchConstraints.resourceRules as { resources: string[] }[];
    assert.ok(!podRules.some((r) => r.resources.includes('pods/eviction')));
  });

  it('the eviction binding denies (not merely audits)', () => {
    const binding = docs.find(
      (d) => d.kind === 'ValidatingAdmissionPolicyBinding' && d.spec.policyName === EVICTION_POLICY,
    )!;
    assert.deepEqual(binding.spec.validationActions, ['Deny']);
  });

  it('lets the agent evict a pod of its own node', () => {
    assert.deepEqual(admit({ namespace: 'shop', name: 'web-a', tokenNode: 'node-1' }, CLUSTER), {
      matched: true,
      allowed: true,
    });
  });

  it('refuses evicting a pod that runs on another node', () => {
    for (const name of ['web-b', 'db-0']) {
      const r = admit({ namespace: 'shop', name, tokenNode: 'node-1' }, CLUSTER);
      assert.equal(r.allowed, false, name);
      assert.match(r.message ?? '', /agent of node "node-1" may evict only the pods of its own node/);
    }
  });

  it('refuses evicting an unscheduled pod (no node to compare)', () => {
    const r = admit({ namespace: 'batch', name: 'queued', tokenNode: 'node-1' }, [...CLUSTER, UNSCHEDULED]);
    assert.equal(r.allowed, false);
  });

  it("refuses evicting the other agents (the agent's own namespace), even on its node", () => {
    const r = admit(
      { namespace: 'kyverno-runtime', name: 'kyverno-runtime-x1', tokenNode: 'node-1' },
      CLUSTER,
    );
    assert.equal(r.allowed, false);
    assert.match(r.message ?? '', /own namespace/);
  });

  it('refuses a token without node binding (an old-style or forged secret token)', () => {
    const r = admit({ namespace: 'shop', name: 'web-a' }, CLUSTER);
    assert.equal(r.allowed, false);
  });

  it('refuses when the namespace has no pod to check against (parameterNotFoundAction Deny)', () => {
    const r = admit({ namespace: 'empty', name: 'web-a', tokenNode: 'node-1' }, CLUSTER);
    assert.equal(r.allowed, false);
  });

  it('judges the pod of the request namespace, not a same-name pod elsewhere', () => {
    // `web-a` on node-1 in `shop`, but the eviction names `web-a` in `other`, which runs on node-2.
    const cluster = [...CLUSTER, pod('web-a', 'node-2', 'other')];
    assert.equal(admit({ namespace: 'other', name: 'web-a', tokenNode: 'node-1' }, cluster).allowed, false);
  });

  it('does not apply to anyone else (an operator may still evict what RBAC allows)', () => {
    const r = admit({ namespace: 'shop', name: 'db-0', user: 'kubernetes-admin' }, CLUSTER);
    assert.deepEqual(r, { matched: false, allowed: true });
  });

  it('deployment mode: any node (central replicas, no params), never the release namespace', () => {
    const dep = renderChart(CHART, { mode: 'deployment', source: { http: { tokenSecret: 't' } } });
    const vap = dep.find(
      (d) => d.kind === 'ValidatingAdmissionPolicy' && d.metadata.name === EVICTION_POLICY,
    )!;
    assert.equal(vap.spec.paramKind, undefined);
    const admitDep = admitter(dep);
    assert.equal(admitDep({ namespace: 'shop', name: 'db-0' }, CLUSTER).allowed, true);
    assert.equal(
      admitDep({ namespace: 'kyverno-runtime', name: 'kyverno-runtime-x1' }, CLUSTER).allowed,
      false,
    );
  });

  it('admissionPolicy.enabled=false renders neither policy', () => {
    const off = renderChart(CHART, { admissionPolicy: { enabled: false } });
    assert.ok(!off.some((d) => d.kind === 'ValidatingAdmissionPolicy'));
  });
});
