/**
 * bench/actions: event received → DELETE written to the loopback API server's socket.
 *
 * A ClusterAgent (pod cache, engine with one Enforce policy whose rule deletes the pod, action
 * executor, PolicyReport writer) runs against the fake API server (test/k8s/fake-apiserver, in a child
 * process). For each of N violating events on N distinct pods we take
 * hrtime when the event is handed to the agent and when the API server's `request` event fires for
 * that pod's DELETE. Meanwhile 10k ev/s of non-violating background events flow through the same
 * agent. Baseline, same run: the bare client call (CoreV1Api.deleteNamespacedPod with the same UID
 * precondition) measured the same way, without background load.
 *
 *   npx tsx bench/actions.ts [N=1000]
 */
import { CoreV1Api, KubeConfig, type V1DeleteOptions } from '@kubernetes/client-node';
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ClusterAgent } from '../src/k8s/cluster-agent.js';
import { model } from '../src/k8s/model.js';
import { loadPolicyText } from '../src/policy/index.js';
import type { RuntimeEvent } from '../src/events/types.js';
import { percentile } from './support.js';

const N = Number(process.argv[2] ?? 1000);
const BACKGROUND_PER_SECOND = 10_000;

const POLICY = `
apiVersion: runtime.kyverno.io/v1alpha1
kind: ClusterRuntimePolicy
metadata: {name: no-shell}
spec:
  failureAction: Enforce
  rules:
    - name: deny-shell
      match: {any: [{resources: {kinds: [Pod]}}]}
      restrict:
        message: shell started
        behaviors: [process-exec]
        pattern: {event: {process: {binary: '*/sh'}}}
        actions:
          - deletePod: {gracePeriodSeconds: 0}
`;

function row(name: string, samples: number[]): string {
  const s = [...samples].sort((a, b) => a - b);
  return `| ${name.padEnd(44)} | ${String(s.length).padStart(5)} | ${percentile(s, 50).toFixed(3).padStart(8)} | ${percentile(s, 99).toFixed(3).padStart(8)} | ${s.at(-1)!.toFixed(3).padStart(8)} |`;
}

function event(ns: string, pod: string, binary: string, i: number): RuntimeEvent {
  return {
    id: `e${i}`,
    time: new Date().toISOString(),
    source: 'bench',
    node: 'node-1',
    behavior: 'process-exec',
    process: { pid: 100 + i, binary },
    pod: { namespace: ns, name: pod },
    container: { name: 'app' },
  };
}

/** The fake API server in a child process, so its work is not charged to the agent under test. */
class RemoteApiServer {
  readonly arrivals = new Map<string, bigint>();
  private readonly pending: ((uid: string) => void)[] = [];
  private constructor(
    private readonly child: ChildProcess,
    readonly url: string,
  ) {
    child.on('message', (m: { seeded?: string; arrival?: { path: string; at: string } }) => {
      if (m.seeded !== undefined) this.pending.shift()?.(m.seeded);
      if (m.arrival) this.arrivals.set(m.arrival.path, BigInt(m.arrival.at));
    });
  }

  static async start(): Promise<RemoteApiServer> {
    const child = fork(
      fileURLToPath(new URL('../test/k8s/fake-apiserver/standalone.ts', import.meta.url)),
      [],
      { execArgv: ['--import', 'tsx'] },
    );
    const url = await new Promise<string>((resolve) =>
      child.once('message', (m: { url: string }) => resolve(m.url)),
    );
    return new RemoteApiServer(child, url);
  }

  seed(obj: Record<string, unknown>): Promise<string> {
    return new Promise((resolve) => {
      this.pending.push(resolve);
      this.child.send({ seed: obj });
    });
  }

  kubeConfig(): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'fake', server: this.url, skipTLSVerify: true }],
      users: [{ name: 'bench', token: 'fake-token' }],
      contexts: [{ name: 'fake', cluster: 'fake', user: 'bench' }],
      currentContext: 'fake',
    });
    return kc;
  }

  async arrival(path: string): Promise<bigint> {
    for (;;) {
      const t = this.arrivals.get(path);
      if (t !== undefined) return t;
      await new Promise((r) => setTimeout(r, 0));
    }
  }

  close(): void {
    this.child.send({ close: true });
  }
}

