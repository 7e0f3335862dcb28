import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ActionExecutor } from '../../../src/actions/executor.js';
import { EventRecorder } from '../../../src/k8s/events.js';
import { PodCache } from '../../../src/k8s/pod-cache.js';
import { PolicyReportWriter } from '../../../src/reports/policyreport/writer.js';
import { emitViolationEvent } from '../../../src/reports/violation-events.js';
import type { FakeApiServer } from './fake-apiserver/server.js';
import { containerId, seedPod, startCluster, verdictFor, WAIT_MS, waitFor } from './helpers.js';

describe('a violation on a pod → PolicyReport + Event + deletePod', () => {
  let server: FakeApiServer;
  let cache: PodCache;
  let writer: PolicyReportWriter;
  let executor: ActionExecutor;

  before(async () => {
    server = await startCluster();
    const kc = server.kubeConfig();
    cache = new PodCache({ kubeConfig: kc, nodeName: 'node-1' });
    await cache.start(WAIT_MS);
    const events = new EventRecorder({ kubeConfig: kc, instance: 'agent-1' });
    writer = new PolicyReportWriter({
      kubeConfig: kc,
      onNewResult: (v) => emitViolationEvent(events, v),
      minIntervalMs: 50,
    });
    executor = new ActionExecutor({
      kubeConfig: kc,
      lookup: cache,
      events,
      reports: writer,
      nodeName: 'node-1',
    });
  });
  after(async () => {
    writer.close();
    await cache.stop();
    await server.close();
  });

  it('attributes container IDs in every spelling to the pod and container', async () => {
    const id = containerId();
    const pod = seedPod(server, 'lookup-me', { id });
    await waitFor(() => cache.byName('shop', 'lookup-me') !== undefined, WAIT_MS, 'pod in cache');
    for (const spelling of [
      id,
      `containerd://${id}`,
      `cri-o://${id}`,
      `docker://${id}`,
      id.slice(0, 12),
      `/kubepods/burstable/pod1/cri-containerd-${id}.scope`,
    ]) {
      const hit = cache.byContainerId(spelling);
      assert.equal(hit?.pod.metadata?.uid, pod.metadata.uid, spelling);
      assert.equal(hit?.container, 'app');
    }
    assert.equal(cache.byContainerId(containerId()), undefined);
    assert.equal(cache.byPodUid(pod.metadata.uid!)?.metadata?.name, 'lookup-me');
    assert.deepEqual(cache.namespaceLabels('shop'), { 'kubernetes.io/metadata.name': 'shop' });
    assert.equal(cache.node('node-1')?.metadata?.name, 'node-1');
    assert.equal(cache.node('node-2'), undefined, 'DaemonSet mode watches only its own node');
  });

  it('ignores pods on other nodes in DaemonSet mode', async () => {
    seedPod(server, 'elsewhere', { node: 'node-2' });
    const marker = seedPod(server, 'marker');
    await waitFor(() => cache.byName('shop', 'marker') !== undefined);
    assert.equal(cache.byName('shop', 'elsewhere'), undefined);
    assert.ok(marker);
  });

  it('deletes the pod with a UID precondition, writes the report and an Event', async () => {
    const pod = seedPod(server, 'web-1');
    await waitFor(() => cache.byName('shop', 'web-1') !== undefined);
    const v = verdictFor(pod, [{ deletePod: { gracePeriodSeconds: 0 } }]);
    assert.ok(writer.record(v));
    const outcomes = await executor.execute(v);
    assert.equal(outcomes.length, 1);
    assert.equal(outcomes[0]!.outcome, 'succeeded', outcomes[0]!.detail);
    assert.equal(server.get('v1', 'Pod', 'shop', 'web-1'), undefined);
    const del = server.requestsMatching('DELETE', '/api/v1/namespaces/shop/pods/web-1');
    assert.equal(del.length, 1);
    assert.deepEqual((del[0]!.body as { preconditions: unknown }).preconditions, { uid: pod.metadata.uid });
    assert.equal(del[0]!.query.get('gracePeriodSeconds'), '0');

    await writer.flush(WAIT_MS);
    const report = server.get(
      'wgpolicyk8s.io/v1alpha2',
      'PolicyReport',
      'shop',
      `runtime-${pod.metadata.uid!}`,
    ) as any;
    assert.ok(report, 'report written');
    assert.deepEqual(report.scope, {
      apiVersion: 'v1',
      kind: 'Pod',
      name: 'web-1',
      namespace: 'shop',
      uid: pod.metadata.uid,
    });
    assert.deepEqual(report.metadata.ownerReferences, [
      { apiVersion: 'v1', kind: 'Pod', name: 'web-1', uid: pod.metadata.uid },
    ]);
    assert.equal(report.results.length, 1);
    const r = report.results[0];
    assert.equal(r.source, 'kyverno-runtime');
    assert.equal(r.policy, 'no-shell');
    assert.equal(r.rule, 'deny-shell');
    assert.equal(r.result, 'fail');
    assert.equal(r.severity, 'high');
    assert.equal(r.category, 'Runtime');
    assert.equal(r.properties.count, '1');
    assert.equal(r.properties['process.binary'], '/bin/sh');
    assert.match(r.properties['action.deletePod'], /^succeeded/);
    assert.equal(report.summary.fail, 1);

    // The Event is sent alongside (not before) the report and the delete: wait for it, not race it.
    const violationEvent = (): any =>
      (server.list('events.k8s.io/v1', 'Event', 'shop') as any[]).find(
        (e) => e.regarding.uid === pod.metadata.uid && e.reason === 'PolicyViolation',
      );
    await waitFor(() => violationEvent() !== undefined, WAIT_MS, 'PolicyViolation Event');
    const ev = violationEvent();
    assert.equal(ev.reason, 'PolicyViolation');
    assert.equal(ev.type, 'Warning');
    assert.equal(ev.reportingController, 'kyverno.io/kyverno-runtime');
    assert.deepEqual(server.invalid, []);
  });

  it('never deletes a replacement pod that reuses the name', async () => {
    const old = seedPod(server, 'db-0');
    await waitFor(() => cache.byName('shop', 'db-0') !== undefined);
    server.remove('v1', 'Pod', 'shop', 'db-0');
    const replacement = seedPod(server, 'db-0');
    await waitFor(() => cache.byName('shop', 'db-0')?.metadata?.uid === replacement.metadata.uid);
    const outcomes = await executor.execute(verdictFor(old, [{ deletePod: {} }]));
    assert.equal(outcomes[0]!.outcome, 'skipped');
    assert.match(outcomes[0]!.detail ?? '', /replaced/);
    assert.equal(server.get('v1', 'Pod', 'shop', 'db-0')?.metadata.uid, replacement.metadata.uid);
  });

  it('labels, annotates, patches and isolates', async () => {
    const pod = seedPod(server, 'api-1');
    await waitFor(() => cache.byName('shop', 'api-1') !== undefined);
    const v = verdictFor(pod, [
      { label: { labels: { 'security.example.com/flagged': 'true' } } },
      { annotate: { annotations: { 'security.example.com/reason': 'shell' } } },
      { patch: { type: 'json6902', patch: [{ op: 'add', path: '/metadata/labels/patched', value: 'yes' }] } },
      { isolate: {} },
    ]);
    const outcomes = await executor.execute(v);
    assert.deepEqual(
      outcomes.map((o) => `${o.action}:${o.outcome}`),
      ['label:succeeded', 'annotate:succeeded', 'patch:succeeded', 'isolate:succeeded'],
    );
    const now = server.get('v1', 'Pod', 'shop', 'api-1')!;
    assert.equal(now.metadata.labels?.['security.example.com/flagged'], 'true');
    assert.equal(now.metadata.labels?.patched, 'yes');
    assert.equal(now.metadata.labels?.['runtime.kyverno.io/quarantine'], pod.metadata.uid);
    assert.equal((now.metadata as any).annotations['security.example.com/reason'], 'shell');
    const np = server.get(
      'networking.k8s.io/v1',
      'NetworkPolicy',
      'shop',
      'kyverno-runtime-isolate-api-1',
    ) as any;
    assert.deepEqual(np.spec, {
      podSelector: { matchLabels: { 'runtime.kyverno.io/quarantine': pod.metadata.uid } },
      policyTypes: ['Ingress', 'Egress'],
    });
    const ct = server.requestsMatching('PATCH', '/pods/api-1').map((r) => r.contentType);
    assert.deepEqual(ct, [
      'application/merge-patch+json',
      'application/merge-patch+json',
      'application/json-patch+json',
      'application/merge-patch+json',
    ]);
    assert.deepEqual(server.invalid, []);
  });

  it('never acts in kube-system unless the policy (annotation) or the action allows it', async () => {
    const pod = seedPod(server, 'coredns-1', { namespace: 'kube-system' });
    await waitFor(() => cache.byName('kube-system', 'coredns-1') !== undefined);
    const skipped = await executor.execute(verdictFor(pod, [{ deletePod: {} }]));
    assert.equal(skipped[0]!.outcome, 'skipped');
    assert.match(skipped[0]!.detail ?? '', /protected/);
    assert.ok(server.get('v1', 'Pod', 'kube-system', 'coredns-1'));
    const allowed = await executor.execute(
      verdictFor(pod, [{ deletePod: { allowProtectedNamespaces: true } }], { rule: 'other-rule' }),
    );
    assert.equal(allowed[0]!.outcome, 'succeeded');
    const pod2 = seedPod(server, 'coredns-2', { namespace: 'kube-system' });
    await waitFor(() => cache.byName('kube-system', 'coredns-2') !== undefined);
    const annotated = new ActionExecutor({
      kubeConfig: server.kubeConfig(),
      lookup: cache,
      policyAnnotations: (key) =>
        key === 'no-shell' ? { 'runtime.kyverno.io/allow-protected-namespaces': 'true' } : undefined,
    });
    const viaAnnotation = await annotated.execute(verdictFor(pod2, [{ deletePod: {} }]));
    assert.equal(viaAnnotation[0]!.outcome, 'succeeded', viaAnnotation[0]!.detail);
  });

  it('dry-run asks the API server to validate without persisting', async () => {
    const kc = server.kubeConfig();
    const dry = new ActionExecutor({ kubeConfig: kc, lookup: cache, dryRun: true });
    const pod = seedPod(server, 'dry-1');
    await waitFor(() => cache.byName('shop', 'dry-1') !== undefined);
    const outcomes = await dry.execute(
      verdictFor(pod, [{ deletePod: {} }, { label: { labels: { x: 'y' } } }]),
    );
    assert.deepEqual(
      outcomes.map((o) => o.outcome),
      ['dry-run', 'dry-run'],
    );
    assert.ok(server.get('v1', 'Pod', 'shop', 'dry-1'));
    assert.equal(server.get('v1', 'Pod', 'shop', 'dry-1')!.metadata.labels?.x, undefined);
    assert.equal(server.requestsMatching('DELETE', '/pods/dry-1')[0]!.query.get('dryRun'), 'All');
  });

  it('runs nothing under Audit', async () => {
    const pod = seedPod(server, 'audit-1');
    const outcomes = await executor.execute(verdictFor(pod, [{ deletePod: {} }], { mode: 'Audit' }));
    assert.deepEqual(outcomes, []);
  });
});
