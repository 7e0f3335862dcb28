import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { LeaderElector } from '../../../src/k8s/leader.js';
import type { FakeApiServer } from './fake-apiserver/server.js';
import { startCluster, WAIT_MS, waitFor } from './helpers.js';

describe('Lease leader election', () => {
  let server: FakeApiServer;
  before(async () => {
    server = await startCluster();
  });
  after(async () => {
    await server.close();
  });

  // A 4 s lease: long enough that a loaded machine (where a's renewals can stall for a second) does
  // not hand the lease to b while a is still renewing. Nothing here waits for it to expire: release
  // and the renew deadline (800 ms) drive the failovers, so the long lease costs no test time.
  const make = (identity: string, leaseDurationSeconds = 4): LeaderElector =>
    new LeaderElector({
      kubeConfig: server.kubeConfig(),
      namespace: 'kube-system',
      identity,
      leaseDurationSeconds,
      renewDeadlineMs: 800,
      retryPeriodMs: 100,
    });

  it('elects exactly one leader, fails over on release and after expiry', async () => {
    const a = make('replica-a');
    const b = make('replica-b');
    a.start();
    await waitFor(() => a.isLeader(), WAIT_MS, 'a leads');
    b.start();
    await new Promise((r) => setTimeout(r, 400));
    assert.equal(b.isLeader(), false, 'b waits while a renews');
    const lease = server.get(
      'coordination.k8s.io/v1',
      'Lease',
      'kube-system',
      'kyverno-runtime-leader',
    ) as any;
    assert.equal(lease.spec.holderIdentity, 'replica-a');
    assert.equal(lease.spec.leaseDurationSeconds, 4);

    await a.stop(); // releases
    await waitFor(() => b.isLeader(), WAIT_MS, 'b takes over after release');
    assert.equal(a.isLeader(), false);
    const after1 = server.get(
      'coordination.k8s.io/v1',
      'Lease',
      'kube-system',
      'kyverno-runtime-leader',
    ) as any;
    assert.equal(after1.spec.holderIdentity, 'replica-b');
    assert.equal(after1.spec.leaseTransitions, 1);

    // b's API server goes away: b must stop leading by itself at its renew deadline.
    server.setDown(true);
    await waitFor(() => !b.isLeader(), WAIT_MS, 'b steps down at its renew deadline');
    server.setDown(false);
    await b.stop();
    assert.deepEqual(server.invalid, []);
  });

  it('takes over a lease whose holder stopped renewing', async () => {
    server.seed({
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: 'stale', namespace: 'kube-system' },
      spec: {
        holderIdentity: 'dead-replica',
        leaseDurationSeconds: 1,
        renewTime: new Date().toISOString(),
        leaseTransitions: 3,
      },
    });
    const c = new LeaderElector({
      kubeConfig: server.kubeConfig(),
      namespace: 'kube-system',
      name: 'stale',
      identity: 'replica-c',
      retryPeriodMs: 100,
    });
    const startedAt = process.hrtime.bigint(); // the fake server stamps requests on this clock
    c.start();
    await waitFor(() => c.isLeader(), WAIT_MS, 'c takes over');
    const lease = server.get('coordination.k8s.io/v1', 'Lease', 'kube-system', 'stale') as any;
    assert.equal(lease.spec.holderIdentity, 'replica-c');
    assert.equal(lease.spec.leaseTransitions, 4);
    await c.stop();
    // Not before the lease duration has passed on c's clock: c's first write (the takeover) reached
    // the server at least 1 s after c started, and c read the unchanged lease more than once before.
    // Measured where it happens rather than by sleeping and asking "leader yet?", which a loaded
    // machine can stretch past the 1 s.
    const path = '/namespaces/kube-system/leases/stale';
    const firstWrite = server.requestsMatching('PUT', path)[0]!;
    const waitedMs = Number(firstWrite.receivedAt - startedAt) / 1e6;
    assert.ok(waitedMs >= 1000, `took the lease over after ${waitedMs} ms`);
    const readsBefore = server
      .requestsMatching('GET', path)
      .filter((r) => r.receivedAt > startedAt && r.receivedAt < firstWrite.receivedAt);
    assert.ok(readsBefore.length >= 2, `${readsBefore.length} reads before the takeover`);
  });
});
