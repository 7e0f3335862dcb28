/**
 * Built-in sensor benchmark: a syscall-heavy workload (loopback connects, file writes, execs) run in
 * a child process without the sensor (baseline) and with it attached, in two configurations:
 *   - reported: policies watch every op of the workload (connects, writes under a watched prefix,
 *     execs): every op reaches user space and gets a verdict;
 *   - filtered: the writes go outside every watched prefix and no policy watches connects or execs:
 *     only what the policies ask for is probed, and the writes are filtered out in the kernel.
 * The machine may be shared: runs are interleaved (baseline, reported, baseline, filtered, …,
 * baseline) and each sensor run is compared with the baselines either side of it; the median over
 * the rounds is the result. Also printed: capture (events per op, per behavior: anything missing is
 * a drop), syscall → verdict latency (kernel timestamp to engine verdict), the CPU the sensor
 * itself spent (bpftrace and the consuming Node process) per op, and a CPU ratio: the workload's CPU
 * without the sensor over all the CPU the same work took with it (workload, bpftrace, consumer).
 * One unmeasured pass with the sensor comes first (V8 compiles the consumer's code meanwhile).
 * With --decompose, it runs the reported row's bpftrace program directly instead (its output read
 * and counted, not parsed), in two forms: with every print removed (the probes' own work in the
 * kernel) and as generated (plus the output path: perf events, wakeups, bpftrace's formatting):
 * where the cost is, and how many output lines each op makes.
 * Loads the compiled dist/ (bench/compiled.ts; BENCH_SOURCE=1 for the TypeScript source).
 * Needs root and bpftrace. Run: npx tsx bench/sensor.ts [--decompose] [rounds=5]  (bpftrace compiles
 * on every attach: seconds each).
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RuntimeEvent } from '../src/events/types.js';
import { compiledHotPath } from './compiled.js';
import { percentile } from './support.js';

// The sensor and the engine are measured as they ship: the compiled JavaScript `npm start` runs
// (rebuilt first when src/ is newer). Under tsx every thrown Error also pays for source-map support.
const hotPath = compiledHotPath();
const { createRuntimeEngine } = (await import(
  hotPath.module('engine/runtime/index.js')
)) as typeof import('../src/engine/runtime/index.js');
const { loadPolicyText } = (await import(
  hotPath.module('policy/index.js')
)) as typeof import('../src/policy/index.js');
const { BpftraceSensor } = (await import(
  hotPath.module('sources/sensor/sensor.js')
)) as typeof import('../src/sources/sensor/sensor.js');
const { ensureSensorPrerequisites } = (await import(
  hotPath.module('sources/sensor/prerequisites.js')
)) as typeof import('../src/sources/sensor/prerequisites.js');
const { generateProgram, SENSOR_STRLEN } = (await import(
  hotPath.module('sources/sensor/program.js')
)) as typeof import('../src/sources/sensor/program.js');

const CONNECTS = 1000;
const WRITES = 1000;
const EXECS = 100;
const OPS = CONNECTS + WRITES + EXECS;
const DECOMPOSE = process.argv[2] === '--decompose';
const ROUNDS = Math.max(1, Number(process.argv[DECOMPOSE ? 3 : 2] ?? 5) || 5);
/** Goals: throughput with the sensor / without. */
const GOAL_REPORTED = 0.9;
const GOAL_FILTERED = 0.98;
/** Wait after attaching before measuring (bpftrace finishes its start-up work meanwhile). */
const SETTLE_MS = 500;

const dir = mkdtempSync(join(tmpdir(), 'kr-bench-sensor-'));
const watched = join(dir, 'watched') + '/';
const elsewhere = join(dir, 'elsewhere') + '/';
mkdirSync(watched);
mkdirSync(elsewhere);
// The executable the kernel loads (/bin is a symlink on merged-/usr systems): what the sensor reports.
const TRUE = realpathSync('/bin/true');

const rule = (name: string, behavior: string, pattern: string): string => `
    - name: ${name}
      match: { any: [{ resources: { kinds: [Node] } }] }
      restrict: { message: ${name}, behaviors: [${behavior}], pattern: { event: ${pattern} } }`;
const policy = (rules: string): string => `
apiVersion: runtime.kyverno.io/v1alpha1
kind: ClusterRuntimePolicy
metadata: { name: bench }
spec:
  failureAction: Audit
  rules:${rules}
`;
const writeRule = rule('writes', 'file-write', `{ file: { path: '${watched}*' } }`);
const reportedPolicy = policy(
  rule('connects', 'network-connect', '{ network: { daddr: 127.0.0.1 } }') +
    writeRule +
    rule('execs', 'process-exec', `{ process: { binary: ${TRUE} } }`),
);
const CONFIGS = {
  reported: { policy: reportedPolicy },
  filtered: { policy: policy(writeRule) },
} as const;
type Config = keyof typeof CONFIGS;

