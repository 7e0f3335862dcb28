/**
 * The sensor's clock and its view of /proc for the record mapping. The /proc readers themselves live
 * in the host module (src/host/proc.ts), shared with the `kill` action.
 */
import { readFileSync, realpathSync } from 'node:fs';
import type { ProcessView } from '../../events/adapters/bpftrace.js';
import { readCgroupFile, readCmdline, readLink } from '../../host/proc.js';
import { parseProcCgroup } from './cgroup.js';

/** The record mapping's answers from this host's /proc. */
export const procProcessView: ProcessView = {
  link: (pid, name) => readLink(`/proc/${pid}/${name}`),
  cmdline: (pid) => readCmdline(pid),
  cgroup: (pid) => parseProcCgroup(readCgroupFile(pid) ?? ''),
  realDir,
};

/**
 * realpath(3) through /proc/<pid>/{cwd,fd/N,root}: the kernel follows those links to the process's
 * own directory, so symlinks and `..` resolve as they did for it (if they have not changed since).
 * The answer is a host path; the process's root is cut off so it reads as the process sees it.
 */
function realDir(pid: number, base: string, dir: string): string | undefined {
  try {
    const real = realpathSync.native(`/proc/${pid}/${base}/${dir}`);
    const root = realpathSync.native(`/proc/${pid}/root`);
    if (root === '/') return real;
    if (real === root) return '/';
    return real.startsWith(`${root}/`) ? real.slice(root.length) : real;
  } catch {
    return undefined; // gone, or not a directory any more: the caller joins lexically
  }
}

/** The first 8 characters of the kernel's boot id, or "boot" without Linux /proc. */
export function readBootId(): string {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim().slice(0, 8);
  } catch {
    // not Linux /proc: ids stay unique per run through nsecs+tid
    return 'boot';
  }
}

/**
 * Converts kernel monotonic ns (bpftrace `nsecs`) to wall-clock ns. Node's hrtime is the same
 * CLOCK_MONOTONIC, so the offset is taken once (and again after a restart of the sensor).
 */
export class MonotonicClock {
  private offsetNs: bigint;
  constructor() {
    this.offsetNs = MonotonicClock.measure();
  }
  private static measure(): bigint {
    const wallNs = BigInt(Math.round((performance.timeOrigin + performance.now()) * 1e6));
    return wallNs - process.hrtime.bigint();
  }
  resync(): void {
    this.offsetNs = MonotonicClock.measure();
  }
  wallNs(monotonicNs: number): bigint {
    return BigInt(Math.round(monotonicNs)) + this.offsetNs;
  }
}
