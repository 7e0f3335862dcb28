import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { reportWrites } from '../../../src/observability/metrics.js';
import { PolicyReportWriter } from '../../../src/reports/policyreport/writer.js';
import type { FakeApiServer } from './fake-apiserver/server.js';
import { seedPod, startCluster, verdictFor, WAIT_MS, waitFor } from './helpers.js';

const PR = ['wgpolicyk8s.io/v1alpha2', 'PolicyReport'] as const;

async function failedWrites(): Promise<number> {
  return (await reportWrites.get()).values.find((v) => v.labels.outcome === 'failed')?.value ?? 0;
}

describe('PolicyReport writer', () => {
  let server: FakeApiServer;
  before(async () => {
    server = await startCluster();
  });
  after(async () => {
    await server.close();
  });

  it('coalesces 500 verdicts into at most one write per second per report', async () => {
    const writer = new PolicyReportWriter({ kubeConfig: server.kubeConfig(), minIntervalMs: 1000 });
    const pod = seedPod(server, 'busy');
    const path = `/policyreports`;
    const before = server.requests.filter((r) => r.path.includes(path) && r.method !== 'GET').length;
    const started = Date.now();
    for (let i = 0; i < 500; i++) writer.record(verdictFor(pod, []));
    await waitFor(() => server.get(...PR, 'shop', `runtime-${pod.metadata.uid!}`) !== undefined);
    for (let i = 0; i < 500; i++) writer.record(verdictFor(pod, []));
    await writer.flush(WAIT_MS);
    const writes = server.requests.filter((r) => r.path.includes(path) && r.method !== 'GET').length - before;
    const elapsed = (Date.now() - started) / 1000;
    assert.ok(writes <= Math.ceil(elapsed) + 1, `${writes} writes in ${elapsed}s`);
    const report = server.get(...PR, 'shop', `runtime-${pod.metadata.uid!}`) as any;
    assert.equal(report.results[0].properties.count, '1000');
    writer.close();
  });

  it('retries 409 conflicts by re-reading and merging, keeping the other writer’s results', async () => {
    const writer = new PolicyReportWriter({ kubeConfig: server.kubeConfig(), minIntervalMs: 10 });
    const pod = seedPod(server, 'contended');
    const name = `runtime-${pod.metadata.uid!}`;
    writer.record(verdictFor(pod, []));
    await writer.flush(WAIT_MS);
    // Another writer (an earlier run, another replica) changes the report behind our back.
    const theirs = server.get(...PR, 'shop', name) as any;
    theirs.results.push({
      source: 'kyverno-runtime',
      policy: 'other-policy',
      rule: 'r',
      result: 'fail',
      scored: true,
      message: 'm',
      timestamp: { seconds: 1, nanos: 0 },
      properties: { count: '7' },
    });
    theirs.results[0].properties.count = '5'; // e.g. counted by a replica
    server.seed(theirs);
    server.failNext('PUT', name, 2); // and two injected conflicts on top
    for (let i = 0; i < 3; i++) writer.record(verdictFor(pod, []));
    await writer.flush(WAIT_MS);
    const report = server.get(...PR, 'shop', name) as any;
    const ours = report.results.find((r: any) => r.policy === 'no-shell');
    assert.equal(ours.properties.count, '8', '5 on the server + 3 of ours');
    assert.ok(
      report.results.find((r: any) => r.policy === 'other-policy'),
      'their result kept',
    );
    assert.ok(server.requestsMatching('PUT', name).filter((r) => r.status === 409).length >= 2);
    assert.deepEqual(server.invalid, []);
    writer.close();
  });

  it('loses nothing while the API server is unreachable', async () => {
    const writer = new PolicyReportWriter({ kubeConfig: server.kubeConfig(), minIntervalMs: 10 });
    const pod = seedPod(server, 'offline');
    const node = server.get('v1', 'Node', undefined, 'node-1')!;
    const failedBefore = await failedWrites();
    server.setDown(true);
    for (let i = 0; i < 40; i++) writer.record(verdictFor(pod, []));
    writer.record(
      verdictFor(pod, [], {
        resource: { apiVersion: 'v1', kind: 'Node', name: 'node-1', uid: node.metadata.uid },
        rule: 'host-rule',
      }),
    );
    // Both reports tried and failed (not a fixed sleep, which a loaded machine can outlast).
    await waitFor(async () => (await failedWrites()) >= failedBefore + 2, WAIT_MS, 'failed writes');
    assert.equal(writer.pendingReports, 2, 'buffered');
    server.setDown(false);
    await writer.flush(WAIT_MS);
    const report = server.get(...PR, 'shop', `runtime-${pod.metadata.uid!}`) as any;
    assert.equal(report.results[0].properties.count, '40');
    const cluster = server.get(
      'wgpolicyk8s.io/v1alpha2',
      'ClusterPolicyReport',
      undefined,
      `runtime-${node.metadata.uid!}`,
    ) as any;
    assert.equal(cluster.scope.kind, 'Node');
    assert.equal(cluster.results[0].rule, 'host-rule');
    writer.close();
  });

  it('caps results per report and stays far under 1 MiB', async () => {
    const writer = new PolicyReportWriter({
      kubeConfig: server.kubeConfig(),
      minIntervalMs: 10,
      maxResults: 1000,
    });
    const pod = seedPod(server, 'many-rules');
    const long = 'x'.repeat(5000);
    for (let i = 0; i < 1100; i++) {
      const v = verdictFor(pod, [], { rule: `rule-${i}`, message: long });
      v.event.process = { binary: long, args: [long] };
      writer.record(v);
    }
    await writer.flush(WAIT_MS);
    const report = server.get(...PR, 'shop', `runtime-${pod.metadata.uid!}`) as any;
    assert.ok(report.results.length <= 1000);
    assert.ok(
      Buffer.byteLength(JSON.stringify(report)) < 800 * 1024,
      `${Buffer.byteLength(JSON.stringify(report))} bytes`,
    );
    assert.deepEqual(server.invalid, []);
    writer.close();
  });

  it('writes openreports.io Reports by option', async () => {
    const writer = new PolicyReportWriter({
      kubeConfig: server.kubeConfig(),
      minIntervalMs: 10,
      flavor: 'openreports',
    });
    const pod = seedPod(server, 'open');
    writer.record(verdictFor(pod, []));
    await writer.flush(WAIT_MS);
    const report = server.get(
      'openreports.io/v1alpha1',
      'Report',
      'shop',
      `runtime-${pod.metadata.uid!}`,
    ) as any;
    assert.equal(report.source, 'kyverno-runtime');
    assert.equal(report.results[0].policy, 'no-shell');
    writer.close();
  });
});
