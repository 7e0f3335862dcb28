import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ActionExecutor } from '../../../src/actions/executor.js';
import { PodCache } from '../../../src/k8s/pod-cache.js';
import { loadPolicyText } from '../../../src/policy/index.js';
import type { FakeApiServer } from './fake-apiserver/server.js';
import { seedPod, startCluster, verdictFor, WAIT_MS, waitFor } from './helpers.js';

describe('actions a cluster admin trusts', () => {
  let server: FakeApiServer;
  let cache: PodCache;
  let executor: ActionExecutor;
  before(async () => {
    server = await startCluster();
    cache = new PodCache({ kubeConfig: server.kubeConfig() });
    await cache.start(WAIT_MS);
    executor = new ActionExecutor({
      kubeConfig: server.kubeConfig(),
      lookup: cache,
      retry: { attempts: 2, maxMs: 500, baseMs: 10 },
    });
  });
  after(async () => {
    await cache.stop();
    await server.close();
  });

  const cached = (name: string) => waitFor(() => cache.byName('shop', name) !== undefined, WAIT_MS, name);

  it('deletePod mode evict goes through the Eviction API and a PodDisruptionBudget blocks it (429)', async () => {
    const a = seedPod(server, 'guarded-a', { labels: { app: 'guarded' } });
    seedPod(server, 'guarded-b', { labels: { app: 'guarded' } });
    server.seed({
      apiVersion: 'policy/v1',
      kind: 'PodDisruptionBudget',
      metadata: { name: 'guarded', namespace: 'shop' },
      spec: { minAvailable: 2, selector: { matchLabels: { app: 'guarded' } } },
    });
    await cached('guarded-a');
    const [blocked] = await executor.execute(verdictFor(a, [{ deletePod: { mode: 'evict' } }]));
    assert.equal(blocked!.outcome, 'failed', blocked!.detail);
    assert.match(blocked!.detail ?? '', /429.*disruption budget/i);
    assert.ok(server.get('v1', 'Pod', 'shop', 'guarded-a'), 'the PDB kept the pod');
    const evictions = server.requestsMatching('POST', '/pods/guarded-a/eviction');
    assert.ok(
      evictions.every((r) => r.status === 429) && evictions.length === 2,
      'retried once, then failed',
    );
    server.remove('policy/v1', 'PodDisruptionBudget', 'shop', 'guarded');
    const [done] = await executor.execute(verdictFor(a, [{ deletePod: { mode: 'evict' } }]));
    assert.equal(done!.outcome, 'succeeded', done!.detail);
    assert.equal(server.get('v1', 'Pod', 'shop', 'guarded-a'), undefined);
    const body = server.requestsMatching('POST', '/pods/guarded-a/eviction').at(-1)!.body as any;
    assert.equal(body.deleteOptions.preconditions.uid, a.metadata.uid, 'evicted under the UID precondition');
    assert.deepEqual(server.invalid, []);
  });

  it('deletePod leaves DaemonSet and standalone pods alone by option, and keeps minHealthyReplicas', async () => {
    const ds = seedPod(server, 'agent-x', { owner: { kind: 'DaemonSet', name: 'agent', uid: 'ds-uid' } });
    const lone = seedPod(server, 'lone');
    server.seed({
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: { name: 'web-rs', namespace: 'shop' },
      spec: { replicas: 2, selector: { matchLabels: { app: 'web' } } },
      status: { replicas: 2, readyReplicas: 2 },
    });
    const rsPod = seedPod(server, 'web-rs-1', {
      owner: { kind: 'ReplicaSet', name: 'web-rs', uid: 'rs-uid' },
    });
    await cached('web-rs-1');
    await cached('agent-x');
    await cached('lone');
    const skip = { skipOwnerKinds: ['DaemonSet' as const, 'Standalone' as const] };
    const [o1] = await executor.execute(verdictFor(ds, [{ deletePod: skip }]));
    const [o2] = await executor.execute(verdictFor(lone, [{ deletePod: skip }]));
    const [o3] = await executor.execute(verdictFor(rsPod, [{ deletePod: { minHealthyReplicas: 2 } }]));
    assert.deepEqual([o1!.outcome, o2!.outcome, o3!.outcome], ['skipped', 'skipped', 'skipped']);
    assert.match(o1!.detail ?? '', /DaemonSet/);
    assert.match(o2!.detail ?? '', /standalone/);
    assert.match(o3!.detail ?? '', /1 ready replicas, fewer than minHealthyReplicas 2/);
    for (const n of ['agent-x', 'lone', 'web-rs-1']) assert.ok(server.get('v1', 'Pod', 'shop', n), n);
    assert.equal(
      server.requestsMatching('DELETE', '/pods/').filter((r) => r.path.endsWith('/lone')).length,
      0,
    );
  });

  it('label and annotate never touch a same-name replacement pod, and remove keys', async () => {
    const old = seedPod(server, 'reborn', { labels: { app: 'reborn', stale: 'x' } });
    await cached('reborn');
    const [rm] = await executor.execute(
      verdictFor(old, [{ label: { remove: ['stale'] } }, { annotate: { annotations: { a: '1' } } }]),
    );
    assert.equal(rm!.outcome, 'succeeded', rm!.detail);
    assert.equal(server.get('v1', 'Pod', 'shop', 'reborn')!.metadata.labels!.stale, undefined);
    const v = verdictFor(old, [{ label: { labels: { hit: 'yes' } } }], { rule: 'later' });
    // The pod is replaced (same name, new UID) before the action runs.
    server.remove('v1', 'Pod', 'shop', 'reborn');
    seedPod(server, 'reborn');
    const [o] = await executor.execute(v);
    assert.equal(o!.outcome, 'skipped', o!.detail);
    assert.match(o!.detail ?? '', /replaced|UID/);
    assert.equal(server.get('v1', 'Pod', 'shop', 'reborn')!.metadata.labels!.hit, undefined);
  });

  it('isolate allows only the listed egress, names other opening policies, and never isolates a successor', async () => {
    const pod = seedPod(server, 'suspect-1', { labels: { app: 'web' } });
    server.seed({
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: 'web-allow', namespace: 'shop' },
      spec: { podSelector: { matchLabels: { app: 'web' } }, policyTypes: ['Ingress'], ingress: [{}] },
    });
    await cached('suspect-1');
    const [o] = await executor.execute(
      verdictFor(pod, [{ isolate: { allowEgress: { dns: true, cidrs: ['10.9.0.0/16'] } } }]),
    );
    assert.equal(o!.outcome, 'succeeded', o!.detail);
    assert.match(o!.detail ?? '', /web-allow \(ingress\)/);
    assert.match(o!.detail ?? '', /cannot tell whether the network plugin enforces/);
    const np = server.get(
      'networking.k8s.io/v1',
      'NetworkPolicy',
      'shop',
      'kyverno-runtime-isolate-suspect-1',
    ) as any;
    assert.equal(np.spec.egress.length, 2);
    assert.deepEqual(np.spec.podSelector.matchLabels, { 'runtime.kyverno.io/quarantine': pod.metadata.uid });
    // A successor of the same name is isolated by its own UID: the predecessor's policy is taken over.
    server.remove('v1', 'Pod', 'shop', 'suspect-1');
    const next = seedPod(server, 'suspect-1', { labels: { app: 'web' } });
    await waitFor(
      () => cache.byName('shop', 'suspect-1')?.metadata?.uid === next.metadata.uid,
      WAIT_MS,
      'successor',
    );
    const [o2] = await executor.execute(verdictFor(next, [{ isolate: {} }]));
    assert.equal(o2!.outcome, 'succeeded', o2!.detail);
    const np2 = server.get(
      'networking.k8s.io/v1',
      'NetworkPolicy',
      'shop',
      'kyverno-runtime-isolate-suspect-1',
    ) as any;
    assert.deepEqual(np2.spec.podSelector.matchLabels, {
      'runtime.kyverno.io/quarantine': next.metadata.uid,
    });
    assert.deepEqual(server.invalid, []);
  });

  it('drain cordons the node and evicts its pods but not DaemonSet or mirror pods', async () => {
    const p1 = seedPod(server, 'on-node2-a', { node: 'node-2' });
    seedPod(server, 'on-node2-b', { node: 'node-2' });
    seedPod(server, 'on-node2-ds', {
      node: 'node-2',
      owner: { kind: 'DaemonSet', name: 'agent', uid: 'ds-uid' },
    });
    const mirror = server.get('v1', 'Pod', 'shop', 'on-node2-b')!;
    (mirror.metadata as any).annotations = { 'kubernetes.io/config.mirror': 'x' };
    server.seed(mirror);
    await waitFor(() => cache.byName('shop', 'on-node2-a') !== undefined, WAIT_MS, 'cached');
    const [o] = await executor.execute(verdictFor(p1, [{ drain: { maxWaitSeconds: 5 } }]));
    assert.equal(o!.outcome, 'succeeded', o!.detail);
    assert.match(o!.detail ?? '', /node node-2 cordoned, 1 pod\(s\) evicted/);
    assert.equal((server.get('v1', 'Node', undefined, 'node-2') as any).spec.unschedulable, true);
    assert.equal(server.get('v1', 'Pod', 'shop', 'on-node2-a'), undefined);
    assert.ok(server.get('v1', 'Pod', 'shop', 'on-node2-b'), 'mirror pod kept');
    assert.ok(server.get('v1', 'Pod', 'shop', 'on-node2-ds'), 'DaemonSet pod kept');
  });
});

describe('patch of immutable Pod fields', () => {
  it('is rejected at load with file:line:col', () => {
    const yaml = `apiVersion: runtime.kyverno.io/v1alpha1
kind: ClusterRuntimePolicy
metadata: {name: harden}
spec:
  failureAction: Enforce
  rules:
    - name: r
      match: {any: [{resources: {kinds: [Pod]}}]}
      restrict:
        behaviors: [process-exec]
        actions:
          - patch:
              patch:
                spec:
                  containers:
                    - name: app
                      securityContext: {readOnlyRootFilesystem: true}
`;
    const { errors } = loadPolicyText(yaml, 'harden.yaml');
    assert.equal(errors.length, 1, JSON.stringify(errors));
    assert.equal(errors[0]!.file, 'harden.yaml');
    assert.equal(errors[0]!.line, 17);
    assert.match(errors[0]!.message, /securityContext is immutable on a running Pod/);
  });
});
