/**
 * bench/memory: resident memory of the agent, each row beside a bare Node process measured the same
 * way in the same run.
 *
 * - Local mode idle (issue: `npm start` ≤ 100 MiB): the built CLI's `run` with the six shipped
 *   policies (policies/), the built-in sensor attached (bpftrace program generated and loaded), the
 *   store and the HTTP API on, started with the Node flags and environment of `npm start` (package.json). bpftrace's
 *   own RSS is printed on its own row, not counted in the agent's. Needs root and bpftrace; skipped
 *   otherwise.
 * - Cluster agent (`kyverno-runtime cluster`, DaemonSet mode) with 10k pods on its node in the pod
 *   cache and 1000 policies loaded (goal ≤ 150 MiB), started with the environment the Helm chart
 *   sets: NODE_OPTIONS (values.yaml `nodeOptions`), KYVERNO_RUNTIME_V8_FLAGS (`v8Flags`) and
 *   MALLOC_ARENA_MAX (`mallocArenaMax`), MALLOC_TRIM_THRESHOLD_ and MALLOC_MMAP_THRESHOLD_
 *   (`mallocThresholdBytes`). AGENT_NODE_FLAGS (command-line Node flags instead of the
 *   chart's three) and AGENT_MALLOC_ARENA_MAX (0: glibc's default) override them.
 *
 * The fake API server runs in its own process (its memory is not the agent's). RSS is read from
 * /proc/<pid>/status (VmRSS, what the kubelet's memory limit sees) once the agent is ready, its
 * caches synced and every policy compiled, then sampled for a few seconds (the maximum is reported);
 * the peak since start (VmHWM) is printed beside it.
 *
 *   npx tsx bench/memory.ts [pods=10000] [policies=1000]
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { parse } from 'yaml';

const args = process.argv.slice(2);
const PODS = Number(args[0] ?? 10_000);
const POLICIES = Number(args[1] ?? 1000);
const GOAL_MIB = 150;
const LOCAL_GOAL_MIB = 100;
const ROOT = fileURLToPath(new URL('..', import.meta.url));

function statusMiB(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}
const rssMiB = (pid: number): number => statusMiB(pid, 'VmRSS');

function scriptWords(script: string): string[] {
  return (
    JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }
  ).scripts[script]!.split(/\s+/);
}

/** The Node flags of a package.json script (`node --flag … dist/…`): what `npm start` runs with. */
function scriptNodeFlags(script: string): string[] {
  const words = scriptWords(script);
  return words.slice(words.indexOf('node') + 1).filter((w) => w.startsWith('--'));
}

/** The environment a package.json script sets before `node` (`NAME=value node …`). */
function scriptEnv(script: string): Record<string, string> {
  const words = scriptWords(script);
  const env: Record<string, string> = {};
  for (const w of words.slice(0, words.indexOf('node'))) {
    const m = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(w);
    if (m) env[m[1]!] = m[2]!;
  }
  return env;
}

interface ChartValues {
  nodeOptions?: string;
  v8Flags?: string;
  mallocArenaMax?: number;
  mallocThresholdBytes?: number;
}
const chartValues = (): ChartValues =>
  parse(readFileSync(join(ROOT, 'deploy/helm/values.yaml'), 'utf8')) as ChartValues;

