/**
 * Small /proc readers used to enrich sensor events and to check a pid is still the same process
 * before signalling it. Every read is best effort: short-lived processes are often gone already.
 */
import { readFileSync, readlinkSync } from 'node:fs';

/** USER_HZ: /proc/<pid>/stat counts start time in these ticks (100 on every Linux ABI). */
export const USER_HZ = 100;
const NS_PER_TICK = 1e9 / USER_HZ;

/** Field 22 of /proc/<pid>/stat (start time, ticks since boot), or undefined if the pid is gone. */
export function readStartTicks(pid: number, procRoot = '/proc'): number | undefined {
  let stat: string;
  try {
    stat = readFileSync(`${procRoot}/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // comm (field 2) may contain spaces and parentheses: fields resume after the LAST ')'.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(rest[19]); // field 22 = index 19 after "pid (comm) "
  return Number.isFinite(ticks) ? ticks : undefined;
}

/** The /proc tick count matching a kernel start_boottime in ns. */
export function ticksFromBootNs(bootNs: number): number {
  return Math.floor(bootNs / NS_PER_TICK);
}

export function readLink(path: string): string | undefined {
  try {
    return readlinkSync(path);
  } catch {
    return undefined;
  }
}

export function readCmdline(pid: number): string[] | undefined {
  try {
    const raw = readFileSync(`/proc/${pid}/cmdline`);
    if (raw.length === 0) return undefined;
    const parts = raw.toString('utf8').split('\0');
    if (parts[parts.length - 1] === '') parts.pop();
    return parts;
  } catch {
    return undefined;
  }
}

export function readCgroupFile(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cgroup`, 'utf8');
  } catch {
    return undefined;
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

/** RFC 3339 with nanoseconds: 2026-11-26T12:00:00.123456789Z. */
export function rfc3339Nano(wallNs: bigint): string {
  const ms = Number(wallNs / 1_000_000n);
  const iso = new Date(ms).toISOString(); // …T12:00:00.123Z
  const nanos = (wallNs % 1_000_000_000n).toString().padStart(9, '0');
  return `${iso.slice(0, 19)}.${nanos}Z`;
}
