import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { EventRecorder } from '../../../src/k8s/events.js';
import { reportWrites } from '../../../src/observability/metrics.js';
import { PolicyReportWriter } from '../../../src/reports/policyreport/writer.js';
import type { FakeApiServer, Obj } from './fake-apiserver/server.js';
import { seedPod, startCluster, verdictFor, WAIT_MS, waitFor } from './helpers.js';

const PR = ['wgpolicyk8s.io/v1alpha2', 'PolicyReport'] as const;

async function unchangedWrites(): Promise<number> {
  return (await reportWrites.get()).values.find((v) => v.labels.outcome === 'unchanged')?.value ?? 0;
}

async function rawPost(server: FakeApiServer, path: string, body: unknown): Promise<number> {
  const res = await fetch(`${server.url}${path}`, {
    method: 'POST',
    headers: { authorization: 'Bearer fake-token', 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  await res.arrayBuffer();
  return res.status;
}

function v1Event(namespace: string, regarding: Record<string, unknown>, note: string): unknown {
  return {
    apiVersion: 'events.k8s.io/v1',
    kind: 'Event',
    metadata: { name: `e-${Math.random().toString(16).slice(2)}`, namespace },
    eventTime: new Date().toISOString(),
    regarding,
    reason: 'Test',
    action: 'Test',
    note,
    type: 'Normal',
    reportingController: 'test',
    reportingInstance: 'test',
  };
}

describe('PolicyReports at scale', () => {
  let server: FakeApiServer;
  before(async () => {
    server = await startCluster();
  });
  after(async () => {
    await server.close();
  });

  it('20 pods violating for 10 s write each report at most once per interval', async () => {
    const intervalMs = 4000;
    const writer = new PolicyReportWriter({ kubeConfig: server.kubeConfig(), minIntervalMs: intervalMs });
    const pods: Obj[] = [];
    for (let i = 0; i < 20; i++) pods.push(seedPod(server, `storm-${i}`));
    const writes = (): number =>
      server.requests.filter((r) => r.path.includes('/policyreports') && r.method !== 'GET').length;
    const before = writes();
    const started = Date.now();
    let sent = 0;
    // One verdict per pod every 100 ms for 10 s: 2000 verdicts.
    while (Date.now() - started < 10_000) {
      for (const pod of pods) writer.record(verdictFor(pod, []));
      sent++;
      await new Promise((r) => setTimeout(r, 100));
    }
    await writer.flush(WAIT_MS);
    const elapsed = Date.now() - started;
    const made = writes() - before;
    // First write at once, then one per interval, plus the final flush: the bound the interval sets.
    const bound = pods.length * (Math.floor(elapsed / intervalMs) + 2);
    assert.ok(made <= bound, `${made} writes for ${pods.length} pods in ${elapsed} ms (bound ${bound})`);
    assert.ok(made >= pods.length, 'every report written');
    for (const pod of pods) {
      const report = server.get(...PR, 'shop', `runtime-${pod.metadata.uid!}`) as any;
      assert.equal(report.results[0].properties.count, String(sent), 'no verdict lost by coalescing');
    }
    writer.close();
  });

  it('a due write whose report would not change sends nothing', async () => {
    const writer = new PolicyReportWriter({ kubeConfig: server.kubeConfig(), minIntervalMs: 10 });
    const pod = seedPod(server, 'steady');
    const v = verdictFor(pod, []);
    writer.record(v);
    await writer.flush(WAIT_MS);
    const name = `runtime-${pod.metadata.uid!}`;
    const puts = (): number => server.requestsMatching('PUT', name).length;
    const before = puts();
    const unchanged = await unchangedWrites();
    // The same outcome at the same time again: the report is marked for writing but is identical.
    const outcome = { action: 'label' as const, outcome: 'succeeded' as const, time: '2025-01-01T00:00:00Z' };
    writer.recordOutcomes(v, [outcome]);
    await writer.flush(WAIT_MS);
    assert.equal(puts(), before + 1, 'the new outcome is written');
    writer.recordOutcomes(v, [outcome]);
    await writer.flush(WAIT_MS);
    assert.equal(puts(), before + 1, 'nothing new: no request');
    assert.equal(await unchangedWrites(), unchanged + 1);
    writer.close();
  });

  it('keeps a report of 1000 results with long messages under 768 KiB, dropping the oldest', async () => {
    const writer = new PolicyReportWriter({
      kubeConfig: server.kubeConfig(),
      minIntervalMs: 10,
      maxResults: 50,
    });
    const pod = seedPod(server, 'capped');
    for (let i = 0; i < 60; i++) writer.record(verdictFor(pod, [], { rule: `rule-${i}` }));
    await writer.flush(WAIT_MS);
    const report = server.get(...PR, 'shop', `runtime-${pod.metadata.uid!}`) as any;
    assert.equal(report.results.length, 50);
    assert.equal(report.summary.fail, 50);
    writer.close();
  });

  it('reports fail as warn, unscored, for a policy annotated scored: "false"', async () => {
    const writer = new PolicyReportWriter({
      kubeConfig: server.kubeConfig(),
      minIntervalMs: 10,
      scored: (policy) => policy !== 'audit-only',
    });
    const pod = seedPod(server, 'scored');
    writer.record(verdictFor(pod, [], { policy: 'audit-only' }));
    writer.record(verdictFor(pod, [], { policy: 'no-shell' }));
    await writer.flush(WAIT_MS);
    const report = server.get(...PR, 'shop', `runtime-${pod.metadata.uid!}`) as any;
    const unscored = report.results.find((r: any) => r.policy === 'audit-only');
    const scored = report.results.find((r: any) => r.policy === 'no-shell');
    assert.equal(unscored.result, 'warn');
    assert.equal(unscored.scored, false);
    assert.equal(scored.result, 'fail');
    assert.equal(scored.scored, true);
    assert.deepEqual(report.summary, { pass: 0, fail: 1, warn: 1, error: 0, skip: 0 });
    writer.close();
  });

  it('keeps properties.resultID when the message carries other event data', async () => {
    const writer = new PolicyReportWriter({ kubeConfig: server.kubeConfig(), minIntervalMs: 10 });
    const pod = seedPod(server, 'same-finding');
    const other = seedPod(server, 'other-pod');
    writer.record(verdictFor(pod, [], { message: 'shell /bin/sh pid 1' }));
    writer.record(verdictFor(other, [], { message: 'shell /bin/sh pid 1' }));
    await writer.flush(WAIT_MS);
    const id = (p: Obj): string =>
      (server.get(...PR, 'shop', `runtime-${p.metadata.uid!}`) as any).results[0].properties
        .resultID as string;
    const first = id(pod);
    assert.match(first, /^[0-9a-f]{40}$/);
    writer.record(verdictFor(pod, [], { message: 'shell /bin/bash pid 977' }));
    await writer.flush(WAIT_MS);
    const report = server.get(...PR, 'shop', `runtime-${pod.metadata.uid!}`) as any;
    assert.equal(report.results[0].message, 'shell /bin/bash pid 977');
    assert.equal(id(pod), first, 'same policy, rule and resource: same ID');
    assert.notEqual(id(other), first, 'another resource: another ID');
    writer.close();
  });
});

describe('Events the API server accepts', () => {
  let server: FakeApiServer;
  before(async () => {
    server = await startCluster(['shop', 'kyverno-runtime', 'default']);
  });
  after(async () => {
    await server.close();
  });

  it('the fake answers 422 for a Node Event outside default and a note over 1024 bytes', async () => {
    const node = { apiVersion: 'v1', kind: 'Node', name: 'node-1' };
    assert.equal(
      await rawPost(
        server,
        '/apis/events.k8s.io/v1/namespaces/kyverno-runtime/events',
        v1Event('kyverno-runtime', node, 'x'),
      ),
      422,
    );
    assert.equal(
      await rawPost(
        server,
        '/apis/events.k8s.io/v1/namespaces/default/events',
        v1Event('default', node, 'x'),
      ),
      201,
    );
    // 400 characters, 1200 bytes: within a character count, over the byte limit.
    assert.equal(
      await rawPost(
        server,
        '/apis/events.k8s.io/v1/namespaces/default/events',
        v1Event('default', node, '€'.repeat(400)),
      ),
      422,
    );
    server.invalid.length = 0;
  });

  it('puts Events about a Node in default and cuts a multi-byte note to 1024 bytes with the ellipsis', async () => {
    const recorder = new EventRecorder({ kubeConfig: server.kubeConfig(), instance: 'agent' });
    const node = server.get('v1', 'Node', undefined, 'node-2')!;
    const note = `${'€'.repeat(500)}tail`;
    await recorder.emit({
      regarding: { apiVersion: 'v1', kind: 'Node', name: 'node-2', uid: node.metadata.uid },
      type: 'Warning',
      reason: 'PolicyViolation',
      action: 'Report',
      note,
    });
    await waitFor(() => server.list('events.k8s.io/v1', 'Event', 'default').length > 0, WAIT_MS, 'event');
    const ev = server
      .list('events.k8s.io/v1', 'Event', 'default')
      .find((e: any) => e.regarding.name === 'node-2') as any;
    assert.ok(ev, 'Event about the Node in default');
    assert.ok(Buffer.byteLength(ev.note) <= 1024, `${Buffer.byteLength(ev.note)} bytes`);
    assert.ok(Buffer.byteLength(ev.note) > 1020, 'cut at the limit, not far below');
    assert.ok(ev.note.endsWith('€…'), 'cut on a character boundary, ellipsis kept');
    assert.deepEqual(server.invalid, []);
  });
});