/**
 * The workload, as a node script run in a child (the sensor never reports its own process). Its
 * loopback server runs in the same child: a server in the bench process would make every connect
 * wait for the sensor's consumer, which no real workload does.
 */
const WORKLOAD = `
const net = require('net'), fs = require('fs'), cp = require('child_process');
const [dir, connects, writes, execs, bin] = process.argv.slice(1);
const server = net.createServer((s) => s.end());
server.listen(0, '127.0.0.1', async () => {
  const port = server.address().port;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < +connects; i++) {
    await new Promise((r) => net.connect(port, '127.0.0.1').on('close', r).on('error', r));
  }
  for (let i = 0; i < +writes; i++) fs.writeFileSync(dir + 'f' + (i % 50), 'x');
  for (let i = 0; i < +execs; i++) cp.execFileSync(bin);
  const ns = Number(process.hrtime.bigint() - t0);
  server.close();
  // CPU of the workload and its reaped children (the execs), user + system: the probes and their
  // output run in the context of the syscall that fired them, so the in-kernel cost shows here.
  const st = fs.readFileSync('/proc/self/stat', 'utf8');
  const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
  const cpu = (+f[11] + +f[12] + +f[13] + +f[14]) / 100;
  process.stdout.write(JSON.stringify({ ns, pid: process.pid, port, cpu }));
});
`;

interface WorkloadRun {
  seconds: number;
  /** CPU seconds of the workload and its children. */
  cpu: number;
  /**
   * CPU seconds this process spent meanwhile (spawning the workload, reading its result): part of
   * what the consumer's CPU is measured over, but not the sensor's cost.
   */
  launcherCpu: number;
  pid: number;
  port: number;
}

async function runWorkload(target: string): Promise<WorkloadRun> {
  const launcherBefore = process.cpuUsage();
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['-e', WORKLOAD, target, String(CONNECTS), String(WRITES), String(EXECS), TRUE],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`workload exited ${String(code)}`));
      const r = JSON.parse(out) as { ns: number; pid: number; port: number; cpu: number };
      const launcher = process.cpuUsage(launcherBefore);
      const launcherCpu = (launcher.user + launcher.system) / 1e6;
      resolve({ seconds: r.ns / 1e9, cpu: r.cpu, launcherCpu, pid: r.pid, port: r.port });
    });
  });
}

/** utime + stime of a process, in seconds (from /proc/<pid>/stat; 0 when gone). */
function cpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // USER_HZ
  } catch {
    return 0;
  }
}

interface SensorRun {
  seconds: number;
  workloadCpu: number;
  connects: number;
  writes: number;
  execs: number;
  /** Records that reached user space and were dropped there (not reported), whole host. */
  filtered: number;
  /** Events reported for other processes on the host meanwhile (the sensor sees the whole host). */
  others: number;
  dropped: Record<string, number>;
  latenciesMs: number[];
  bpftraceCpu: number;
  consumerCpu: number;
  /** The consumer's system-mode share (pipe reads, /proc reads, wakeups). */
  consumerSystemCpu: number;
  /** Pipe reads and output lines the consumer took from bpftrace meanwhile. */
  reads: number;
  lines: number;
  attachSeconds: number;
}

