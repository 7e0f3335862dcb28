import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { LeaderElector } from '../../src/k8s/leader.js';
import type { FakeApiServer } from './fake-apiserver/server.js';
import { startCluster, waitFor } from './helpers.js';

describe('Lease leader election', () => {
  let server: FakeApiServer;
  before(async () => {
    server = await startCluster();
  });
  after(async () => {
    await server.close();
  });

  const make = (identity: string, leaseDurationSeconds = 1): LeaderElector =>
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
    await waitFor(() => a.isLeader(), 3000, 'a leads');
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
    assert.equal(lease.spec.leaseDurationSeconds, 1);

    await a.stop(); // releases
    await waitFor(() => b.isLeader(), 3000, 'b takes over after release');
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
    await waitFor(() => !b.isLeader(), 3000, 'b steps down at its renew deadline');
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
    c.start();
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(c.isLeader(), false, 'not before the lease duration has passed');
    await waitFor(() => c.isLeader(), 4000, 'c takes over');
    const lease = server.get('coordination.k8s.io/v1', 'Lease', 'kube-system', 'stale') as any;
    assert.equal(lease.spec.holderIdentity, 'replica-c');
    assert.equal(lease.spec.leaseTransitions, 4);
    await c.stop();
  });
});
