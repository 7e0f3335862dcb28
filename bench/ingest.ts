/**
 * bench/ingest: a seeded generator makes a corpus of mixed Tetragon and Falco events (1M by default);
 * with 100 and 1000 policies we measure events/s per core through the whole hot path — line split,
 * JSON.parse, adapt, attribute, evaluate every event — beside bare line splitting + JSON.parse of the
 * same corpus in the same run, and the decision time of single events (adapt + evaluate, each timed
 * alone on a regular sample of the corpus).
 *
 * Goal (issue "bench/ingest"): ratio to bare >= 0.50 and p99 decision <= 100 µs, with 100 policies;
 * 1000 policies are reported beside. The runs take turns over the same chunks of the corpus (see
 * CHUNK_LINES), so each ratio compares work done in the same seconds. The whole bench keeps under
 * BENCH_BUDGET_S (55 s): when the corpus would take longer, every run measures the same prefix — the
 * "events" column and a note under the table say so. Rates are per CPU-second of this process, so a
 * busy machine slows the runs but not the figures much; the wall-clock rate is printed beside.
 *
 *   npx tsx bench/ingest.ts
 *   BENCH_EVENTS=200000 BENCH_POLICIES=100 npx tsx bench/ingest.ts    # quicker
 */
import { loadavg } from 'node:os';
import { percentile, pick, printTable, seededRandom } from './support.js';
import { compiledHotPath } from './compiled.js';

// The hot path is measured as it ships: the compiled JavaScript that `npm start` runs (rebuilt first
// when src/ is newer). Run from TypeScript source under tsx, every exception also pays for source-map
// support (several times the cost of the throw itself), which a rule error on the event path would wrongly carry.
const hotPath = compiledHotPath();
const { adaptLine } = (await import(
  hotPath.module('events/adapters/index.js')
)) as typeof import('../src/events/adapters/index.js');
const { createRuntimeEngine } = (await import(
  hotPath.module('engine/runtime/index.js')
)) as typeof import('../src/engine/runtime/index.js');
const { loadPolicyText } = (await import(
  hotPath.module('policy/index.js')
)) as typeof import('../src/policy/index.js');

const EVENTS = Number(process.env.BENCH_EVENTS ?? 1_000_000);
const POLICY_COUNTS = (process.env.BENCH_POLICIES ?? '100,1000').split(',').map(Number);
/**
 * Wall-clock budget of the whole bench (the issue asks for < 60 s). What is left after building the
 * corpus goes to the interleaved runs; reaching it stops them all after the same chunk.
 */
const BUDGET_S = Number(process.env.BENCH_BUDGET_S ?? 55);
const started = process.hrtime.bigint(); // after any rebuild: the budget is for measuring
const elapsedSeconds = () => Number(process.hrtime.bigint() - started) / 1e9;
/** Every SAMPLE_EVERY-th event is also timed alone for the decision-latency percentiles. */
const SAMPLE_EVERY = 8;
const GOAL_RATIO = 0.5;
const GOAL_P99_US = 100;
/** The goal is set for this policy-set size; other sizes are reported beside it. */
const GOAL_POLICIES = 100;

const rand = seededRandom(42);
const namespaces = Array.from({ length: 50 }, (_, i) => `ns-${i}`);
const binaries = ['/bin/sh', '/bin/bash', '/usr/bin/curl', '/usr/sbin/nginx', '/usr/bin/python3', '/bin/ls'];
const falcoRules = [
  'Terminal shell in container',
  'Write below etc',
  'Contact K8S API Server From Container',
];

function tetragonExec(i: number): string {
  return JSON.stringify({
    process_exec: {
      process: {
        exec_id: `ZXhlYy0${i}`,
        pid: 1000 + (i % 30000),
        uid: 0,
        cwd: '/',
        binary: pick(rand, binaries),
        arguments: '-c true',
        start_time: '2026-11-26T12:00:00.000000000Z',
        pod: {
          namespace: pick(rand, namespaces),
          name: `pod-${i % 500}`,
          container: {
            id: `containerd://${(i % 997).toString(16).padStart(12, '0')}`,
            name: 'app',
            image: { name: 'app:1' },
          },
          pod_labels: { app: `app-${i % 20}` },
          workload: `wl-${i % 100}`,
        },
      },
      parent: { pid: 999, binary: '/usr/bin/containerd-shim' },
    },
    node_name: 'worker-1',
    time: '2026-11-26T12:00:00.000000000Z',
  });
}

