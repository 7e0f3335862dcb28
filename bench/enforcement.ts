/**
 * bench/enforcement: what enforcing in the kernel costs and gains, in one run. Needs root.
 *
 * connectLatency: the cost of the `block` program on every connect() of the host. One process (Python:
 * a tight loop, timed with perf_counter_ns around connect+close to a loopback listener) measures the
 * latency without the cgroup connect program, with it holding one kernel rule, with it holding the
 * maximum (256 rules, none matching: the longest walk), and without it again (drift check), so the
 * ratio compares like with like.
 *
 * killLatency: a victim writes below a watched prefix and then spins; its parent measures
 * CLOCK_MONOTONIC from just before the write to the moment it reaps the victim. Run twice in the same
 * process: the sensor's probe sending SIGKILL at the syscall (in-kernel), and the event going through
 * the engine and the local action runner's kill(2) (user space). p50/p99 side by side.
 *
 *   npx tsx bench/enforcement.ts [N=20000]        (builds the block program and bpftrace on first use)
 */
import type { KernelBlockRule } from '../src/contracts/kernel-block.js';
import type { PlanEnvironment } from '../src/sources/sensor/kernel-kill.js';
import { BpftraceSensor } from '../src/sources/sensor/sensor.js';
import { LocalActionRunner } from '../src/actions/local-runner.js';
import { createRuntimeEngine } from '../src/engine/runtime/index.js';
import { createServer } from 'node:net';
import { ensureKernelBlockLoader, KernelBlocker } from '../src/sources/kernel-block/index.js';
import { ensureSensorPrerequisites } from '../src/sources/sensor/prerequisites.js';
import { join } from 'node:path';
import { loadPolicyText } from '../src/policy/index.js';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { percentile, printTable } from './support.js';
import { promisify } from 'node:util';
import { execFile, spawn } from 'node:child_process';
import { tmpdir } from 'node:os';

const run = promisify(execFile);
const N = Number(process.argv.slice(2).find((a) => !a.startsWith('--')) ?? 20_000);

const LOOP = `
import socket, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
out = []
for _ in range(n):
    s = socket.socket()
    t = time.perf_counter_ns()
    s.connect(('127.0.0.1', port))
    out.append(time.perf_counter_ns() - t)
    s.close()
out.sort()
print(out[len(out) // 2], out[len(out) * 99 // 100])
`;

async function measure(port: number, n: number): Promise<{ p50: number; p99: number }> {
  const { stdout } = await run('python3', ['-c', LOOP, String(port), String(n)]);
  const [p50, p99] = stdout.trim().split(' ').map(Number) as [number, number];
  return { p50, p99 };
}

/** Rules that never match the benchmark's connects (another port), so every connect is walked and allowed. */
function rules(count: number): KernelBlockRule[] {
  return Array.from({ length: count }, (_, i) => ({
    policy: 'bench',
    rule: `r${i}`,
    scope: { kind: 'all' as const },
    protocols: ['tcp' as const],
    ports: [{ lo: 1 + i, hi: 1 + i }],
    cidrs: ['192.0.2.0/24'],
  }));
}

export async function connectLatency(n: number): Promise<void> {
  if (process.getuid?.() !== 0) {
    console.log('connect latency: skipped (needs root to attach the cgroup program)');
    return;
  }
  const server = createServer((s) => s.destroy());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  const loader = await ensureKernelBlockLoader({ announce: (m) => console.log(m) });
  await measure(port, Math.min(n, 2000)); // warm-up: socket caches, Python start
  const rows: { phase: string; p50: number; p99: number }[] = [];
  rows.push({ phase: 'no program', ...(await measure(port, n)) });
  const blocker = new KernelBlocker({ loader, rules: rules(1) });
  await blocker.start(() => undefined);
  try {
    rows.push({ phase: 'attached, 1 rule', ...(await measure(port, n)) });
    await blocker.update(rules(256));
    rows.push({ phase: 'attached, 256 rules', ...(await measure(port, n)) });
  } finally {
    await blocker.stop();
  }
  rows.push({ phase: 'no program (again)', ...(await measure(port, n)) });
  server.close();
  const base = (rows[0]!.p50 + rows[3]!.p50) / 2;
  console.log(`\nconnect() to 127.0.0.1, ${n} per phase (µs; ratio = p50 / mean p50 without the program)`);
  printTable([
    ['phase', 'p50 µs', 'p99 µs', 'p50 ratio'],
    ...rows.map((r) => [
      r.phase,
      (r.p50 / 1000).toFixed(1),
      (r.p99 / 1000).toFixed(1),
      (r.p50 / base).toFixed(2),
    ]),
  ]);
}

const KILL_TRIALS = 40;

/**
 * The perl parent forks the victim (so the victim is not a direct child of ours: the probes never
 * signal the agent's own children). The victim sends the time just before its write, then, in a loop,
 * the time again: the last time received is the last moment it ran user-space code. The parent
 * prints, in µs after the write began: that last moment, when it reaped the victim, the number of
 * loop turns the victim made after the write, and the signal that ended it.
 */