/** The chart's MALLOC_ARENA_MAX (values.yaml `mallocArenaMax`; 0 or absent: glibc's default). */
function chartArenaMax(): number {
  const v = process.env.AGENT_MALLOC_ARENA_MAX;
  return v !== undefined ? Number(v) : (chartValues().mallocArenaMax ?? 0);
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function sampleMax(pid: number, ms: number): Promise<number> {
  let max = 0;
  for (const end = Date.now() + ms; Date.now() < end; await sleep(250)) max = Math.max(max, rssMiB(pid));
  return max;
}

function policy(i: number): string {
  return `apiVersion: runtime.kyverno.io/v1alpha1
kind: ClusterRuntimePolicy
metadata:
  name: bench-${i}
spec:
  failureAction: Audit
  rules:
    - name: exec-${i}
      match:
        any:
          - resources:
              kinds: [Pod]
              namespaces: [ns-${i % 50}]
      restrict:
        message: "binary {{ event.process.binary }} in {{ request.object.metadata.name }}"
        behaviors: [process-exec]
        pattern:
          event:
            process:
              binary: '*/tool-${i}'
`;
}

const MANAGED_FIELDS = [
  {
    manager: 'kube-controller-manager',
    operation: 'Update',
    apiVersion: 'v1',
    time: '2026-01-01T00:00:00Z',
    fieldsType: 'FieldsV1',
    fieldsV1: {
      'f:metadata': {
        'f:generateName': {},
        'f:labels': { '.': {}, 'f:app': {}, 'f:pod-template-hash': {}, 'f:tier': {} },
        'f:ownerReferences': { '.': {}, 'k:{"uid":"rs"}': {} },
      },
      'f:spec': {
        'f:containers': {
          'k:{"name":"app"}': {
            '.': {},
            'f:env': { '.': {}, 'k:{"name":"MODE"}': { '.': {}, 'f:name': {}, 'f:value': {} } },
            'f:image': {},
            'f:imagePullPolicy': {},
            'f:name': {},
            'f:ports': {
              '.': {},
              'k:{"containerPort":8080,"protocol":"TCP"}': { '.': {}, 'f:containerPort': {} },
            },
            'f:resources': { '.': {}, 'f:requests': { '.': {}, 'f:cpu': {}, 'f:memory': {} } },
            'f:terminationMessagePath': {},
            'f:terminationMessagePolicy': {},
          },
        },
        'f:dnsPolicy': {},
        'f:enableServiceLinks': {},
        'f:restartPolicy': {},
        'f:schedulerName': {},
        'f:securityContext': {},
        'f:terminationGracePeriodSeconds': {},
      },
    },
  },
  {
    manager: 'kubelet',
    operation: 'Update',
    apiVersion: 'v1',
    time: '2026-01-01T00:00:05Z',
    fieldsType: 'FieldsV1',
    subresource: 'status',
    fieldsV1: {
      'f:status': {
        'f:conditions': {
          'k:{"type":"ContainersReady"}': {
            '.': {},
            'f:lastProbeTime': {},
            'f:lastTransitionTime': {},
            'f:status': {},
            'f:type': {},
          },
          'k:{"type":"Initialized"}': {
            '.': {},
            'f:lastProbeTime': {},
            'f:lastTransitionTime': {},
            'f:status': {},
            'f:type': {},
          },
          'k:{"type":"Ready"}': {
            '.': {},
            'f:lastProbeTime': {},
            'f:lastTransitionTime': {},
            'f:status': {},
            'f:type': {},
          },
        },
        'f:containerStatuses': {},
        'f:hostIP': {},
        'f:phase': {},
        'f:podIP': {},
        'f:podIPs': { '.': {}, 'k:{"ip":"10.1.0.1"}': { '.': {}, 'f:ip': {} } },
        'f:startTime': {},
      },
    },
  },
];

function pod(i: number): Record<string, unknown> {
  const id = randomBytes(32).toString('hex');
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: `app-${i}`,
      namespace: `ns-${i % 50}`,
      uid: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
      labels: { app: `app-${i % 200}`, 'pod-template-hash': 'abcdef1234', tier: 'web' },
      annotations: { 'kubectl.kubernetes.io/restartedAt': '2026-01-01T00:00:00Z' },
      // What a real API server returns for a ReplicaSet-made pod (server-side apply bookkeeping).
      managedFields: MANAGED_FIELDS,
      ownerReferences: [
        {
          apiVersion: 'apps/v1',
          kind: 'ReplicaSet',
          name: `app-${i % 200}-abcdef1234`,
          uid: `rs-${i % 200}`,
          controller: true,
        },
      ],
    },
    spec: {
      nodeName: 'node-1',
      serviceAccountName: 'default',
      containers: [
        {
          name: 'app',
          image: 'registry.example.com/team/app:1.2.3',
          ports: [{ containerPort: 8080, protocol: 'TCP' }],
          env: [{ name: 'MODE', value: 'production' }],
          resources: { requests: { cpu: '100m', memory: '128Mi' } },
        },
      ],
    },
    status: {
      phase: 'Running',
      podIP: `10.1.${(i >> 8) & 255}.${i & 255}`,
      containerStatuses: [
        {
          name: 'app',
          containerID: `containerd://${id}`,
          ready: true,
          restartCount: 0,
          image: 'registry.example.com/team/app:1.2.3',
          imageID: `registry.example.com/team/app@sha256:${'ab'.repeat(32)}`,
        },
      ],
    },
  };
}

const row = (name: string, v: number, verdict = ''): string =>
  `${name.padEnd(52)} ${v.toFixed(1).padStart(7)} MiB${verdict === '' ? '' : `  ${verdict}`}`;
const judge = (v: number, goal: number): string => `goal ≤ ${goal} MiB: ${v <= goal ? 'PASS' : 'FAIL'}`;

/** The sensor's bpftrace, a child of the agent (its memory is reported apart from the agent's). */
function bpftraceChild(pid: number): number | undefined {
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    for (const c of readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').split(' ')) {
      if (c === '') continue;
      if (readFileSync(`/proc/${c}/comm`, 'utf8').trim() === 'bpftrace') return Number(c);
    }
  }
  return undefined;
}