function tetragonConnect(i: number): string {
  return JSON.stringify({
    process_kprobe: {
      process: {
        exec_id: `Y29ubmVjdC${i}`,
        pid: 2000 + (i % 30000),
        uid: 1000,
        binary: '/usr/bin/curl',
        pod: {
          namespace: pick(rand, namespaces),
          name: `pod-${i % 500}`,
          container: { id: `containerd://c${i % 997}`, name: 'app' },
        },
      },
      function_name: 'tcp_connect',
      args: [
        {
          sock_arg: {
            family: 'AF_INET',
            type: 'SOCK_STREAM',
            protocol: 'IPPROTO_TCP',
            saddr: '10.0.0.5',
            daddr: `203.0.113.${i % 250}`,
            sport: 40000 + (i % 20000),
            dport: pick(rand, [443, 80, 5432, 53]),
          },
        },
      ],
      action: 'KPROBE_ACTION_POST',
    },
    node_name: 'worker-1',
    time: '2026-11-26T12:00:00.000000000Z',
  });
}

function falcoAlert(i: number): string {
  const rule = pick(rand, falcoRules);
  return JSON.stringify({
    uuid: `00000000-0000-4000-8000-${i.toString(16).padStart(12, '0')}`,
    output: `12:00:00.000000000: Notice ${rule} (user=root)`,
    priority: 'Notice',
    rule,
    time: '2026-11-26T12:00:00.000000000Z',
    source: 'syscall',
    hostname: 'worker-1',
    tags: ['container', 'shell'],
    output_fields: {
      'container.id': (i % 997).toString(16).padStart(12, '0'),
      'container.name': 'app',
      'k8s.ns.name': pick(rand, namespaces),
      'k8s.pod.name': `pod-${i % 500}`,
      'proc.name': 'sh',
      'proc.exepath': '/bin/sh',
      'proc.cmdline': 'sh -c id',
      'proc.pid': 3000 + (i % 30000),
      'user.uid': 0,
      'evt.type': rule === 'Write below etc' ? 'openat' : 'execve',
      'fd.name': rule === 'Write below etc' ? '/etc/shadow' : '<NA>',
    },
  });
}

/**
 * NDJSON corpus written straight into one growing Buffer: joining a million lines into one string
 * would approach V8's maximum string length (~512 M characters) and double the memory.
 */
function corpus(n: number): Buffer {
  let buf = Buffer.allocUnsafe(n * 560 + 1024);
  let length = 0;
  for (let i = 0; i < n; i++) {
    const r = rand();
    const line = r < 0.45 ? tetragonExec(i) : r < 0.75 ? tetragonConnect(i) : falcoAlert(i);
    const needed = length + Buffer.byteLength(line) + 1;
    if (needed > buf.length) {
      const grown = Buffer.allocUnsafe(Math.max(needed, buf.length * 2));
      buf.copy(grown, 0, 0, length);
      buf = grown;
    }
    length += buf.write(line, length);
    buf[length++] = 10;
  }
  return buf.subarray(0, length);
}

/** The same four rules written as NamespacedRuntimeValidatingPolicy (CEL, true = allowed). */
function validatingPolicy(i: number, ns: string, kind: number): string {
  const [behaviors, validation] =
    kind === 0
      ? [
          '[process-exec]',
          `"!(event.process.binary.endsWith('/sh') || event.process.binary.endsWith('/bash'))"`,
        ]
      : kind === 1
        ? ['[network-connect]', `"!has(event.network.dport) || event.network.dport in [443, 53]"`]
        : kind === 2
          ? ['[file-write]', `"!event.file.path.startsWith('/etc/')"`]
          : [
              '[alert, process-exec]',
              `"!has(event.alert) || !event.alert.rule.startsWith('Terminal shell')"`,
            ];
  return `apiVersion: runtime.kyverno.io/v1alpha1
kind: NamespacedRuntimeValidatingPolicy
metadata:
  name: bench-${i}
  namespace: "${ns}"
spec:
  validationActions: [Audit]
  behaviors: ${behaviors}
  matchConstraints:
    resourceRules:
      - {apiGroups: [''], apiVersions: [v1], resources: [pods]}
  validations:
    - expression: ${validation}
      message: bench
`;
}

