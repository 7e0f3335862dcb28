/**
 * bench/actions: event received → DELETE written to the loopback API server's socket.
 *
 * A ClusterAgent (pod cache, engine with one Enforce policy whose rule deletes the pod, action
 * executor, PolicyReport writer) runs against the fake API server (test/integration/k8s/fake-apiserver, in a child
 * process). For each of N violating events on N distinct pods we take
 * hrtime when the event is handed to the agent and when the API server's `request` event fires for
 * that pod's DELETE. Meanwhile 10k ev/s of non-violating background events flow through the same
 * agent. Baselines, same run, without background load: the bare client call (CoreV1Api
 * .deleteNamespacedPod with the same UID precondition) measured the same way, once as client-node
 * makes it by default (a new connection per request) and once through our keep-alive clients
 * (src/k8s/api-clients.ts), which every agent component uses. The fake API server counts the TCP
 * connections each phase opened. An interleaved phase alternates one bare keep-alive DELETE and one
 * agent event → DELETE, so both see the same load of a shared machine, and prints what the agent
 * adds per pair.
 *
 * Each phase also records this process's event-loop delay (perf_hooks.monitorEventLoopDelay): when
 * its p99 is as large as the latency p99, the tail is the loop (or the CPU) being busy, not the
 * action path. The longest garbage-collection pause of each phase is printed beside it (a GC pause
 * stops the loop too: a loop p99 far above it points at CPU contention instead). `--no-reports` turns the PolicyReport writer off, to show its share of the tail.
 *
 * The agent runs in this process, so the bench re-runs itself under the Node flags the chart gives the
 * agent (values.yaml `nodeOptions`: a small young generation means short scavenges, which is what
 * the tail sees); AGENT_NODE_FLAGS overrides them (empty: Node's defaults).
 *
 *   npx tsx bench/actions.ts [N=1000] [--no-reports]
 */
import { CoreV1Api, KubeConfig, type V1DeleteOptions } from '@kubernetes/client-node';
import { fork, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import {
  monitorEventLoopDelay,
  performance,
  PerformanceObserver,
  type IntervalHistogram,
} from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { apiClient, KeepAliveKubeConfig } from '../src/k8s/api-clients.js';
import { ClusterAgent } from '../src/app/cluster-agent.js';
import { model } from '../src/k8s/model.js';
import { loadPolicyText } from '../src/policy/index.js';
import type { RuntimeEvent } from '../src/events/types.js';
import { parse } from 'yaml';
import { percentile } from './support.js';

const AS_SHIPPED = 'KR_BENCH_AS_SHIPPED';
/** The chart's NODE_OPTIONS (values.yaml `nodeOptions`), or AGENT_NODE_FLAGS when set. */
const agentNodeFlags = (
  process.env.AGENT_NODE_FLAGS ??
  ((
    parse(readFileSync(new URL('../deploy/helm/values.yaml', import.meta.url), 'utf8')) as {
      nodeOptions?: string;
    }
  ).nodeOptions ||
    '')
)
  .split(/\s+/)
  .filter((f) => f !== '');
if (process.env[AS_SHIPPED] === undefined) {
  const child = spawnSync(
    process.execPath,
    [...process.execArgv, ...agentNodeFlags, ...process.argv.slice(1)],
    { stdio: 'inherit', env: { ...process.env, [AS_SHIPPED]: agentNodeFlags.join(' ') } },
  );
  process.exit(child.status ?? 1);
}

const args = process.argv.slice(2);
const N = Number(args.find((a) => !a.startsWith('--')) ?? 1000);
const WITH_REPORTS = !args.includes('--no-reports');
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

/** GC pauses of this process (start, duration in ms), to set beside each phase's tail. */
const gcPauses: { start: number; ms: number }[] = [];
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) gcPauses.push({ start: e.startTime, ms: e.duration });
}).observe({ entryTypes: ['gc'] });
type Window = [number, number];
const phases = new Map<string, Window>();
function gcMax(w: Window | undefined): number {
  let max = 0;
  for (const g of gcPauses) if (w && g.start >= w[0] && g.start <= w[1]) max = Math.max(max, g.ms);
  return max;
}

