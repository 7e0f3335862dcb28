import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FakeApiServer } from './fake-apiserver/server.js';
import { runtimeEvent, seedPod, startCluster, WAIT_MS, waitFor } from './helpers.js';

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

describe('kyverno-runtime cluster (the process the Helm chart runs)', () => {
  let server: FakeApiServer;
  before(async () => {
    server = await startCluster();
  });
  after(async () => {
    await server.close();
  });

  it('loads a policy from the cluster, receives an event over HTTP, deletes the pod, reports, and shuts down cleanly', async () => {
    server.seed({
      apiVersion: 'runtime.kyverno.io/v1alpha1',
      kind: 'ClusterRuntimePolicy',
      metadata: { name: 'no-shell' },
      spec: {
        failureAction: 'Enforce',
        rules: [
          {
            name: 'deny-shell',
            match: { any: [{ resources: { kinds: ['Pod'] } }] },
            restrict: {
              message: 'shell',
              behaviors: ['process-exec'],
              pattern: { event: { process: { binary: '*/sh' } } },
              actions: [{ deletePod: {} }],
            },
          },
        ],
      },
    });
    const pod = seedPod(server, 'web-1');
    const dir = mkdtempSync(join(tmpdir(), 'kr-cluster-'));
    const kubeconfig = join(dir, 'config');
    writeFileSync(kubeconfig, server.kubeConfigYaml());
    const [httpPort, healthPort] = [await freePort(), await freePort()];
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        'src/cli/main.ts',
        'cluster',
        '--kubeconfig',
        kubeconfig,
        '--mode',
        'deployment',
        '--namespace',
        'kube-system',
        '--leader-elect',
        '--http',
        `127.0.0.1:${httpPort}`,
        '--health-probe-bind-address',
        `127.0.0.1:${healthPort}`,
        '--metrics-bind-address',
        `127.0.0.1:${healthPort}`,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, POD_NAME: 'agent-0' } },
    );
    let logs = '';
    child.stdout.on('data', (c: Buffer) => (logs += c.toString()));
    child.stderr.on('data', (c: Buffer) => (logs += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      const base = `http://127.0.0.1:${healthPort}`;
      // Starting takes seconds (tsx compiles the CLI); on a loaded CI machine, tens of seconds.
      const readyBy = Date.now() + 120_000;
      while ((await get(`${base}/readyz`)).status !== 200) {
        if (Date.now() > readyBy || child.exitCode !== null) throw new Error(`agent never ready:\n${logs}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal((await get(`${base}/healthz`)).status, 200);
      await waitFor(
        () =>
          (server.get('runtime.kyverno.io/v1alpha1', 'ClusterRuntimePolicy', undefined, 'no-shell') as any)
            ?.status?.ready === true,
        WAIT_MS,
        'policy Ready',
      );

      const res = await fetch(`http://127.0.0.1:${httpPort}/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(runtimeEvent(pod, 'process-exec', { process: { binary: '/bin/sh' } })),
      });
      assert.ok(res.status < 300, `HTTP receiver answered ${res.status}: ${await res.text()}`);
      await waitFor(() => server.get('v1', 'Pod', 'shop', 'web-1') === undefined, WAIT_MS, 'pod deleted');
      await waitFor(
        () =>
          server.get('wgpolicyk8s.io/v1alpha2', 'PolicyReport', 'shop', `runtime-${pod.metadata.uid!}`) !==
          undefined,
        WAIT_MS,
        'report',
      );
      // The server deletes the pod before the agent has read the answer and counted the outcome:
      // wait for the count instead of racing it.
      const deleted = /kyverno_runtime_actions_total\{action="deletePod",outcome="succeeded"\} (\d+)/;
      let metrics = '';
      await waitFor(
        async () => deleted.test((metrics = (await get(`${base}/metrics`)).text)),
        WAIT_MS,
        'deletePod counted',
      );
      assert.equal(deleted.exec(metrics)?.[1], '1', 'exactly one deletePod');
      assert.equal(
        (server.get('coordination.k8s.io/v1', 'Lease', 'kube-system', 'kyverno-runtime-leader') as any).spec
          .holderIdentity,
        'agent-0',
      );
    } finally {
      child.kill('SIGTERM');
    }
    assert.equal(await exited, 0, logs);
    assert.equal(
      (server.get('coordination.k8s.io/v1', 'Lease', 'kube-system', 'kyverno-runtime-leader') as any).spec
        .holderIdentity,
      undefined,
      'lease released on SIGTERM',
    );
    assert.deepEqual(server.invalid, []);
  });
});
