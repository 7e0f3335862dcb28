/**
 * bench/ingest: a seeded generator makes a corpus of mixed Tetragon and Falco events (1M by default);
 * with 100 and 1000 policies we measure events/s per core through the whole hot path — line split,
 * JSON.parse, adapt, attribute, evaluate every event — beside bare line splitting + JSON.parse of the
 * same corpus in the same run, and the decision time of single events (adapt + evaluate, each timed
 * alone on a regular sample of the corpus).
 *
 * Goal (issue "bench/ingest"): ratio to bare >= 0.50 and p99 decision <= 100 µs, with 100 policies;
 * 1000 policies are reported beside. The whole bench keeps under BENCH_BUDGET_S (55 s): each run gets
 * a share of the time left and, when it would take longer, measures a prefix of the corpus — the
 * "events" column and a note under the table say so. Rates are per CPU-second of this process, so a
 * busy machine slows the runs but not the figures much; the wall-clock rate is printed beside.
 *
 *   npx tsx bench/ingest.ts
 *   BENCH_EVENTS=200000 BENCH_POLICIES=100 npx tsx bench/ingest.ts    # quicker
 */
import { loadavg } from 'node:os';
import { adaptLine } from '../src/events/adapters/index.js';
import { createRuntimeEngine } from '../src/engine/runtime/index.js';
import { loadPolicyText } from '../src/policy/index.js';
import { seededRandom, pick, percentile, printTable } from './support.js';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 1_000_000);
const POLICY_COUNTS = (process.env.BENCH_POLICIES ?? '100,1000').split(',').map(Number);
/**
 * Wall-clock budget of the whole bench (the issue asks for < 60 s). After the corpus is built, each
 * measured run gets an equal share of what is left (a fast run leaves more to the next ones); a run
 * that reaches its share stops and reports the prefix of the corpus it measured.
 */
const BUDGET_S = Number(process.env.BENCH_BUDGET_S ?? 55);
const started = process.hrtime.bigint();
const elapsedSeconds = () => Number(process.hrtime.bigint() - started) / 1e9;
/** Every SAMPLE_EVERY-th event is also timed alone for the decision-latency percentiles. */
const SAMPLE_EVERY = 8;
const GOAL_RATIO = 0.5;
const GOAL_P99_US = 100;

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