async function runWithSensor(
  config: Config,
  host: Awaited<ReturnType<typeof ensureSensorPrerequisites>>,
): Promise<SensorRun> {
  const loaded = loadPolicyText(CONFIGS[config].policy, `bench-${config}.yaml`);
  if (loaded.errors.length > 0) throw new Error(loaded.errors.map((e) => e.message).join('; '));
  const engine = createRuntimeEngine(loaded.policies, { nodeName: 'bench' });
  const events: RuntimeEvent[] = [];
  const latenciesMs: number[] = [];
  const sensor = new BpftraceSensor({
    bpftrace: host.bpftrace,
    tracepointExists: host.tracepointExists,
    hints: engine.sensorHints,
    node: 'bench',
  });
  const attachStart = performance.now();
  await sensor.start((e) => {
    events.push(e);
    if (engine.evaluate(e).length > 0) {
      // Kernel monotonic ns of the syscall → now (same clock: CLOCK_MONOTONIC).
      const kernelNs = (e.raw as { nsecs: number }).nsecs;
      latenciesMs.push(Number(process.hrtime.bigint() - BigInt(kernelNs)) / 1e6);
    }
  });
  const attachSeconds = (performance.now() - attachStart) / 1000;
  // bpftrace keeps working for a moment after its probes are attached: not part of the run.
  await new Promise((r) => setTimeout(r, SETTLE_MS));
  const { filtered: filteredBefore, reads: readsBefore, lines: linesBefore } = sensor.details();
  const bpftraceBefore = cpuSeconds(sensor.pid);
  const consumerBefore = process.cpuUsage();
  const reported = config !== 'filtered';
  const run = await runWorkload(reported ? watched : elsewhere);
  const mine = (): RuntimeEvent[] =>
    events.filter((e) => e.process?.pid === run.pid || e.parent?.pid === run.pid);
  // Let the last events arrive: until all are in (reported) or the sensor is quiet.
  const expected = reported ? OPS : 0;
  for (let waited = 0, last = -1; waited < 5000; waited += 50) {
    const n = events.length;
    if ((expected > 0 && mine().length >= expected) || (expected === 0 && n === last && waited >= 500)) break;
    last = n;
    await new Promise((r) => setTimeout(r, 50));
  }
  const consumed = process.cpuUsage(consumerBefore);
  const bpftraceCpu = cpuSeconds(sensor.pid) - bpftraceBefore;
  const after = sensor.details();
  const filtered = after.filtered - filteredBefore;
  const stats = sensor.stats();
  await sensor.stop();
  const ours = mine();
  const count = (pred: (e: RuntimeEvent) => boolean): number => ours.filter(pred).length;
  return {
    seconds: run.seconds,
    workloadCpu: run.cpu,
    connects: count((e) => e.behavior === 'network-connect' && e.network?.dport === run.port),
    writes: count((e) => e.behavior === 'file-write' && (e.file?.path ?? '').startsWith(dir)),
    execs: count((e) => e.behavior === 'process-exec' && e.process?.binary === TRUE),
    filtered,
    others: events.length - ours.length,
    dropped: stats.dropped,
    latenciesMs,
    bpftraceCpu,
    consumerCpu: (consumed.user + consumed.system) / 1e6,
    consumerSystemCpu: consumed.system / 1e6,
    reads: after.reads - readsBefore,
    lines: after.lines - linesBefore,
    attachSeconds,
  };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

async function main(): Promise<void> {
  const host = await ensureSensorPrerequisites({ install: false });
  await runWorkload(watched); // warm-up: page cache, JIT
  // One unmeasured pass with the sensor: the consumer's code is compiled by V8 during its first few
  // thousand events, a start-up cost a long-running agent pays once, not per event.
  process.stderr.write('warm-up pass with the sensor (not measured)\n');
  await runWithSensor('reported', host);
  const first = await runWorkload(watched);
  const baselines: number[] = [first.seconds];
  const baselineCpu: number[] = [first.cpu];
  const launcherCpu: number[] = [first.launcherCpu];
  const configs = Object.keys(CONFIGS) as Config[];
  const runs: Record<Config, { run: SensorRun; ratio: number; cpuRatio: number }[]> = {
    reported: [],
    filtered: [],
  };
  for (let round = 0; round < ROUNDS; round++) {
    for (const config of configs) {
      const run = await runWithSensor(config, host);
      const next = await runWorkload(watched);
      const after = next.seconds;
      const before = baselines[baselines.length - 1]!;
      const cpuBefore = baselineCpu[baselineCpu.length - 1]!;
      const launcherBefore = launcherCpu[launcherCpu.length - 1]!;
      baselines.push(after);
      baselineCpu.push(next.cpu);
      launcherCpu.push(next.launcherCpu);
      // This process also launched the workload: what that costs without a sensor is not the consumer's.
      run.consumerCpu = Math.max(0, run.consumerCpu - (launcherBefore + next.launcherCpu) / 2);
      // The CPU the same work costs without the sensor / with it (workload + bpftrace + consumer):
      // the throughput ratio a CPU-bound host would see, far less noisy than wall time when shared.
      const cpuRatio = (cpuBefore + next.cpu) / 2 / (run.workloadCpu + run.bpftraceCpu + run.consumerCpu);
      runs[config].push({ run, ratio: (before + after) / 2 / run.seconds, cpuRatio });
      process.stderr.write(
        `round ${round + 1}/${ROUNDS} ${config}: ratio ${((before + after) / 2 / run.seconds).toFixed(3)}\n`,
      );
    }
  }

  const rows: [string, string, string][] = [];
  const row = (a: string, b: string, c = ''): number => rows.push([a, b, c]);
  row('workload ops/s, baseline (median)', (OPS / median(baselines)).toFixed(0), `${baselines.length} runs`);
  row('workload CPU per op, baseline (µs, median)', ((1e6 * median(baselineCpu)) / OPS).toFixed(1));
  for (const config of configs) {
    const rs = runs[config];
    const ratio = median(rs.map((r) => r.ratio));
    const reported = config !== 'filtered';
    const goal = reported ? GOAL_REPORTED : GOAL_FILTERED;
    const sum = (f: (r: SensorRun) => number): number => rs.reduce((s, r) => s + f(r.run), 0);
    const lat = rs.flatMap((r) => r.run.latenciesMs).sort((a, b) => a - b);
    const drops: Record<string, number> = {};
    for (const r of rs) for (const [k, v] of Object.entries(r.run.dropped)) drops[k] = (drops[k] ?? 0) + v;
    row(`— ${config}`, '', reported ? 'every op reported' : 'every op filtered in the kernel');
    row(
      '  throughput ratio (sensor / baseline)',
      ratio.toFixed(3),
      `goal ≥ ${goal.toFixed(2)}: ${ratio >= goal ? 'PASS' : 'FAIL'}  (runs: ${rs.map((r) => r.ratio.toFixed(3)).join(' ')})`,
    );
    row(
      '  CPU ratio (baseline CPU / with sensor, all CPU)',
      median(rs.map((r) => r.cpuRatio)).toFixed(3),
      `(runs: ${rs.map((r) => r.cpuRatio.toFixed(3)).join(' ')})`,
    );
    row('  workload CPU per op (µs)', ((1e6 * sum((r) => r.workloadCpu)) / (OPS * rs.length)).toFixed(1));
    if (reported) {
      row('  connect events / connects', `${sum((r) => r.connects)} / ${CONNECTS * rs.length}`);
      row('  file-write events / writes', `${sum((r) => r.writes)} / ${WRITES * rs.length}`);
      row('  exec events / execs', `${sum((r) => r.execs)} / ${EXECS * rs.length}`);
      row('  syscall → verdict p50 (ms)', percentile(lat, 50).toFixed(2));
      row('  syscall → verdict p99 (ms)', percentile(lat, 99).toFixed(2));
    } else {
      row(
        '  events reported for the workload',
        String(sum((r) => r.connects + r.writes + r.execs)),
        'want 0',
      );
      row(
        '  records reaching user space, not reported',
        String(sum((r) => r.filtered)),
        'whole host: exec identities learnt',
      );
    }
    row('  events of other processes on the host', String(sum((r) => r.others)), 'also in the CPU below');
    row('  sensor drops (lost/malformed)', JSON.stringify(drops));
    row('  bpftrace CPU per op (µs)', ((1e6 * sum((r) => r.bpftraceCpu)) / (OPS * rs.length)).toFixed(1));
    row(
      '  consumer CPU per op (µs)',
      ((1e6 * sum((r) => r.consumerCpu)) / (OPS * rs.length)).toFixed(1),
      `of which system ${((1e6 * sum((r) => r.consumerSystemCpu)) / (OPS * rs.length)).toFixed(1)} (before the launcher's share is taken off); runs: ${rs.map((r) => ((1e6 * r.run.consumerCpu) / OPS).toFixed(0)).join(' ')}`,
    );
    row(
      '  bpftrace output lines / pipe reads per op',
      `${(sum((r) => r.lines) / (OPS * rs.length)).toFixed(2)} / ${(sum((r) => r.reads) / (OPS * rs.length)).toFixed(2)}`,
    );
    row('  bpftrace compile + attach (s, median)', median(rs.map((r) => r.run.attachSeconds)).toFixed(1));
  }
  const w0 = Math.max(...rows.map((r) => r[0].length));
  const w1 = Math.max(...rows.map((r) => r[1].length));
  console.log(
    `\nbench/sensor — ${CONNECTS} connects, ${WRITES} writes, ${EXECS} execs per pass; ${ROUNDS} rounds, interleaved; ${hotPath.description}\n`,
  );
  for (const [a, b, c] of rows) console.log(`${a.padEnd(w0)}  ${b.padStart(w1)}  ${c}`);
  rmSync(dir, { recursive: true, force: true });
}

/** bpftrace running `source`, its output lines counted; resolves once its probes are attached. */
async function rawBpftrace(
  bpftrace: string,
  source: string,
): Promise<{ pid: number; lines: () => number; stop: () => Promise<void> }> {
  const child = spawn(bpftrace, ['-f', 'json', '-e', source], {
    stdio: ['ignore', 'pipe', 'ignore'],
    env: { ...process.env, BPFTRACE_STRLEN: String(SENSOR_STRLEN), BPFTRACE_PERF_RB_PAGES: '256' },
  });
  let lines = 0;
  await new Promise<void>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', () => reject(new Error('bpftrace exited before attaching')));
    child.stdout.on('data', (d: Buffer) => {
      for (const b of d) if (b === 10) lines++;
      if (lines > 0) resolve(); // BEGIN's "R" line: attached
    });
  });
  return {
    pid: child.pid!,
    lines: () => lines,
    stop: async () => {
      const closed = new Promise((r) => child.once('close', r));
      child.kill('SIGINT');
      await closed;
    },
  };
}

