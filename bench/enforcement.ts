/**
 * Enforcement benchmark. Needs root and bpftrace. Run: npx tsx bench/enforcement.ts
 *
 * Kill latency (this section): a victim writes below a watched prefix and then spins; its parent
 * measures CLOCK_MONOTONIC from just before the write to the moment it reaps the victim. Run twice
 * in the same process: the sensor's probe sending SIGKILL at the syscall (in-kernel), and the event
 * going through the engine and the local action runner's kill(2) (user space). p50/p99 side by side.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalActionRunner } from '../src/actions/local-runner.js';
import { createRuntimeEngine } from '../src/engine/runtime/index.js';
import { loadPolicyText } from '../src/policy/index.js';
import type { PlanEnvironment } from '../src/sources/sensor/kernel-kill.js';
import { BpftraceSensor } from '../src/sources/sensor/sensor.js';
import { ensureSensorPrerequisites } from '../src/sources/sensor/prerequisites.js';
import { percentile } from './support.js';

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

await killLatency();
