/**
 * Actions first: while a response action's API request is in flight, the PolicyReport writer starts no
 * new write (bounded, so a steady stream of actions cannot starve the reports), and a flush (shutdown)
 * still writes everything.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { ActionExecutor } from '../../../src/actions/executor.js';
import { PodCache } from '../../../src/k8s/pod-cache.js';
import { PolicyReportWriter } from '../../../src/reports/policyreport/writer.js';
import type { FakeApiServer } from './fake-apiserver/server.js';
import { seedPod, startCluster, verdictFor, WAIT_MS, waitFor } from './helpers.js';

const PR = ['wgpolicyk8s.io/v1alpha2', 'PolicyReport'] as const;

describe('report writes wait for the actions in flight', () => {
  let server: FakeApiServer;
  before(async () => {
    server = await startCluster();
  });
  after(async () => {
    await server.close();
  });

  const reportWrites = (): number =>
    server.requests.filter((r) => r.path.includes('/policyreports') && r.method !== 'GET').length;

  it('starts no report write while an action is in flight, and writes once it is answered', async () => {
    let actionInFlight = true;
    const writer = new PolicyReportWriter({
      kubeConfig: server.kubeConfig(),
      minIntervalMs: 10,
      holdBack: () => actionInFlight,
      maxHoldMs: 60_000,
    });
    const pod = seedPod(server, 'held');
    const uid = pod.metadata.uid!;
    const before = reportWrites();
    writer.record(verdictFor(pod, []));
    await sleep(300); // many writer ticks
    assert.equal(reportWrites(), before, 'no report write while the action is in flight');
    assert.equal(writer.pendingReports, 1);
    actionInFlight = false;
    await waitFor(() => server.get(...PR, 'shop', `runtime-${uid}`) !== undefined);
    writer.close();
  });

  it('holds a write back for at most maxHoldMs: actions without end do not starve reports', async () => {
    const writer = new PolicyReportWriter({
      kubeConfig: server.kubeConfig(),
      minIntervalMs: 10,
      holdBack: () => true,
      maxHoldMs: 50,
    });
    const pod = seedPod(server, 'starved');
    writer.record(verdictFor(pod, []));
    await waitFor(() => server.get(...PR, 'shop', `runtime-${pod.metadata.uid!}`) !== undefined);
    writer.close();
  });

  it('flush (shutdown) writes even while actions are in flight', async () => {
    const writer = new PolicyReportWriter({
      kubeConfig: server.kubeConfig(),
      minIntervalMs: 10,
      holdBack: () => true,
      maxHoldMs: 60_000,
    });
    const pod = seedPod(server, 'flushed');
    writer.record(verdictFor(pod, []));
    await writer.flush(WAIT_MS);
    assert.ok(server.get(...PR, 'shop', `runtime-${pod.metadata.uid!}`));
    writer.close();
  });

  it('deletePod is one round trip: the DELETE carries the UID precondition, no GET of the pod first', async () => {
    const cache = new PodCache({ kubeConfig: server.kubeConfig() });
    await cache.start(WAIT_MS);
    try {
      const executor = new ActionExecutor({ kubeConfig: server.kubeConfig(), lookup: cache });
      const pod = seedPod(server, 'one-trip');
      await waitFor(() => cache.byName('shop', 'one-trip') !== undefined);
      const from = server.requests.length;
      const [outcome] = await executor.execute(verdictFor(pod, [{ deletePod: { gracePeriodSeconds: 0 } }]));
      assert.equal(outcome!.outcome, 'succeeded', outcome!.detail);
      const sent = server.requests.slice(from).filter((r) => !r.query.has('watch'));
      assert.deepEqual(
        sent.map((r) => `${r.method} ${r.path}`),
        ['DELETE /api/v1/namespaces/shop/pods/one-trip'],
      );
      assert.deepEqual((sent[0]!.body as { preconditions: unknown }).preconditions, {
        uid: pod.metadata.uid,
      });
    } finally {
      await cache.stop();
    }
  });

  it('the executor counts an action as in flight until the API server answered it (through a 429 retry)', async () => {
    const cache = new PodCache({ kubeConfig: server.kubeConfig() });
    await cache.start(WAIT_MS);
    try {
      const executor = new ActionExecutor({ kubeConfig: server.kubeConfig(), lookup: cache });
      const pod = seedPod(server, 'retried');
      await waitFor(() => cache.byName('shop', 'retried') !== undefined);
      server.throttleNext('DELETE', '/pods/retried', 1, 1);
      assert.equal(executor.inFlight, 0);
      const done = executor.execute(verdictFor(pod, [{ deletePod: {} }]));
      await waitFor(() => server.requestsMatching('DELETE', '/pods/retried').length === 1);
      assert.equal(executor.inFlight, 1, 'in flight during the Retry-After wait');
      const [outcome] = await done;
      assert.equal(outcome!.outcome, 'succeeded', outcome!.detail);
      assert.equal(executor.inFlight, 0);
    } finally {
      await cache.stop();
    }
  });
});
