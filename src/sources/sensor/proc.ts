/**
 * The sensor's clock helpers. The /proc readers it uses live in the host module (shared with the
 * `kill` action) and are re-exported here for the sensor's existing imports.
 */
export {
  readCgroupFile,
  readCmdline,
  readLink,
  readStartTicks,
  ticksFromBootNs,
  USER_HZ,
} from '../../host/proc.js';

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