/** `validatingShare`: every other policy is written as a RuntimeValidatingPolicy when 0.5. */
function policySet(count: number, validatingShare = 0): string {
  const docs: string[] = [];
  for (let i = 0; i < count; i++) {
    const ns = namespaces[i % namespaces.length]!;
    const kind = i % 4;
    if (validatingShare > 0 && i % 2 === 1) {
      docs.push(validatingPolicy(i, ns, kind));
      continue;
    }
    const rule =
      kind === 0
        ? `behaviors: [process-exec]\n        pattern:\n          event:\n            process:\n              binary: "*/sh | */bash"`
        : kind === 1
          ? `behaviors: [network-connect]\n        conditions:\n          any:\n            - key: "{{ event.network.dport }}"\n              operator: AnyNotIn\n              value: [443, 53]`
          : kind === 2
            ? `behaviors: [file-write]\n        pattern:\n          event:\n            file:\n              path: "/etc/*"`
            : `behaviors: [alert, process-exec]\n        pattern:\n          event:\n            alert:\n              rule: "Terminal shell*"`;
    docs.push(`apiVersion: runtime.kyverno.io/v1alpha1
kind: ClusterRuntimePolicy
metadata:
  name: bench-${i}
spec:
  failureAction: Audit
  rules:
    - name: rule-${i}
      match:
        any:
          - resources:
              kinds: [Pod]
              namespaces: ["${ns}"]
      restrict:
        message: "bench {{ event.process.binary }}"
        ${rule}
`);
  }
  return docs.join('---\n');
}

interface RunResult {
  /** Lines (= events) processed; less than the corpus when the runs hit the time budget. */
  lines: number;
  /** Wall-clock seconds spent in this run's chunks. */
  seconds: number;
  /** CPU seconds this process used during this run's chunks (all its threads, GC included). */
  cpuSeconds: number;
  /** Per-event decision times of the sampled events, ascending, in µs. */
  samples: number[];
}

interface Run {
  name: string;
  onLine: (line: string) => void;
  /** False for the baseline: its events are not timed one by one. */
  sampled: boolean;
  result: RunResult;
  /** Verdicts and adapter skips; undefined violations for runs without policies. Reset after warm-up. */
  counts: { violations?: number; skipped: number };
  /** Size of the policy set evaluated; undefined for the runs without policies. */
  policies?: number;
}

/**
 * Lines per chunk. The runs take turns chunk by chunk rather than one after the other over the whole
 * corpus: on a shared machine the speed of a core drifts by tens of percent within a minute, and a
 * baseline measured in a quiet minute against a policy run in a busy one would say more about the
 * neighbours than about us. The order of the runs rotates every chunk, so none is always first on a
 * chunk (cold caches) or always right after the run that left the most garbage.
 */
const CHUNK_LINES = Number(process.env.BENCH_CHUNK ?? 32768);

/**
 * Feeds the corpus to every run, chunk by chunk, until the end or the time budget. Each run splits
 * the chunk's lines from the corpus bytes itself, inside its timed loop: splitting is part of both
 * the baseline ("bare line splitting + JSON.parse") and the whole hot path, as when a source reads a
 * stream. Every SAMPLE_EVERY-th event of a sampled run is also timed on its own — adapt + evaluate,
 * the split excluded — (two clock reads, amortised over the other events); CPU and wall
 * time are read per chunk, so the clocks stay off the hot path.
 */
