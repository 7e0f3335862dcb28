/**
 * Root on one node = the agent's service account token. The chart's ValidatingAdmissionPolicy (its CEL
 * evaluated here by the project's CEL engine, exactly as helm renders it) and its RBAC (enforced by
 * the fake API server over real sockets) must keep that token to labels and annotations of the
 * node's own pods: no other node's pods, no container image, no owner references, not the agent's
 * namespace, no Secrets, no NetworkPolicy deletion.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { AppsV1Api, CoreV1Api, NetworkingV1Api, type V1Pod } from '@kubernetes/client-node';
import { model } from '../../src/k8s/model.js';
import { compileCelConditions, compileCelValidations } from '../../src/engine/cel/index.js';
import { RbacTable } from '../integration/k8s/fake-apiserver/rbac.js';
import type { FakeApiServer } from '../integration/k8s/fake-apiserver/server.js';
import { FakeApiServer as Fake } from '../integration/k8s/fake-apiserver/server.js';
import { seedPod } from '../integration/k8s/helpers.js';
import { renderChart, type Manifest } from '../integration/k8s/helm/render.js';

const CHART = fileURLToPath(new URL('../../deploy/helm', import.meta.url));
const AGENT = 'system:serviceaccount:kyverno-runtime:kyverno-runtime';
const NODE_NAME_KEY = 'authentication.kubernetes.io/node-name';

interface Admission {
  operation: 'CREATE' | 'UPDATE' | 'DELETE';
  resource: 'pods' | 'nodes' | 'networkpolicies';
  namespace?: string;
  user?: string;
  /** The node the token was issued for; undefined = a token without node binding. */
  tokenNode?: string;
  object?: Manifest;
  oldObject?: Manifest;
}

/** The API server's admission of one request against the rendered policy: matched? allowed? */
function admitter(vap: Manifest): (a: Admission) => { matched: boolean; allowed: boolean; message?: string } {
  const spec = vap.spec as Manifest;
  const conditions = compileCelConditions(spec.matchConditions, spec.variables);
  const validations = compileCelValidations(spec.validations, spec.variables);
  const rules = spec.matchConstraints.resourceRules as { operations: string[]; resources: string[] }[];
  return (a) => {
    if (!rules.some((r) => r.operations.includes(a.operation) && r.resources.includes(a.resource)))
      return { matched: false, allowed: true };
    const target = a.object ?? a.oldObject;
    const activation = {
      request: {
        operation: a.operation,
        namespace: a.namespace ?? '',
        name: target?.metadata?.name ?? '',
        resource: {
          group: a.resource === 'networkpolicies' ? 'networking.k8s.io' : '',
          version: 'v1',
          resource: a.resource,
        },
        userInfo: {
          username: a.user ?? AGENT,
          ...(a.tokenNode !== undefined && { extra: { [NODE_NAME_KEY]: [a.tokenNode] } }),
        },
      },
      object: a.object ?? null,
      oldObject: a.oldObject ?? null,
    };
    if (!conditions.evaluate(activation).matched) return { matched: false, allowed: true };
    const out = validations.evaluate(activation);
    return { matched: true, allowed: out.passed, ...(out.message !== undefined && { message: out.message }) };
  };
}

function pod(name: string, node: string, namespace = 'shop', image = 'nginx:1.27'): Manifest {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace,
      labels: { app: name },
      ownerReferences: [
        { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-1', uid: 'u1', controller: true },
      ],
    },
    spec: { nodeName: node, containers: [{ name: 'app', image }] },
  };
}

function relabel(p: Manifest, labels: Record<string, string>): Manifest {
  const next = structuredClone(p);
  next.metadata.labels = { ...next.metadata.labels, ...labels };
  next.metadata.annotations = { 'runtime.kyverno.io/isolated': 'true' };
  return next;
}