function row(name: string, samples: number[], loop: IntervalHistogram, window?: Window): string {
  const s = [...samples].sort((a, b) => a - b);
  const cells = [percentile(s, 50), percentile(s, 99), s.at(-1)!, loop.percentile(99) / 1e6, gcMax(window)];
  return `| ${name.padEnd(48)} | ${String(s.length).padStart(5)} | ${cells.map((c) => c.toFixed(3).padStart(8)).join(' | ')} |`;
}

/** Runs `phase` while recording the event loop's delay. */
async function withLoopDelay<T>(name: string, phase: () => Promise<T>): Promise<[T, IntervalHistogram]> {
  const h = monitorEventLoopDelay({ resolution: 1 });
  h.enable();
  const t0 = performance.now();
  try {
    return [await phase(), h];
  } finally {
    h.disable();
    phases.set(name, [t0, performance.now()]);
  }
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
  private readonly connectionQueries: ((n: number) => void)[] = [];
  private constructor(
    private readonly child: ChildProcess,
    readonly url: string,
  ) {
    child.on(
      'message',
      (m: { seeded?: string; connections?: number; arrival?: { path: string; at: string } }) => {
        if (m.seeded !== undefined) this.pending.shift()?.(m.seeded);
        if (m.connections !== undefined) this.connectionQueries.shift()?.(m.connections);
        if (m.arrival) this.arrivals.set(m.arrival.path, BigInt(m.arrival.at));
      },
    );
  }

  static async start(): Promise<RemoteApiServer> {
    const child = fork(
      fileURLToPath(new URL('../test/integration/k8s/fake-apiserver/standalone.ts', import.meta.url)),
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

  /** TCP connections the server has accepted so far. */
  connections(): Promise<number> {
    return new Promise((resolve) => {
      this.connectionQueries.push(resolve);
      this.child.send({ connections: true });
    });
  }

  /** As `kyverno-runtime cluster` loads it (keep-alive), or a plain client-node KubeConfig. */
  kubeConfig(keepAlive = true): KubeConfig {
    const kc = keepAlive ? new KeepAliveKubeConfig() : new KubeConfig();
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
  for (const ns of ['bench', 'idle', 'exec', 'base', 'pooled', 'noise', 'pair-base', 'pair-agent'])
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
  const pooledPods = await seedPods('pooled', N);
  await seedPods('noise', 50);
  const pairBasePods = await seedPods('pair-base', N);
  const pairAgentPods = await seedPods('pair-agent', N);
  const waitArrival = (path: string): Promise<bigint> => server.arrival(path);

  // Baselines: the bare client call, as client-node makes it by default and through our clients.
  const connections: Record<string, number> = {};
  const bareDeletes = async (core: CoreV1Api, ns: string, pods: { name: string; uid: string }[]) => {
    const samples: number[] = [];
    const before = await server.connections();
    for (const p of pods) {
      const t0 = process.hrtime.bigint();
      const path = `/api/v1/namespaces/${ns}/pods/${p.name}`;
      await core.deleteNamespacedPod({
        name: p.name,
        namespace: ns,
        gracePeriodSeconds: 0,
        body: model<V1DeleteOptions>({ preconditions: { uid: p.uid } }),
      });
      samples.push(Number((await waitArrival(path)) - t0) / 1e6);
    }
    connections[ns] = (await server.connections()) - before;
    return samples;
  };
  const loadBefore = loadavg()[0]!;
  const [baseline, baselineLoop] = await withLoopDelay('baseline', () =>
    bareDeletes(server.kubeConfig(false).makeApiClient(CoreV1Api), 'base', basePods),
  );
  const [pooled, pooledLoop] = await withLoopDelay('pooled', () =>
    bareDeletes(apiClient(server.kubeConfig(false), CoreV1Api), 'pooled', pooledPods),
  );

  const { policies, errors } = loadPolicyText(POLICY, 'bench-policy.yaml');
  if (errors.length > 0) throw new Error(JSON.stringify(errors));
  const agent = new ClusterAgent({
    kubeConfig: server.kubeConfig(),
    mode: 'daemonset',
    nodeName: 'node-1',
    policies,
    reportMinIntervalMs: 1000,
    reports: WITH_REPORTS,
    actions: { apiBudget: { rate: 1e6, burst: 1e6 }, perPolicy: { rate: 1e6, burst: 1e6 } },
  });
  await agent.start();
  const agentConnectionsBefore = await server.connections();

  // Executor only: a ready verdict → DELETE (no engine), idle.
  const executorOnly: number[] = [];
  const executorLoop = monitorEventLoopDelay({ resolution: 1 });
  executorLoop.enable();
  const executorStart = performance.now();
  for (const p of execPods) {
    const [v] = agent.engine.evaluate(event('exec', p.name, '/bin/sh', 0));
    if (!v) throw new Error('policy did not match');
    const t0 = process.hrtime.bigint();
    const done = agent.executor.execute(v);
    executorOnly.push(Number((await waitArrival(`/api/v1/namespaces/exec/pods/${p.name}`)) - t0) / 1e6);
    await done; // one action at a time, as in the baseline
  }
  executorLoop.disable();
  phases.set('executor', [executorStart, performance.now()]);

  // The whole agent, idle: event → attribution → engine → report fold → executor → DELETE.
  const idle: number[] = [];
  const idleLoop = monitorEventLoopDelay({ resolution: 1 });
  idleLoop.enable();
  const idleStart = performance.now();
  for (const p of idlePods) {
    const t0 = process.hrtime.bigint();
    const done = agent.handleEvent(event('idle', p.name, '/bin/sh', 0));
    idle.push(Number((await waitArrival(`/api/v1/namespaces/idle/pods/${p.name}`)) - t0) / 1e6);
    await done;
  }
  idleLoop.disable();
  phases.set('idle', [idleStart, performance.now()]);

  // Under load: 10k ev/s of events that match no rule flow through the same agent, in 1 ms slices.
  let background = 0;
  const started = Date.now();
  const noise = setInterval(() => {
    const due = Math.floor(((Date.now() - started) / 1000) * BACKGROUND_PER_SECOND) - background;
    for (let k = 0; k < due; k++)
      void agent.handleEvent(event('noise', `p-${k % 50}`, '/usr/bin/ls', background++));
  }, 1);

  const measured: number[] = [];
  const loadedLoop = monitorEventLoopDelay({ resolution: 1 });
  loadedLoop.enable();
  const loadedStart = performance.now();
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
  loadedLoop.disable();
  phases.set('loaded', [loadedStart, performance.now()]);
  const seconds = (Date.now() - started) / 1000;

  // Interleaved, idle: one bare keep-alive DELETE, then one agent event → DELETE, and so on, so both
  // see the same moment of a shared machine's load; the per-pair difference is what the agent adds.
  const pairBase: number[] = [];
  const pairAgent: number[] = [];
  const pairDiff: number[] = [];
  const pairCore = apiClient(server.kubeConfig(false), CoreV1Api);
  const pairLoop = monitorEventLoopDelay({ resolution: 1 });
  pairLoop.enable();
  const pairStart = performance.now();
  const pairDeadline = Date.now() + 30_000;
  for (let k = 0; k < N && Date.now() < pairDeadline; k++) {
    const b = pairBasePods[k]!;
    const t0 = process.hrtime.bigint();
    const bareDone = pairCore.deleteNamespacedPod({
      name: b.name,
      namespace: 'pair-base',
      gracePeriodSeconds: 0,
      body: model<V1DeleteOptions>({ preconditions: { uid: b.uid } }),
    });
    const bare = Number((await waitArrival(`/api/v1/namespaces/pair-base/pods/${b.name}`)) - t0) / 1e6;
    await bareDone;
    const a = pairAgentPods[k]!;
    const t1 = process.hrtime.bigint();
    const done = agent.handleEvent(event('pair-agent', a.name, '/bin/sh', 2_000_000 + k));
    const viaAgent = Number((await waitArrival(`/api/v1/namespaces/pair-agent/pods/${a.name}`)) - t1) / 1e6;
    await done;
    pairBase.push(bare);
    pairAgent.push(viaAgent);
    pairDiff.push(viaAgent - bare);
  }
  pairLoop.disable();
  phases.set('pair', [pairStart, performance.now()]);
  const agentConnections = (await server.connections()) - agentConnectionsBefore;
  const agentRequests = executorOnly.length + idle.length + pairAgent.length + measured.length;
  await agent.stop();
  server.close();

  console.log(
    `\nbench/actions: event received → DELETE on the API server's socket (ms), N=${N}, ` +
      `PolicyReports ${WITH_REPORTS ? 'on' : 'off'}, load average ${loadBefore.toFixed(1)} → ${loadavg()[0]!.toFixed(1)}, ` +
      `node flags: ${process.env[AS_SHIPPED] || "Node's defaults"}`,
  );
  console.log(
    `background: ${background} non-violating events in ${seconds.toFixed(1)} s = ${Math.round(background / seconds)} ev/s offered to the same agent`,
  );
  console.log(
    `TCP connections opened: client-node default ${connections.base} for ${baseline.length} DELETEs; ` +
      `keep-alive clients ${connections.pooled} for ${pooled.length}; ` +
      `agent ${agentConnections} for ${agentRequests} actions${WITH_REPORTS ? ' and their PolicyReport writes' : ''}\n`,
  );
  console.log(
    `| ${'scenario'.padEnd(48)} | ${'n'.padStart(5)} | ${['p50', 'p99', 'max', 'loop p99', 'gc max'].map((h) => h.padStart(8)).join(' | ')} |`,
  );
  console.log(`|${'-'.repeat(50)}|${'-'.repeat(7)}|${'|'.padStart(11, '-').repeat(5)}`);
  console.log(
    row('baseline: client-node default (new conn.), idle', baseline, baselineLoop, phases.get('baseline')),
  );
  console.log(row('baseline: keep-alive apiClient, idle', pooled, pooledLoop, phases.get('pooled')));
  console.log(row('executor: verdict → DELETE, idle', executorOnly, executorLoop, phases.get('executor')));
  console.log(row('agent: event → DELETE, idle', idle, idleLoop, phases.get('idle')));
  console.log(row('agent: event → DELETE, 10k ev/s background', measured, loadedLoop, phases.get('loaded')));
  console.log(row('interleaved: keep-alive apiClient, idle', pairBase, pairLoop, phases.get('pair')));
  console.log(row('interleaved: agent event → DELETE, idle', pairAgent, pairLoop, phases.get('pair')));
  console.log(
    '(loop p99: this process’s event-loop delay p99 during the phase; gc max: its longest GC pause)',
  );
  const d = [...pairDiff].sort((x, y) => x - y);
  console.log(
    `\nagent minus bare client call, per interleaved pair (ms): p50 ${percentile(d, 50).toFixed(3)}, ` +
      `p90 ${percentile(d, 90).toFixed(3)}, p99 ${percentile(d, 99).toFixed(3)}`,
  );
  const s = [...measured].sort((a, b) => a - b);
  const bare = [...pooled].sort((a, b) => a - b);
  console.log(
    `\nagent, 10k ev/s background: p50 ${percentile(s, 50).toFixed(3)} ms (goal ≤ 1: ${percentile(s, 50) <= 1 ? 'met' : 'NOT met'}), ` +
      `p99 ${percentile(s, 99).toFixed(3)} ms (goal ≤ 5: ${percentile(s, 99) <= 5 ? 'met' : 'NOT met'}); ` +
      `bare keep-alive client call p50 ${percentile(bare, 50).toFixed(3)} ms, p99 ${percentile(bare, 99).toFixed(3)} ms`,
  );
}

await main();