/** `npm start`'s local mode, idle: six shipped policies, sensor attached, store and API on. */
async function localIdle(dir: string, children: ChildProcess[]): Promise<void> {
  const built = join(ROOT, 'dist/src/cli/main.js');
  if (process.getuid?.() !== 0 || !existsSync(built)) {
    console.log(
      `local mode idle: skipped (${existsSync(built) ? 'needs root (bpftrace)' : 'no dist/: run npm run build'})`,
    );
    return;
  }
  const flags = scriptNodeFlags('start');
  const startEnv = scriptEnv('start');
  const port = await freePort();
  const agent = spawn(
    process.execPath,
    [
      ...flags,
      built,
      'run',
      '--policies',
      join(ROOT, 'policies'),
      '--db',
      join(dir, 'local', 'state.db'),
      `--listen=127.0.0.1:${port}`,
      '--no-install',
      '--log-level=warn',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...startEnv } },
  );
  children.push(agent);
  let out = '';
  agent.stdout.on('data', (d: Buffer) => (out += d.toString()));
  agent.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const t0 = Date.now();
  while (!out.includes('running; Ctrl-C to stop')) {
    if (agent.exitCode !== null) {
      console.log(
        `local mode idle: skipped (run exited ${agent.exitCode}: ${out.trim().split('\n').pop() ?? ''})`,
      );
      return;
    }
    if (Date.now() - t0 > 180_000) throw new Error('local mode not running after 180 s');
    await sleep(250);
  }
  console.log(
    `local mode running (six shipped policies, sensor attached) in ${Date.now() - t0} ms; node flags: ${flags.join(' ') || '(none)'}; ` +
      `env: ${
        Object.entries(startEnv)
          .map(([k, v]) => `${k}=${v}`)
          .join(' ') || '(none)'
      }`,
  );
  // Idle: let startup's garbage meet a collection as it would in the first minutes of a real run.
  await sleep(10_000);
  const localMiB = await sampleMax(agent.pid!, 5000);
  const bpftrace = bpftraceChild(agent.pid!);
  console.log(
    row('local mode idle (npm start, six shipped policies)', localMiB, judge(localMiB, LOCAL_GOAL_MIB)),
  );
  console.log(row('  peak since start (VmHWM)', statusMiB(agent.pid!, 'VmHWM')));
  if (bpftrace !== undefined) console.log(row('  bpftrace (its own process, not counted)', rssMiB(bpftrace)));
  agent.kill('SIGTERM');
  await new Promise((r) => agent.once('exit', r));
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'kr-bench-memory-'));
  const children: ChildProcess[] = [];
  try {
    // Baseline: a bare Node process, idle, measured the same way.
    const bare = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    children.push(bare);
    await sleep(1000);
    const bareMiB = await sampleMax(bare.pid!, 1500);
    console.log(row('bare node (baseline, same run)', bareMiB));
    mkdirSync(join(dir, 'local'));
    await localIdle(dir, children);

    const api = fork(join(ROOT, 'test/integration/k8s/fake-apiserver/standalone.ts'), [], {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    children.push(api);
    const url = await new Promise<string>((resolve) =>
      api.on('message', (m: { url?: string }) => m.url !== undefined && resolve(m.url)),
    );
    let seeded = 0;
    api.on('message', (m: { seeded?: string }) => {
      if (m.seeded !== undefined) seeded++;
    });
    const seed = (o: Record<string, unknown>): void => void api.send({ seed: o });
    for (let n = 0; n < 50; n++) seed({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: `ns-${n}` } });
    seed({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'node-1' }, spec: {} });
    const t0 = Date.now();
    for (let i = 0; i < PODS; i++) seed(pod(i));
    while (seeded < PODS + 51) await sleep(50);
    console.log(`seeded ${PODS} pods in ${Date.now() - t0} ms`);

    const policies = join(dir, 'policies');
    mkdirSync(policies);
    for (let i = 0; i < POLICIES; i++) writeFileSync(join(policies, `p-${i}.yaml`), policy(i));
    const kubeconfig = join(dir, 'config');
    writeFileSync(
      kubeconfig,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'fake', cluster: { server: url, 'insecure-skip-tls-verify': true } }],
        users: [{ name: 'tester', user: { token: 'fake-token' } }],
        contexts: [{ name: 'fake', context: { cluster: 'fake', user: 'tester' } }],
        'current-context': 'fake',
      }),
    );
    const port = await freePort();
    const built = join(ROOT, 'dist/src/cli/main.js');
    const entry = existsSync(built) ? [built] : ['--import', 'tsx', join(ROOT, 'src/cli/main.ts')];
    // The chart's environment, as the kubelet would start the container (a flag Node refuses in
    // NODE_OPTIONS fails here as it would in the cluster).
    const chart = chartValues();
    const {
      NODE_OPTIONS: _nodeOptions,
      KYVERNO_RUNTIME_V8_FLAGS: _v8Flags,
      MALLOC_ARENA_MAX: _arenas,
      MALLOC_TRIM_THRESHOLD_: _trim,
      MALLOC_MMAP_THRESHOLD_: _mmap,
      ...agentEnv
    }: NodeJS.ProcessEnv = process.env;
    const clusterFlags = (process.env.AGENT_NODE_FLAGS ?? '').split(' ').filter((f) => f !== '');
    if (process.env.AGENT_NODE_FLAGS === undefined) {
      if (chart.nodeOptions) agentEnv.NODE_OPTIONS = chart.nodeOptions;
      if (chart.v8Flags) agentEnv.KYVERNO_RUNTIME_V8_FLAGS = chart.v8Flags;
    }
    const arenaMax = chartArenaMax();
    if (arenaMax > 0) agentEnv.MALLOC_ARENA_MAX = String(arenaMax);
    const threshold = chart.mallocThresholdBytes ?? 0;
    if (threshold > 0) {
      agentEnv.MALLOC_TRIM_THRESHOLD_ = String(threshold);
      agentEnv.MALLOC_MMAP_THRESHOLD_ = String(threshold);
    }
    console.log(
      `agent: ${existsSync(built) ? 'built CLI (dist/)' : 'tsx (no dist/: run npm run build)'}; ` +
        (process.env.AGENT_NODE_FLAGS !== undefined
          ? `node flags: ${clusterFlags.join(' ') || '(none)'}`
          : `NODE_OPTIONS=${agentEnv.NODE_OPTIONS ?? ''} KYVERNO_RUNTIME_V8_FLAGS=${agentEnv.KYVERNO_RUNTIME_V8_FLAGS ?? ''}`) +
        `; MALLOC_ARENA_MAX=${arenaMax > 0 ? arenaMax : '(glibc default)'}` +
        `; MALLOC_TRIM/MMAP_THRESHOLD_=${threshold > 0 ? threshold : '(glibc dynamic)'}`,
    );
    const agent = spawn(
      process.execPath,
      [
        ...clusterFlags,
        ...entry,
        'cluster',
        '--mode=daemonset',
        '--node-name=node-1',
        `--kubeconfig=${kubeconfig}`,
        '--policies',
        policies,
        `--health-probe-bind-address=127.0.0.1:${port}`,
        `--metrics-bind-address=127.0.0.1:${port}`,
        '--log-level=warn',
      ],
      { stdio: ['ignore', 'ignore', 'inherit'], env: agentEnv },
    );
    children.push(agent);
    const t1 = Date.now();
    for (;;) {
      const metrics = await fetch(`http://127.0.0.1:${port}/metrics`)
        .then((r) => r.text())
        .catch(() => '');
      const loaded = /^kyverno_runtime_policies_loaded (\d+)/m.exec(metrics)?.[1];
      const ready = await fetch(`http://127.0.0.1:${port}/readyz`)
        .then((r) => r.status)
        .catch(() => 0);
      if (ready === 200 && Number(loaded) === POLICIES) break;
      if (agent.exitCode !== null) throw new Error(`agent exited with ${agent.exitCode}`);
      if (Date.now() - t1 > 300_000) throw new Error('agent not ready after 300 s');
      await sleep(250);
    }
    console.log(`agent ready (${PODS} pods synced, ${POLICIES} policies) in ${Date.now() - t1} ms`);
    // Idle, as the local row: startup's garbage (10k pods listed, 1000 policies compiled) collected.
    await sleep(10_000);
    const agentMiB = await sampleMax(agent.pid!, 4000);
    console.log(row('bare node (baseline, same run)', bareMiB));
    console.log(row(`agent: ${PODS} pods cached, ${POLICIES} policies`, agentMiB, judge(agentMiB, GOAL_MIB)));
    console.log(row('agent minus baseline', agentMiB - bareMiB));
    console.log(row('  peak since start (VmHWM)', statusMiB(agent.pid!, 'VmHWM')));
    // Where it goes: V8 heap (used / committed), memory outside the heap (buffers, native modules).
    const metrics = await fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text());
    const gauge = (name: string): number =>
      Number(new RegExp(`^kyverno_runtime_process_${name} (\\S+)`, 'm').exec(metrics)?.[1] ?? NaN) / 2 ** 20;
    console.log(row('  V8 heap used', gauge('nodejs_heap_size_used_bytes')));
    console.log(row('  V8 heap committed', gauge('nodejs_heap_size_total_bytes')));
    console.log(row('  external (buffers, native)', gauge('nodejs_external_memory_bytes')));
  } finally {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
process.exit(0);