describe('a stolen node agent token, against the chart admission policy (CEL)', () => {
  const docs = renderChart(CHART);
  const admit = admitter(docs.find((d) => d.kind === 'ValidatingAdmissionPolicy')!);
  const binding = docs.find((d) => d.kind === 'ValidatingAdmissionPolicyBinding')!;

  it('the binding denies (not merely audits) and names the policy', () => {
    assert.deepEqual(binding.spec.validationActions, ['Deny']);
    assert.equal(binding.spec.policyName, 'kyverno-runtime-agent-scope');
  });

  it('lets the agent label, annotate and delete pods of its own node', () => {
    const mine = pod('web-a', 'node-1');
    const labelled = admit({
      operation: 'UPDATE',
      resource: 'pods',
      namespace: 'shop',
      tokenNode: 'node-1',
      oldObject: mine,
      object: relabel(mine, { quarantine: 'true' }),
    });
    assert.deepEqual(labelled, { matched: true, allowed: true });
    const deleted = admit({
      operation: 'DELETE',
      resource: 'pods',
      namespace: 'shop',
      tokenNode: 'node-1',
      oldObject: mine,
    });
    assert.equal(deleted.allowed, true);
  });

  it('refuses deleting or patching a pod on another node', () => {
    const theirs = pod('db-0', 'node-2');
    const del = admit({
      operation: 'DELETE',
      resource: 'pods',
      namespace: 'shop',
      tokenNode: 'node-1',
      oldObject: theirs,
    });
    assert.equal(del.allowed, false);
    assert.match(del.message ?? '', /agent of node "node-1" may act only on its own node/);
    const patched = admit({
      operation: 'UPDATE',
      resource: 'pods',
      namespace: 'shop',
      tokenNode: 'node-1',
      oldObject: theirs,
      object: relabel(theirs, { x: 'y' }),
    });
    assert.equal(patched.allowed, false);
  });

  it('refuses a container image change, even on its own node (code execution in the pod)', () => {
    const mine = pod('web-a', 'node-1');
    const r = admit({
      operation: 'UPDATE',
      resource: 'pods',
      namespace: 'shop',
      tokenNode: 'node-1',
      oldObject: mine,
      object: pod('web-a', 'node-1', 'shop', 'attacker.example/backdoor:1'),
    });
    assert.equal(r.allowed, false);
    assert.match(r.message ?? '', /only the labels and annotations/);
  });

  it('refuses rewriting owner references or finalizers', () => {
    const mine = pod('web-a', 'node-1');
    const orphaned = structuredClone(mine);
    delete orphaned.metadata.ownerReferences;
    const stuck = structuredClone(mine);
    stuck.metadata.finalizers = ['example.com/never'];
    for (const object of [orphaned, stuck]) {
      const r = admit({
        operation: 'UPDATE',
        resource: 'pods',
        namespace: 'shop',
        tokenNode: 'node-1',
        oldObject: mine,
        object,
      });
      assert.equal(r.allowed, false);
    }
  });

  it("refuses anything in the agent's own namespace (the other agents, their Secrets' pods)", () => {
    const peer = pod('kyverno-runtime-x1', 'node-1', 'kyverno-runtime');
    const r = admit({
      operation: 'DELETE',
      resource: 'pods',
      namespace: 'kyverno-runtime',
      tokenNode: 'node-1',
      oldObject: peer,
    });
    assert.equal(r.allowed, false);
    assert.match(r.message ?? '', /own namespace/);
    const np = admit({
      operation: 'CREATE',
      resource: 'networkpolicies',
      namespace: 'kyverno-runtime',
      tokenNode: 'node-1',
      object: { metadata: { name: 'deny-all', namespace: 'kyverno-runtime' }, spec: { podSelector: {} } },
    });
    assert.equal(np.allowed, false);
  });

  it('refuses a token without node binding (an old-style or forged secret token)', () => {
    const r = admit({
      operation: 'DELETE',
      resource: 'pods',
      namespace: 'shop',
      oldObject: pod('web-a', 'node-1'),
    });
    assert.equal(r.allowed, false);
  });

  it('cordons only its own Node', () => {
    const node = (name: string): Manifest => ({ metadata: { name }, spec: {} });
    const cordon = (name: string): Manifest => ({ metadata: { name }, spec: { unschedulable: true } });
    const own = admit({
      operation: 'UPDATE',
      resource: 'nodes',
      tokenNode: 'node-1',
      oldObject: node('node-1'),
      object: cordon('node-1'),
    });
    assert.equal(own.allowed, true);
    const other = admit({
      operation: 'UPDATE',
      resource: 'nodes',
      tokenNode: 'node-1',
      oldObject: node('node-2'),
      object: cordon('node-2'),
    });
    assert.equal(other.allowed, false);
  });

  it('does not apply to anyone else (an operator may still do anything RBAC allows)', () => {
    const r = admit({
      operation: 'UPDATE',
      resource: 'pods',
      namespace: 'kyverno-runtime',
      user: 'kubernetes-admin',
      oldObject: pod('web-a', 'node-2'),
      object: pod('web-a', 'node-2', 'kyverno-runtime', 'other:2'),
    });
    assert.deepEqual(r, { matched: false, allowed: true });
  });

  it('deployment mode: any node (central replicas), still labels and annotations only', () => {
    const dep = admitter(
      renderChart(CHART, { mode: 'deployment', source: { http: { tokenSecret: 't' } } }).find(
        (d) => d.kind === 'ValidatingAdmissionPolicy',
      )!,
    );
    const theirs = pod('db-0', 'node-7');
    assert.equal(
      dep({ operation: 'DELETE', resource: 'pods', namespace: 'shop', oldObject: theirs }).allowed,
      true,
    );
    assert.equal(
      dep({
        operation: 'UPDATE',
        resource: 'pods',
        namespace: 'shop',
        oldObject: theirs,
        object: pod('db-0', 'node-7', 'shop', 'evil:1'),
      }).allowed,
      false,
    );
  });
});

