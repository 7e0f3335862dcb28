/**
 * The sensor's clock and its view of /proc for the record mapping. The /proc readers themselves live
 * in the host module (src/host/proc.ts), shared with the `kill` action.
 */
import { readFileSync } from 'node:fs';
import type { ProcessView } from '../../events/adapters/bpftrace.js';
import { readCgroupFile, readCmdline, readLink } from '../../host/proc.js';
import { parseProcCgroup } from './cgroup.js';

/** The record mapping's answers from this host's /proc. */
export const procProcessView: ProcessView = {
  link: (pid, name) => readLink(`/proc/${pid}/${name}`),
  cmdline: (pid) => readCmdline(pid),
  cgroup: (pid) => parseProcCgroup(readCgroupFile(pid) ?? ''),
};

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
