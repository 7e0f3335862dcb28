/**
 * The DaemonSet agent as the chart runs it, against a fake API server that authorizes every request
 * with the chart's own rendered ClusterRole/Role: it syncs, reports, raises Events and acts without a
 * single 403 and without touching a Lease; it lists only its node's pods, page by page; it tails the
 * Tetragon export inside the mounted directory across a rotation; and a quiet export is reported
 * stale on /healthz and in the metrics.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { RbacTable } from './fake-apiserver/rbac.js';
import { FakeApiServer } from './fake-apiserver/server.js';
import { containerId, seedPod, WAIT_MS, waitFor } from './helpers.js';
import { renderChart } from './helm/render.js';

const CHART = fileURLToPath(new URL('../../../deploy/helm', import.meta.url));
const SAMPLE = fileURLToPath(
  new URL('../../../../shared/samples/tetragon/docs-current.jsonl', import.meta.url),
);

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

async function get(url: string): Promise<{ status: number; text: string }> {
  try {
    const res = await fetch(url);
    return { status: res.status, text: await res.text() };
  } catch {
    return { status: 0, text: '' };
  }
}

/** A real Tetragon process_exec export line, re-aimed at one of our pods. */
function execLine(pod: { namespace: string; name: string }, id: string, binary: string): string {
  const sample = readFileSync(SAMPLE, 'utf8')
    .split('\n')
    .find((l) => l.includes('"process_exec"') && l.includes('"pod"'))!;
  const rec = JSON.parse(sample) as {
    process_exec: { process: { binary: string; exec_id: string; pod: Record<string, unknown> } };
    node_name: string;
    time: string;
  };
  rec.process_exec.process.binary = binary;
  rec.process_exec.process.exec_id = containerId().slice(0, 24);
  const p = rec.process_exec.process.pod;
  p.namespace = pod.namespace;
  p.name = pod.name;
  (p.container as { id: string; name: string }).id = `containerd://${id}`;
  (p.container as { id: string; name: string }).name = 'app';
  rec.node_name = 'node-1';
  rec.time = new Date().toISOString();
  return JSON.stringify(rec) + '\n';
}

const POLICY = {
  apiVersion: 'runtime.kyverno.io/v1alpha1',
  kind: 'ClusterRuntimePolicy',
  metadata: { name: 'no-shell' },
  spec: {
    failureAction: 'Enforce',
    rules: [
      {
        name: 'shell',
        match: { any: [{ resources: { kinds: ['Pod'] } }] },
        restrict: {
          message: 'shell in {{ request.object.metadata.name }}',
          behaviors: ['process-exec'],
          pattern: { event: { process: { binary: '*/sh' } } },
          actions: [{ label: { labels: { quarantine: 'true' } } }],
        },
      },
    ],
  },
};