function policySet(count: number): string {
  const docs: string[] = [];
  for (let i = 0; i < count; i++) {
    const ns = namespaces[i % namespaces.length]!;
    const kind = i % 4;
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
  /** Lines (= events) processed; less than the corpus when the run hit its time budget. */
  lines: number;
  /** Wall-clock seconds. */
  seconds: number;
  /** CPU seconds this process used (all its threads, GC included). */
  cpuSeconds: number;
  /** Per-event decision times of the sampled events, ascending, in µs. */
  samples: number[];
}

/**
 * Splits `buf` into lines and calls `onLine` for each, until the end or the time budget. Every
 * SAMPLE_EVERY-th call is timed on its own (two clock reads per sample, ~0.1 µs, amortised over the
 * other events); the budget is checked every 4096 lines so the clock stays off the hot path.
 */
function run(buf: Buffer, onLine: (line: string) => void, budgetSeconds: number): RunResult {
  const samples: number[] = [];
  const cpuStart = process.cpuUsage();
  const start = process.hrtime.bigint();
  const deadline = start + BigInt(Math.round(budgetSeconds * 1e9));
  let lines = 0;
  let from = 0;
  for (;;) {
    const nl = buf.indexOf(10, from);
    if (nl < 0) break;
    const line = buf.toString('utf8', from, nl);
    from = nl + 1;
    if (lines % SAMPLE_EVERY === 0) {
      const t = process.hrtime.bigint();
      onLine(line);
      samples.push(Number(process.hrtime.bigint() - t) / 1000);
    } else {
      onLine(line);
    }
    if (++lines % 4096 === 0 && process.hrtime.bigint() > deadline) break;
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const cpu = process.cpuUsage(cpuStart);
  samples.sort((a, b) => a - b);
  return { lines, seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6, samples };
}

interface Row {
  name: string;
  result: RunResult;
  violations?: number;
  skipped?: number;
}

const buf = corpus(EVENTS);
const load = loadavg().map((l) => l.toFixed(2));
console.log(
  `corpus: ${EVENTS} events (${(buf.length / 1e6).toFixed(0)} MB, built in ${elapsedSeconds().toFixed(1)} s), ` +
    `45% Tetragon exec, 30% Tetragon tcp_connect, 25% Falco alerts, seed 42; single thread (one core); ` +
    `load average ${load.join(' ')}`,
);

let runsLeft = 2 + POLICY_COUNTS.length;
/** This run's share of the remaining budget (at least a second, so every row has a number). */
function nextBudget(): number {
  const share = (BUDGET_S - elapsedSeconds()) / runsLeft--;
  return Math.max(1, share);
}

const rows: Row[] = [];
let parsed = 0;
rows.push({
  name: 'bare split + JSON.parse',
  result: run(
    buf,
    (line) => {
      if (JSON.parse(line) !== null) parsed++;
    },
    nextBudget(),
  ),
});

// Adapters alone: what the engine adds is the difference between this row and the next ones.
let adaptSkipped = 0;
let adapted = 0;
const adaptOnly = run(
  buf,
  (line) => {
    const outcome = adaptLine(line, 'auto');
    if (outcome.kind === 'skipped') adaptSkipped++;
    else adapted += outcome.events.length;
  },
  nextBudget(),
);
rows.push({ name: 'split + parse + adapt', result: adaptOnly, skipped: adaptSkipped });

for (const count of POLICY_COUNTS) {
  const loaded = loadPolicyText(policySet(count), `bench-${count}.yaml`);
  if (loaded.errors.length > 0)
    throw new Error(`policy errors: ${JSON.stringify(loaded.errors.slice(0, 3))}`);
  const engine = createRuntimeEngine(loaded.policies);
  let violations = 0;
  let skipped = 0;
  const result = run(
    buf,
    (line) => {
      const outcome = adaptLine(line, 'auto');
      if (outcome.kind === 'skipped') {
        skipped++;
        return;
      }
      for (const event of outcome.events) violations += engine.evaluate(event).length;
    },
    nextBudget(),
  );
  rows.push({ name: `adapt + evaluate, ${count} policies`, result, violations, skipped });
}

// Rates are events per CPU-second of this process (its own threads only, GC included): on a shared
// machine that is the per-core figure, unaffected by time the scheduler gave to other processes.
// The wall-clock rate is printed beside it.
const perCpuSecond = (r: RunResult) => r.lines / r.cpuSeconds;
const bareRate = perCpuSecond(rows[0]!.result);
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
for (const { name, result, violations } of rows) {
  const bare = name.startsWith('bare');
  table.push([
    name,
    String(result.lines),
    perCpuSecond(result).toFixed(0),
    (result.lines / result.seconds).toFixed(0),
    (perCpuSecond(result) / bareRate).toFixed(2),
    bare ? '-' : percentile(result.samples, 50).toFixed(1),
    bare ? '-' : percentile(result.samples, 99).toFixed(1),
    violations === undefined ? '-' : String(violations),
  ]);
}
printTable(table);

const partial = rows.filter((r) => r.result.lines < EVENTS).map((r) => r.name);
if (partial.length > 0)
  console.log(
    `time-boxed (total budget ${BUDGET_S} s, shared by the runs): measured a prefix of the corpus ` +
      `in: ${partial.join('; ')}`,
  );
const skips = rows.reduce((n, r) => n + (r.skipped ?? 0), 0);
if (skips > 0) console.log(`adapter skips: ${skips} (every line of this corpus should adapt)`);
console.log(`p50/p99: adapt + evaluate of one event, timed alone, every ${SAMPLE_EVERY}th event`);

for (const row of rows.filter((r) => r.violations !== undefined)) {
  const ratio = perCpuSecond(row.result) / bareRate;
  const p99 = percentile(row.result.samples, 99);
  const met = ratio >= GOAL_RATIO && p99 <= GOAL_P99_US;
  console.log(
    `goal ratio >= ${GOAL_RATIO.toFixed(2)} and p99 <= ${GOAL_P99_US} µs, ${row.name}: ` +
      `ratio ${ratio.toFixed(2)}, p99 ${p99.toFixed(1)} µs — ${met ? 'MET' : 'NOT MET'}`,
  );
}
// Keep the parse/adapt results observable so the baseline loops cannot be optimised away.
if (parsed === 0 || adapted === 0) throw new Error('nothing parsed');