async function main(): Promise<void> {
  const server = await RemoteApiServer.start();
  for (const ns of ['bench', 'idle', 'exec', 'base', 'noise'])
    await server.seed({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  await server.seed({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'node-1' }, spec: {} });
  const seedPods = async (ns: string, n: number): Promise<{ name: string; uid: string }[]> =>
    Promise.all(
      Array.from({ length: n }, async (_, i) => {
        const name = `p-${i}`;
        const uid = await server.seed({
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name, namespace: ns },
          spec: { nodeName: 'node-1', containers: [{ name: 'app', image: 'x' }] },
        });
        return { name, uid };
      }),
    );
  const benchPods = await seedPods('bench', N);
  const idlePods = await seedPods('idle', N);
  const execPods = await seedPods('exec', N);
  const basePods = await seedPods('base', N);
  await seedPods('noise', 50);
  const waitArrival = (path: string): Promise<bigint> => server.arrival(path);

  // Baseline: the bare client call.
  const core = server.kubeConfig().makeApiClient(CoreV1Api);
  const baseline: number[] = [];
  for (const p of basePods) {
    const t0 = process.hrtime.bigint();
    const path = `/api/v1/namespaces/base/pods/${p.name}`;
    await core.deleteNamespacedPod({
      name: p.name,
      namespace: 'base',
      gracePeriodSeconds: 0,
      body: model<V1DeleteOptions>({ preconditions: { uid: p.uid } }),
    });
    baseline.push(Number((await waitArrival(path)) - t0) / 1e6);
  }

  const { policies, errors } = loadPolicyText(POLICY, 'bench-policy.yaml');
  if (errors.length > 0) throw new Error(JSON.stringify(errors));
  const agent = new ClusterAgent({
    kubeConfig: server.kubeConfig(),
    mode: 'daemonset',
    nodeName: 'node-1',
    policies,
    reportMinIntervalMs: 1000,
    actions: { apiBudget: { rate: 1e6, burst: 1e6 }, perPolicy: { rate: 1e6, burst: 1e6 } },
  });
  await agent.start();

  // Executor only: a ready verdict → DELETE (no engine), idle.
  const executorOnly: number[] = [];
  for (const p of execPods) {
    const [v] = agent.engine.evaluate(event('exec', p.name, '/bin/sh', 0));
    if (!v) throw new Error('policy did not match');
    const t0 = process.hrtime.bigint();
    const done = agent.executor.execute(v);
    executorOnly.push(Number((await waitArrival(`/api/v1/namespaces/exec/pods/${p.name}`)) - t0) / 1e6);
    await done; // one action at a time, as in the baseline
  }

  // The whole agent, idle: event → attribution → engine → report fold → executor → DELETE.
  const idle: number[] = [];
  for (const p of idlePods) {
    const t0 = process.hrtime.bigint();
    const done = agent.handleEvent(event('idle', p.name, '/bin/sh', 0));
    idle.push(Number((await waitArrival(`/api/v1/namespaces/idle/pods/${p.name}`)) - t0) / 1e6);
    await done;
  }

  // Under load: 10k ev/s of events that match no rule flow through the same agent, in 1 ms slices.
  let background = 0;
  const started = Date.now();
  const noise = setInterval(() => {
    const due = Math.floor(((Date.now() - started) / 1000) * BACKGROUND_PER_SECOND) - background;
    for (let k = 0; k < due; k++)
      void agent.handleEvent(event('noise', `p-${k % 50}`, '/usr/bin/ls', background++));
  }, 1);

  const measured: number[] = [];
  let i = 0;
  const deadline = Date.now() + 30_000; // keep the bench under a minute on a busy machine
  for (const p of benchPods) {
    if (Date.now() > deadline) break;
    const t0 = process.hrtime.bigint();
    const path = `/api/v1/namespaces/bench/pods/${p.name}`;
    const done = agent.handleEvent(event('bench', p.name, '/bin/sh', 1_000_000 + i++));
    measured.push(Number((await waitArrival(path)) - t0) / 1e6);
    await done;
    await new Promise((r) => setTimeout(r, 1)); // spread the actions over the background flow
  }
  clearInterval(noise);
  const seconds = (Date.now() - started) / 1000;
  await agent.stop();
  server.close();

  console.log(`\nbench/actions: event received → DELETE on the API server's socket (ms), N=${N}`);
  console.log(
    `background: ${background} non-violating events in ${seconds.toFixed(1)} s = ${Math.round(background / seconds)} ev/s offered to the same agent`,
  );
  console.log(
    `(fake API server in a child process; every request opens a new loopback connection, as client-node 1.4 does)\n`,
  );
  console.log(
    `| ${'scenario'.padEnd(44)} | ${'n'.padStart(5)} | ${'p50'.padStart(8)} | ${'p99'.padStart(8)} | ${'max'.padStart(8)} |`,
  );
  console.log(`|${'-'.repeat(46)}|${'-'.repeat(7)}|${'-'.repeat(10)}|${'-'.repeat(10)}|${'-'.repeat(10)}|`);
  console.log(row('baseline: bare deleteNamespacedPod, idle', baseline));
  console.log(row('executor: verdict → DELETE, idle', executorOnly));
  console.log(row('agent: event → DELETE, idle', idle));
  console.log(row('agent: event → DELETE, 10k ev/s background', measured));
  const s = [...measured].sort((a, b) => a - b);
  console.log(
    `\ngoal p50 ≤ 1 ms: ${percentile(s, 50) <= 1 ? 'met' : 'NOT met'}; p99 ≤ 5 ms: ${percentile(s, 99) <= 5 ? 'met' : 'NOT met'}`,
  );
}

await main();