function measure(buf: Buffer, runs: readonly Run[], budgetSeconds: number): void {
  const deadline = process.hrtime.bigint() + BigInt(Math.round(budgetSeconds * 1e9));
  let chunkStart = 0;
  for (let chunkIndex = 0; chunkStart < buf.length; chunkIndex++) {
    // The chunk's end: just after its CHUNK_LINES-th newline (or the end of the corpus).
    let chunkEnd = chunkStart;
    let lines = 0;
    while (lines < CHUNK_LINES) {
      const nl = buf.indexOf(10, chunkEnd);
      if (nl < 0) {
        chunkEnd = buf.length;
        break;
      }
      chunkEnd = nl + 1;
      lines++;
    }
    for (let k = 0; k < runs.length; k++) {
      const run = runs[(chunkIndex + k) % runs.length]!;
      const { onLine, result, sampled } = run;
      const cpuStart = process.cpuUsage();
      const start = process.hrtime.bigint();
      let from = chunkStart;
      for (let i = 0; i < lines; i++) {
        const nl = buf.indexOf(10, from);
        const line = buf.toString('utf8', from, nl);
        from = nl + 1;
        if (sampled && i % SAMPLE_EVERY === 0) {
          const t = process.hrtime.bigint();
          onLine(line);
          result.samples.push(Number(process.hrtime.bigint() - t) / 1000);
        } else {
          onLine(line);
        }
      }
      result.seconds += Number(process.hrtime.bigint() - start) / 1e9;
      const cpu = process.cpuUsage(cpuStart);
      result.cpuSeconds += (cpu.user + cpu.system) / 1e6;
      result.lines += lines;
    }
    chunkStart = chunkEnd;
    if (process.hrtime.bigint() > deadline) break;
  }
  for (const run of runs) run.result.samples.sort((a, b) => a - b);
}

/**
 * Lines every run processes once, unmeasured, before measuring: the first thousands of calls run in
 * V8's interpreter and baseline tiers while the optimising compiler catches up. Throughput is a
 * steady-state figure; the one-off warm-up of a long-running process is not part of it.
 */
const WARMUP_LINES = 20_000;

function warmUp(buf: Buffer, runs: readonly Run[]): void {
  let from = 0;
  for (let i = 0; i < WARMUP_LINES; i++) {
    const nl = buf.indexOf(10, from);
    if (nl < 0) break;
    const line = buf.toString('utf8', from, nl);
    from = nl + 1;
    for (const run of runs) run.onLine(line);
  }
}

function emptyResult(): RunResult {
  return { lines: 0, seconds: 0, cpuSeconds: 0, samples: [] };
}

const buf = corpus(EVENTS);
const load = loadavg().map((l) => l.toFixed(2));
console.log(
  `corpus: ${EVENTS} events (${(buf.length / 1e6).toFixed(0)} MB, built in ${elapsedSeconds().toFixed(1)} s), ` +
    `45% Tetragon exec, 30% Tetragon tcp_connect, 25% Falco alerts, seed 42; single thread (one core); ` +
    `load average ${load.join(' ')}; code: ${hotPath.description}`,
);

let parsed = 0;
let adapted = 0;
const adaptCounts = { skipped: 0 };
const runs: Run[] = [
  {
    name: 'bare split + JSON.parse',
    sampled: false,
    result: emptyResult(),
    counts: { skipped: 0 },
    onLine: (line) => {
      if (JSON.parse(line) !== null) parsed++;
    },
  },
  {
    // Adapters alone: what the engine adds is the difference between this row and the next ones.
    name: 'split + parse + adapt',
    sampled: true,
    result: emptyResult(),
    counts: adaptCounts,
    onLine: (line) => {
      const outcome = adaptLine(line, 'auto');
      if (outcome.kind === 'skipped') adaptCounts.skipped++;
      else adapted += outcome.events.length;
    },
  },
];
const variants: { count: number; validatingShare: number }[] = [
  ...POLICY_COUNTS.map((count) => ({ count, validatingShare: 0 })),
  // Beside the all-ClusterRuntimePolicy row of the same size: the CEL-native kind should cost about the same.
  ...(POLICY_COUNTS.includes(100) ? [{ count: 100, validatingShare: 0.5 }] : []),
];
for (const { count, validatingShare } of variants) {
  const loaded = loadPolicyText(policySet(count, validatingShare), `bench-${count}.yaml`);
  if (loaded.errors.length > 0)
    throw new Error(`policy errors: ${JSON.stringify(loaded.errors.slice(0, 3))}`);
  const engine = createRuntimeEngine(loaded.policies);
  const counts = { violations: 0, skipped: 0 };
  runs.push({
    name: `adapt + evaluate, ${count} policies${validatingShare > 0 ? ' (half RuntimeValidatingPolicy)' : ''}`,
    policies: count,
    sampled: true,
    result: emptyResult(),
    counts,
    onLine: (line) => {
      const outcome = adaptLine(line, 'auto');
      if (outcome.kind === 'skipped') {
        counts.skipped++;
        return;
      }
      for (const event of outcome.events) counts.violations += engine.evaluate(event).length;
    },
  });
}
warmUp(buf, runs);
for (const { counts } of runs) {
  counts.skipped = 0;
  if (counts.violations !== undefined) counts.violations = 0;
}
measure(buf, runs, Math.max(1, BUDGET_S - elapsedSeconds()));