async function decompose(): Promise<void> {
  const host = await ensureSensorPrerequisites({ install: false });
  const loaded = loadPolicyText(reportedPolicy, 'bench-reported.yaml');
  const hints = createRuntimeEngine(loaded.policies, { nodeName: 'bench' }).sensorHints;
  const program = generateProgram({
    behaviors: hints.behaviors,
    filePathPrefixes: hints.filePathPrefixes,
    selfPid: process.pid,
    tracepointExists: host.tracepointExists,
  });
  // Every print and printf of an event removed; the walks, filters and map updates stay.
  const silent = program.source.replace(/print\(\(.*\)\);|printf\("A .*\);/g, '');
  const variants = { 'probes, no output': silent, 'probes + output': program.source };
  type Variant = keyof typeof variants;
  const rows: Record<
    Variant,
    { ratio: number; cpu: number; bpftrace: number; reader: number; lines: number }[]
  > = {
    'probes, no output': [],
    'probes + output': [],
  };
  await runWorkload(watched);
  let base = await runWorkload(watched);
  const baseCpu: number[] = [base.cpu];
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, source] of Object.entries(variants) as [Variant, string][]) {
      const bt = await rawBpftrace(host.bpftrace, source);
      await new Promise((r) => setTimeout(r, SETTLE_MS));
      const cpu0 = cpuSeconds(bt.pid);
      const lines0 = bt.lines();
      const reader0 = process.cpuUsage();
      const run = await runWorkload(watched);
      await new Promise((r) => setTimeout(r, 500)); // the last lines
      const lines = bt.lines() - lines0;
      const reader = process.cpuUsage(reader0);
      const bpftrace = cpuSeconds(bt.pid) - cpu0;
      await bt.stop();
      const next = await runWorkload(watched);
      baseCpu.push(next.cpu);
      rows[name].push({
        ratio: (base.seconds + next.seconds) / 2 / run.seconds,
        cpu: run.cpu,
        bpftrace,
        // This process only read and counted the lines: what a consumer pays before any parsing.
        reader: Math.max(0, (reader.user + reader.system) / 1e6 - (base.launcherCpu + next.launcherCpu) / 2),
        lines,
      });
      base = next;
      process.stderr.write(
        `round ${round + 1}/${ROUNDS} ${name}: ratio ${rows[name].at(-1)!.ratio.toFixed(3)}\n`,
      );
    }
  }
  console.log(
    `\nbench/sensor --decompose — reported row's program, output counted not parsed; ${ROUNDS} rounds\n`,
  );
  console.log(`baseline workload CPU per op (µs, median): ${((1e6 * median(baseCpu)) / OPS).toFixed(1)}`);
  for (const [name, rs] of Object.entries(rows)) {
    console.log(
      `${name.padEnd(18)} throughput ratio ${median(rs.map((r) => r.ratio)).toFixed(3)} (runs: ${rs.map((r) => r.ratio.toFixed(3)).join(' ')})` +
        `; workload CPU/op ${((1e6 * median(rs.map((r) => r.cpu))) / OPS).toFixed(1)} µs` +
        `; bpftrace CPU/op ${((1e6 * median(rs.map((r) => r.bpftrace))) / OPS).toFixed(1)} µs` +
        `; reading its output, CPU/op ${((1e6 * median(rs.map((r) => r.reader))) / OPS).toFixed(1)} µs` +
        `; output lines/op ${(median(rs.map((r) => r.lines)) / OPS).toFixed(2)}`,
    );
  }
  rmSync(dir, { recursive: true, force: true });
}

(DECOMPOSE ? decompose() : main()).catch((err: unknown) => {
  console.error((err as Error).message);
  rmSync(dir, { recursive: true, force: true });
  process.exitCode = 1;
});
