/**
 * `kyverno-runtime cluster --no-reports --policies <files>` as the Helm chart could run it: violations
 * still raise Kubernetes Events without PolicyReports, and file policies set the policy metrics and
 * reload on change exactly as in local mode.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
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

function policy(name: string): string {
  return `apiVersion: runtime.kyverno.io/v1alpha1
kind: ClusterRuntimePolicy
metadata:
  name: ${name}
spec:
  failureAction: Audit
  rules:
    - name: shell
      match:
        any:
          - resources:
              kinds: [Pod]
      restrict:
        message: shell
        behaviors: [process-exec]
        pattern:
          event:
            process:
              binary: '*/sh'
`;
}

/** A gauge's value in a /metrics page, or undefined when absent. */
function gauge(metrics: string, name: string): number | undefined {
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(metrics);
  return m ? Number(m[1]) : undefined;
}

describe('cluster --no-reports --policies <files>', () => {
  let server: FakeApiServer;
  let dir: string;
  let child: ReturnType<typeof spawn>;
  let logs = '';
  let exited: Promise<number | null>;
  let base: string;
  let httpPort: number;
  before(async () => {
    server = await startCluster();
    dir = mkdtempSync(join(tmpdir(), 'kr-cluster-files-'));
    const kubeconfig = join(dir, 'config');
    writeFileSync(kubeconfig, server.kubeConfigYaml());
    const policies = join(dir, 'policies');
    mkdirSync(policies);
    writeFileSync(join(policies, 'shell.yaml'), policy('file-shell'));
    // A broken document next to the valid one: counted in kyverno_runtime_policy_errors.
    writeFileSync(
      join(policies, 'broken.yaml'),
      'apiVersion: runtime.kyverno.io/v1alpha1\nkind: ClusterRuntimePolicy\nspec: [\n',
    );
    httpPort = await freePort();
    const healthPort = await freePort();
    base = `http://127.0.0.1:${healthPort}`;
    child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        'src/cli/main.ts',
        'cluster',
        '--kubeconfig',
        kubeconfig,
        '--no-reports',
        '--policies',
        policies,
        '--http',
        `127.0.0.1:${httpPort}`,
        '--health-probe-bind-address',
        `127.0.0.1:${healthPort}`,
        '--metrics-bind-address',
        `127.0.0.1:${healthPort}`,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, POD_NAME: 'agent-0' } },
    );
    child.stdout!.on('data', (c: Buffer) => (logs += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (logs += c.toString()));
    exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
    // Starting takes seconds (tsx compiles the CLI); on a loaded machine, tens of seconds.
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

  it('raises the PolicyViolation Event on the pod without writing a PolicyReport', async () => {
    const pod = seedPod(server, 'web-no-reports');
    // The pod cache may not hold the new pod yet: resend until the Event appears.
    await waitFor(
      async () => {
        const res = await fetch(`http://127.0.0.1:${httpPort}/events`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(runtimeEvent(pod, 'process-exec', { process: { pid: 7, binary: '/bin/sh' } })),
        });
        await res.text();
        await new Promise((r) => setTimeout(r, 200));
        return (
          server.list('events.k8s.io/v1', 'Event', 'shop') as {
            reason?: string;
            regarding?: { uid?: string };
          }[]
        ).some((e) => e.reason === 'PolicyViolation' && e.regarding?.uid === pod.metadata.uid);
      },
      WAIT_MS,
      'PolicyViolation Event',
    );
    assert.deepEqual(server.list('wgpolicyk8s.io/v1alpha2', 'PolicyReport', 'shop'), []);
    const metrics = (await get(`${base}/metrics`)).text;
    assert.match(metrics, /kyverno_runtime_violations_total\{policy="file-shell",rule="shell",[^}]*\} [1-9]/);
  });

  it('sets the policy metrics from the files, and again when they change', async () => {
    let metrics = (await get(`${base}/metrics`)).text;
    assert.equal(gauge(metrics, 'kyverno_runtime_policies_loaded'), 1, metrics);
    assert.equal(gauge(metrics, 'kyverno_runtime_policy_errors'), 1, metrics);
    writeFileSync(join(dir, 'policies', 'broken.yaml'), policy('file-shell-2'));
    await waitFor(
      async () => {
        metrics = (await get(`${base}/metrics`)).text;
        return gauge(metrics, 'kyverno_runtime_policies_loaded') === 2;
      },
      WAIT_MS,
      'the fixed policy loaded',
    );
    assert.equal(gauge(metrics, 'kyverno_runtime_policy_errors'), 0);
  });
});