// Rates are events per CPU-second of this process (its own threads only, GC included): on a shared
// machine that is the per-core figure, unaffected by time the scheduler gave to other processes.
// The wall-clock rate is printed beside it.
const perCpuSecond = (r: RunResult) => r.lines / r.cpuSeconds;
const bareRate = perCpuSecond(runs[0]!.result);
const table: string[][] = [
  [
    'run',
    'events',
    'events/s per core (CPU time)',
    'events/s (wall)',
    'ratio to bare',
    'p50 µs/event',
    'p99 µs/event',
    'violations',
  ],
];
for (const { name, result, counts, sampled } of runs) {
  table.push([
    name,
    String(result.lines),
    perCpuSecond(result).toFixed(0),
    (result.lines / result.seconds).toFixed(0),
    (perCpuSecond(result) / bareRate).toFixed(2),
    sampled ? percentile(result.samples, 50).toFixed(1) : '-',
    sampled ? percentile(result.samples, 99).toFixed(1) : '-',
    counts.violations === undefined ? '-' : String(counts.violations),
  ]);
}
printTable(table);

const measured = runs[0]!.result.lines;
if (measured < EVENTS)
  console.log(
    `time-boxed (total budget ${BUDGET_S} s): every run measured the first ${measured} events of the corpus`,
  );
const skips = runs.reduce((n, r) => n + r.counts.skipped, 0);
if (skips > 0) console.log(`adapter skips: ${skips} (every line of this corpus should adapt)`);
console.log(
  `runs interleaved in chunks of ${CHUNK_LINES} lines, in rotating order; p50/p99: adapt + evaluate ` +
    `of one event, timed alone, every ${SAMPLE_EVERY}th event`,
);

for (const row of runs.filter((r) => r.policies !== undefined)) {
  const ratio = perCpuSecond(row.result) / bareRate;
  const p99 = percentile(row.result.samples, 99);
  const met = ratio >= GOAL_RATIO && p99 <= GOAL_P99_US;
  const verdict =
    row.policies === GOAL_POLICIES
      ? met
        ? 'MET'
        : 'NOT MET'
      : `reported beside (the goal is set at ${GOAL_POLICIES} policies)`;
  console.log(
    `goal ratio >= ${GOAL_RATIO.toFixed(2)} and p99 <= ${GOAL_P99_US} µs, ${row.name}: ` +
      `ratio ${ratio.toFixed(2)}, p99 ${p99.toFixed(1)} µs — ${verdict}`,
  );
}
// Issue 14: the CEL-native kind should cost about what ClusterRuntimePolicy does at the same size.
const allRules = runs.find(
  (r) => r.policies === GOAL_POLICIES && !r.name.includes('RuntimeValidatingPolicy'),
);
const halfValidating = runs.find(
  (r) => r.policies === GOAL_POLICIES && r.name.includes('RuntimeValidatingPolicy'),
);
if (allRules && halfValidating)
  console.log(
    `${GOAL_POLICIES} policies, half RuntimeValidatingPolicy against all ClusterRuntimePolicy: ` +
      `${(perCpuSecond(halfValidating.result) / perCpuSecond(allRules.result)).toFixed(2)} of its rate ` +
      `(ratio to bare ${(perCpuSecond(halfValidating.result) / bareRate).toFixed(2)} against ` +
      `${(perCpuSecond(allRules.result) / bareRate).toFixed(2)})`,
  );
// Keep the parse/adapt results observable so the baseline loops cannot be optimised away.
if (parsed === 0 || adapted === 0) throw new Error('nothing parsed');