describe('the DaemonSet agent under the chart RBAC', () => {
  let server: FakeApiServer;
  let dir: string;
  let exportDir: string;
  let child: ReturnType<typeof spawn>;
  let logs = '';
  let exited: Promise<number | null>;
  let base: string;

  before(async () => {
    const docs = renderChart(CHART);
    server = await FakeApiServer.start({
      bookmarkIntervalMs: 200,
      rbac: new RbacTable('system:serviceaccount:kyverno-runtime:kyverno-runtime', docs),
    });
    for (const ns of ['shop', 'kyverno-runtime'])
      server.seed({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
    server.seed({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'node-1' }, spec: {} });
    server.seed(POLICY);
    // More pods on this node than one list page holds, and some elsewhere.
    for (let i = 0; i < 7; i++) seedPod(server, `filler-${i}`);
    for (let i = 0; i < 3; i++) seedPod(server, `other-${i}`, { node: 'node-2' });

    dir = mkdtempSync(join(tmpdir(), 'kr-chart-rbac-'));
    exportDir = join(dir, 'tetragon');
    rmSync(exportDir, { recursive: true, force: true });
    (await import('node:fs')).mkdirSync(exportDir);
    writeFileSync(join(exportDir, 'tetragon.log'), '');
    const kubeconfig = join(dir, 'config');
    writeFileSync(kubeconfig, server.kubeConfigYaml());
    const healthPort = await freePort();
    base = `http://127.0.0.1:${healthPort}`;
    // The chart's own arguments, with local paths and ports.
    const chartArgs = (
      docs.find((d) => d.kind === 'DaemonSet')!.spec.template.spec.containers[0].args as string[]
    ).filter(
      (a) =>
        !/^--(tetragon-file|tail-state|health-probe-bind-address|metrics-bind-address|source-stale-after)=/.test(
          a,
        ),
    );
    child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        'src/cli/main.ts',
        ...chartArgs,
        '--kubeconfig',
        kubeconfig,
        '--node-name',
        'node-1',
        `--tetragon-file=${join(exportDir, 'tetragon.log')}`,
        `--tail-state=${join(dir, 'tail.json')}`,
        // 1.5 s: long enough for the events below, short enough for the test.
        '--source-stale-after=0.025',
        `--health-probe-bind-address=127.0.0.1:${healthPort}`,
        `--metrics-bind-address=127.0.0.1:${healthPort}`,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, POD_NAME: 'agent-node-1' } },
    );
    child.stdout!.on('data', (c: Buffer) => (logs += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (logs += c.toString()));
    exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
    const readyBy = Date.now() + 120_000;
    while ((await get(`${base}/readyz`)).status !== 200) {
      if (Date.now() > readyBy || child.exitCode !== null) throw new Error(`agent never ready:\n${logs}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  });
  after(async () => {
    child.kill('SIGTERM');
    assert.equal(await exited, 0, logs);
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reports, raises the Event and labels the pod, across an export rotation, with no 403', async () => {
    const shell = (name: string): { id: string; pod: ReturnType<typeof seedPod> } => {
      const id = containerId();
      return { id, pod: seedPod(server, name, { id }) };
    };
    const first = shell('web-before');
    const second = shell('web-after');
    const labelled = (name: string): boolean =>
      server.get('v1', 'Pod', 'shop', name)?.metadata.labels?.quarantine === 'true';
    const file = join(exportDir, 'tetragon.log');
    // The pod cache may not hold a new pod yet: append again until the action lands.
    await waitFor(
      async () => {
        appendFileSync(file, execLine({ namespace: 'shop', name: 'web-before' }, first.id, '/bin/sh'));
        await new Promise((r) => setTimeout(r, 200));
        return labelled('web-before');
      },
      WAIT_MS,
      () => `label on web-before\n${logs}`,
    );
    // Tetragon's rotation: rename, then a new file under the same name.
    renameSync(file, join(exportDir, 'tetragon-2026-01-01.log'));
    writeFileSync(file, '');
    await waitFor(
      async () => {
        appendFileSync(file, execLine({ namespace: 'shop', name: 'web-after' }, second.id, '/bin/sh'));
        await new Promise((r) => setTimeout(r, 200));
        return labelled('web-after');
      },
      WAIT_MS,
      () => `label on web-after (after rotation)\n${logs}`,
    );
    await waitFor(
      () => server.list('wgpolicyk8s.io/v1alpha2', 'PolicyReport', 'shop').length >= 2,
      WAIT_MS,
      'two PolicyReports',
    );
    await waitFor(
      () =>
        (server.list('events.k8s.io/v1', 'Event', 'shop') as { reason?: string }[]).some(
          (e) => e.reason === 'PolicyViolation',
        ),
      WAIT_MS,
      'a PolicyViolation Event',
    );
    // The policy's status, written without a leader (after a random delay of at most 10 s).
    await waitFor(
      () =>
        (
          server.get('runtime.kyverno.io/v1alpha1', 'ClusterRuntimePolicy', undefined, 'no-shell')?.status as
            { ready?: boolean } | undefined
        )?.ready === true,
      30_000,
      'policy status Ready',
    );
    assert.deepEqual(server.forbidden, [], 'a request the chart RBAC does not grant');
    assert.deepEqual(server.invalid, [], 'a body the API server would reject');
  });

  it('never reads or writes a Lease, and lists only its node pods, page by page', () => {
    assert.deepEqual(
      server.requests.filter((r) => r.path.includes('/leases')),
      [],
      'a DaemonSet agent polls no Lease',
    );
    const podLists = server.requests.filter(
      (r) => r.method === 'GET' && r.path === '/api/v1/pods' && r.query.get('watch') === null,
    );
    assert.ok(podLists.length >= 1);
    for (const r of podLists) {
      assert.equal(r.query.get('fieldSelector'), 'spec.nodeName=node-1');
      assert.equal(r.query.get('limit'), '500');
    }
  });

  it('reports the export stale on /healthz and in the metrics when no line comes', async () => {
    await waitFor(
      async () => (await get(`${base}/healthz`)).text.includes('stale: file:'),
      WAIT_MS,
      () => `stale line on /healthz\n${logs}`,
    );
    const health = await get(`${base}/healthz`);
    assert.equal(health.status, 200, 'stale is reported, not a reason to restart');
    const metrics = (await get(`${base}/metrics`)).text;
    assert.match(metrics, /kyverno_runtime_source_stale\{source="file:[^"]*tetragon\.log"\} 1/);
    assert.match(metrics, /kyverno_runtime_source_stale_total\{source="file:[^"]*"\} [1-9]/);
    assert.match(logs, /no new data from the tailed file/);
  });
});
