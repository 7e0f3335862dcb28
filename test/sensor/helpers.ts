/** Shared helpers for tests that run the real sensor (root + bpftrace). */
import { execFile, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import type { RuntimeEvent } from '../../src/events/types.js';
import { findExecutable, findTracefs } from '../../src/sources/sensor/prerequisites.js';

export const execFileP = promisify(execFile);

/** Why real-sensor tests cannot run here, or undefined when they can. */
export function sensorSkipReason(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root to load eBPF programs';
  if (!findExecutable('bpftrace')) return 'bpftrace is not installed (apt-get install -y bpftrace)';
  if (!findTracefs()) return 'tracefs is not mounted (mount -t tracefs nodev /sys/kernel/tracing)';
  return undefined;
}

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

  waitFor(pred: (e: RuntimeEvent) => boolean, timeoutMs = 5000, what = 'event'): Promise<RuntimeEvent> {
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