const VICTIM = `
use Time::HiRes qw(clock_gettime CLOCK_MONOTONIC);
my ($path) = @ARGV;
pipe(my $r, my $w);
my $pid = fork();
if ($pid == 0) { close $r; $| = 1; syswrite($w, clock_gettime(CLOCK_MONOTONIC) . "\\n");
  open(my $f, ">", $path); while (1) { syswrite($w, clock_gettime(CLOCK_MONOTONIC) . "\\n") } }
close $w; my $t0 = <$r>; my $last = $t0; my $n = 0;
while (my $l = <$r>) { $last = $l; $n++ }
waitpid($pid, 0); my $t1 = clock_gettime(CLOCK_MONOTONIC);
printf("%d %d %d %d\\n", ($last - $t0) * 1e6, ($t1 - $t0) * 1e6, $n, $? & 127);
`;

interface Trial {
  ranUs: number;
  reapedUs: number;
  turns: number;
  signal: number;
}

async function killOnce(path: string): Promise<Trial> {
  return new Promise((resolve, reject) => {
    const c = spawn('perl', ['-e', VICTIM, path], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    c.stdout.on('data', (d: Buffer) => (out += d.toString()));
    // A victim nobody kills spins: give up after 10 s.
    const timer = setTimeout(() => c.kill('SIGKILL'), 10_000);
    c.once('error', reject);
    c.once('close', () => {
      clearTimeout(timer);
      const [ranUs, reapedUs, turns, signal] = out.trim().split(' ').map(Number);
      if (signal === undefined || [ranUs, reapedUs, turns].some((x) => x === undefined || Number.isNaN(x)))
        reject(new Error(`victim said ${out}`));
      else resolve({ ranUs: ranUs!, reapedUs: reapedUs!, turns: turns!, signal });
    });
  });
}

/** Kernel event → process gone, in-kernel kill vs user-space kill. */
export async function killLatency(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'kr-bench-kill-'));
  const watched = join(dir, 'watched') + '/';
  mkdirSync(watched);
  const policy = `
apiVersion: runtime.kyverno.io/v1alpha1
kind: ClusterRuntimePolicy
metadata: { name: bench-kill }
spec:
  failureAction: Enforce
  rules:
    - name: writes
      match: { any: [{ resources: { kinds: [Pod, Node] } }] }
      restrict: { behaviors: [file-write], pattern: { event: { file: { path: '${watched}*' } } }, actions: [{ kill: {} }] }
`;
  const loaded = loadPolicyText(policy, 'bench-kill.yaml');
  const engine = createRuntimeEngine(loaded.policies, { nodeName: 'bench' });
  const host = await ensureSensorPrerequisites({ install: false });
  const results: Record<string, Trial[]> = {};
  for (const [mode, enforcement] of [
    ['in-kernel', {}],
    ['user-space', { kernelKillOff: 'bench: user-space path' }],
  ] as [string, PlanEnvironment][]) {
    const runner = new LocalActionRunner({ ruleTargetsNode: () => true });
    const sensor = new BpftraceSensor({
      bpftrace: host.bpftrace,
      tracepointExists: host.tracepointExists,
      hints: engine.sensorHints,
      node: 'bench',
      attachTimeoutMs: 240_000,
      enforcement,
    });
    await sensor.start((event) => {
      for (const v of engine.evaluate(event)) runner.run(v, { source: 'sensor', trustedForKill: true });
    });
    const lifetimes: Trial[] = [];
    let survived = 0;
    for (let i = 0; i < KILL_TRIALS; i++) {
      const r = await killOnce(join(watched, `f${i}`));
      if (r.signal === 9) lifetimes.push(r);
      else survived++;
    }
    await sensor.stop();
    results[mode] = lifetimes;
    if (survived > 0) console.log(`${mode}: ${survived}/${KILL_TRIALS} victims were not killed by SIGKILL`);
  }
  rmSync(dir, { recursive: true, force: true });
  const p = (xs: readonly number[], q: number): number =>
    percentile(
      [...xs].sort((x, y) => x - y),
      q,
    );
  console.log(`kill: write below a watched prefix, then spin (${KILL_TRIALS} trials per path)`);
  console.log(
    'path        ran after write µs (p50/p99)   reaped µs (p50/p99)   loop turns after write (p50/p99)   n',
  );
  for (const [mode, xs] of Object.entries(results)) {
    const col = (f: (t: Trial) => number): string => `${p(xs.map(f), 50)}/${p(xs.map(f), 99)}`.padStart(12);
    console.log(
      `${mode.padEnd(11)} ${col((t) => t.ranUs).padEnd(30)} ${col((t) => t.reapedUs).padEnd(21)} ${col((t) => t.turns).padEnd(34)} ${xs.length}`,
    );
  }
}

async function main(): Promise<void> {
  await connectLatency(N);
  await killLatency();
}

await main();