describe('a stolen agent token, against the chart RBAC (fake API server, real client)', () => {
  let server: FakeApiServer;
  before(async () => {
    const rbac = new RbacTable(AGENT, renderChart(CHART));
    server = await Fake.start({ bookmarkIntervalMs: 200, rbac });
    // Seeds bypass RBAC (the cluster's own state).
    for (const ns of ['shop', 'kyverno-runtime'])
      server.seed({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
    seedPod(server, 'web-a');
    server.seed({
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: 'kyverno-runtime-isolate-web-a', namespace: 'shop' },
      spec: { podSelector: { matchLabels: { app: 'web-a' } }, policyTypes: ['Ingress', 'Egress'] },
    });
    server.seed({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'db-password', namespace: 'shop' },
      data: { password: 'aHVudGVyMg==' },
    });
  });
  after(async () => {
    await server.close();
  });

  const forbidden = async (call: () => Promise<unknown>): Promise<string> => {
    try {
      await call();
    } catch (err) {
      const e = err as { code?: number; body?: string };
      assert.equal(e.code, 403, String(err));
      return String(e.body);
    }
    assert.fail('the API server allowed it');
  };

  it('cannot lift an isolation by deleting its NetworkPolicy', async () => {
    const net = server.kubeConfig().makeApiClient(NetworkingV1Api);
    const body = await forbidden(() =>
      net.deleteNamespacedNetworkPolicy({ namespace: 'shop', name: 'kyverno-runtime-isolate-web-a' }),
    );
    assert.match(
      body,
      /cannot delete resource \\?"networkpolicies\\?" in API group \\?"networking.k8s.io\\?"/,
    );
    assert.ok(server.get('networking.k8s.io/v1', 'NetworkPolicy', 'shop', 'kyverno-runtime-isolate-web-a'));
  });

  it('cannot read Secrets, create pods or edit Deployments', async () => {
    const kc = server.kubeConfig();
    const core = kc.makeApiClient(CoreV1Api);
    await forbidden(() => core.readNamespacedSecret({ namespace: 'shop', name: 'db-password' }));
    await forbidden(() => core.listSecretForAllNamespaces());
    await forbidden(() =>
      core.createNamespacedPod({
        namespace: 'shop',
        body: model<V1Pod>({
          metadata: { name: 'miner' },
          spec: { containers: [{ name: 'm', image: 'xmrig' }] },
        }),
      }),
    );
    await forbidden(() => kc.makeApiClient(AppsV1Api).listDeploymentForAllNamespaces());
    assert.ok(server.forbidden.length >= 4);
  });

  it('cannot add a container through a pod patch (immutable spec: 422); an image swap is left to the admission policy', async () => {
    const core = server.kubeConfig().makeApiClient(CoreV1Api);
    try {
      await core.patchNamespacedPod({
        namespace: 'shop',
        name: 'web-a',
        body: [{ op: 'add', path: '/spec/containers/-', value: { name: 'sidecar', image: 'attacker/x:1' } }],
      });
      assert.fail('patched');
    } catch (err) {
      assert.equal((err as { code?: number }).code, 422, String(err));
      assert.match(String((err as { body?: string }).body), /pod updates may not change fields/);
    }
    const stored = server.get('v1', 'Pod', 'shop', 'web-a')!;
    assert.equal((stored.spec as { containers: unknown[] }).containers.length, 1);
    // A real API server lets spec.containers[*].image change on a running pod: RBAC cannot stop
    // it, which is why the chart's admission policy (tested above) limits the agent's pod updates.
    await core.patchNamespacedPod({
      namespace: 'shop',
      name: 'web-a',
      body: [{ op: 'replace', path: '/spec/containers/0/image', value: 'nginx:1.28' }],
    });
  });
});
