/** Shared helpers for tests that run the real sensor (root + bpftrace). */
import { execFile, spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Behavior, RuntimeEvent } from '../../../src/events/types.js';
import { BpftraceSensor } from '../../../src/sources/sensor/sensor.js';
import {
  ensureSensorPrerequisites,
  findExecutable,
  findTracefs,
} from '../../../src/sources/sensor/prerequisites.js';

export const execFileP = promisify(execFile);

/** Why real-sensor tests cannot run here, or undefined when they can. */
export function sensorSkipReason(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root to load eBPF programs';
  if (!findExecutable('bpftrace')) return 'bpftrace is not installed (apt-get install -y bpftrace)';
  if (!findTracefs()) return 'tracefs is not mounted (mount -t tracefs nodev /sys/kernel/tracing)';
  return undefined;
}

/**
 * How long a test waits for an expected event. Generous on purpose: bpftrace output and our parsing
 * run late on a loaded machine (CI at load 10+ on 2 cores), and a wait costs nothing when the event
 * comes early.
 */
export const EVENT_DEADLINE_MS = 20_000;

/** Collects emitted events and lets a test wait for one matching a predicate. */
export class EventCollector {
  readonly events: RuntimeEvent[] = [];
  private waiters: { pred: (e: RuntimeEvent) => boolean; resolve: (e: RuntimeEvent) => void }[] = [];

  readonly emit = (e: RuntimeEvent): void => {
    this.events.push(e);
    this.waiters = this.waiters.filter((w) => {
      if (!w.pred(e)) return true;
      w.resolve(e);
      return false;
    });
  };

  /** Resolves with the first event matching `pred`, already seen or still to come. */
  waitFor(
    pred: (e: RuntimeEvent) => boolean,
    timeoutMs = EVENT_DEADLINE_MS,
    what = 'event',
  ): Promise<RuntimeEvent> {
    const seen = this.events.find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      this.waiters.push({
        pred,
        resolve: (e) => {
          clearTimeout(timer);
          resolve(e);
        },
      });
    });
  }
}

/**
 * How long a test lets bpftrace compile and attach. Seconds on a quiet machine; at CI's load (10–18
 * on 2 cores) LLVM gets a tenth of a core, and the sensor's 60 s production default is not enough.
 */
export const ATTACH_DEADLINE_MS = 240_000;

const COMPILE_LOCK = join(tmpdir(), 'kyverno-runtime-tests-bpftrace-compile.lock');

/**
 * Runs `fn` (which starts bpftrace and waits until it is attached) while no other test file's
 * bpftrace compiles. Two test files compile bpftrace (this one's sensor tests and the `run`
 * end-to-end test) and the test runner runs them side by side: two LLVM compiles at once on a
 * loaded 2-core machine take each other past the attach deadline. A lock directory (mkdir is
 * atomic) holding the owner's pid; a lock whose owner died is taken over. After the deadline the
 * function runs anyway: the lock only spreads load, it must never deadlock a test.
 */
export async function whileCompilingBpftrace<T>(fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + ATTACH_DEADLINE_MS;
  let held = false;
  while (!held && Date.now() < deadline) {
    try {
      mkdirSync(COMPILE_LOCK);
      writeFileSync(join(COMPILE_LOCK, 'pid'), String(process.pid));
      held = true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      if (lockOwnerDied()) rmSync(COMPILE_LOCK, { recursive: true, force: true });
      else await new Promise((r) => setTimeout(r, 100));
    }
  }
  try {
    return await fn();
  } finally {
    if (held) rmSync(COMPILE_LOCK, { recursive: true, force: true });
  }
}

function lockOwnerDied(): boolean {
  let pid: number;
  try {
    pid = Number(readFileSync(join(COMPILE_LOCK, 'pid'), 'utf8'));
  } catch {
    return false; // just created, pid not written yet
  }
  return Number.isInteger(pid) && pid > 0 && !isAlive(pid);
}

/** Runs a node one-liner in a child process (our own pid is filtered out of the sensor). */
export async function nodeChild(code: string, args: string[] = []): Promise<{ pid: number; stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', code, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code === 0) resolve({ pid: child.pid!, stdout });
      else reject(new Error(`child failed (${String(code ?? signal)}): ${stderr}`));
    });
  });
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Child processes of `ppid` from /proc (no dependency on procps being installed). */
export function childrenOf(ppid: number): { pid: number; comm: string }[] {
  const out: { pid: number; comm: string }[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const open = stat.indexOf('(');
      const close = stat.lastIndexOf(')');
      const fields = stat.slice(close + 2).split(' ');
      if (Number(fields[1]) === ppid) out.push({ pid: Number(name), comm: stat.slice(open + 1, close) });
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

/** Starts the real sensor watching `behaviors` (and file prefixes), its events into `collector`. */
export async function startTestSensor(
  behaviors: Iterable<Behavior>,
  filePathPrefixes: string[],
  collector: EventCollector,
): Promise<BpftraceSensor> {
  const host = await ensureSensorPrerequisites({ install: false });
  const sensor = new BpftraceSensor({
    bpftrace: host.bpftrace,
    tracepointExists: host.tracepointExists,
    hints: { behaviors: new Set(behaviors), filePathPrefixes },
    node: 'test-node',
    attachTimeoutMs: ATTACH_DEADLINE_MS,
  });
  await whileCompilingBpftrace(() => sensor.start(collector.emit));
  return sensor;
}
