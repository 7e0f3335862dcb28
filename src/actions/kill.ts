/**
 * The node-local `kill` action: signal the offending process, but only if the pid still names the
 * same process the event saw. Pids are recycled; signalling a recycled pid would hit an innocent
 * process, so the start time recorded with the event must match /proc/<pid>/stat before anything is
 * sent. (A small window remains between the check and kill(2): Node has no pidfd_send_signal. The
 * start time check makes a wrong target require a pid to be recycled inside that window.)
 */
import { constants } from 'node:os';
import { readFileSync } from 'node:fs';
import type { RuntimeEvent } from '../events/types.js';
import type { Verdict } from '../contracts/verdict.js';
import { readStartTicks, ticksFromBootNs, USER_HZ } from '../sources/sensor/proc.js';
import type { ActionOutcome, KillAction } from '../contracts/actions.js';

export type KillResult = Pick<ActionOutcome, 'outcome' | 'detail'>;

/** Tolerance when the event's start time is wall-clock (Tetragon): /proc gives btime in whole seconds. */
const WALL_CLOCK_TOLERANCE_MS = 1500;

export interface KillOptions {
  dryRun?: boolean;
  /** For tests: where /proc lives. */
  procRoot?: string;
  /** Pids never signalled besides 0, 1 and our own (e.g. the sensor). */
  protectedPids?: readonly number[];
}

function bootTimeMs(procRoot: string): number | undefined {
  try {
    const m = /^btime (\d+)$/m.exec(readFileSync(`${procRoot}/stat`, 'utf8'));
    return m ? Number(m[1]) * 1000 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Whether `pid` is still the process that started at `startTime` (boot-relative ns as the built-in
 * sensor records it, or an RFC 3339 wall-clock time as Tetragon does). Returns the reason when not.
 */
export function checkSameProcess(
  pid: number,
  startTime: string,
  procRoot = '/proc',
): { same: true } | { same: false; reason: string } {
  const ticks = readStartTicks(pid, procRoot);
  if (ticks === undefined) return { same: false, reason: `process ${pid} has already exited` };
  if (/^\d+$/.test(startTime)) {
    const expected = ticksFromBootNs(Number(startTime));
    return expected === ticks
      ? { same: true }
      : {
          same: false,
          reason: `pid ${pid} now belongs to another process (start ${ticks} ≠ ${expected} ticks)`,
        };
  }
  const wall = Date.parse(startTime);
  const btime = bootTimeMs(procRoot);
  if (Number.isNaN(wall) || btime === undefined) {
    return { same: false, reason: `cannot compare start time ${JSON.stringify(startTime)} with pid ${pid}` };
  }
  const actual = btime + (ticks * 1000) / USER_HZ;
  return Math.abs(actual - wall) <= WALL_CLOCK_TOLERANCE_MS
    ? { same: true }
    : {
        same: false,
        reason: `pid ${pid} now belongs to another process (started ${new Date(actual).toISOString()})`,
      };
}

export function signalNumber(name: string | undefined): number | undefined {
  const key = (name ?? 'SIGKILL').toUpperCase();
  const full = key.startsWith('SIG') ? key : `SIG${key}`;
  return (constants.signals as Record<string, number | undefined>)[full];
}

/** Signals the process of the event, after the same-process check. Never throws. */
export function killEventProcess(
  spec: KillAction,
  event: RuntimeEvent,
  options: KillOptions = {},
): KillResult {
  const pid = event.process?.pid;
  const startTime = event.process?.startTime;
  const signalName = (spec.signal ?? 'SIGKILL').toUpperCase();
  const signal = signalNumber(spec.signal);
  if (signal === undefined)
    return { outcome: 'failed', detail: `unknown signal ${JSON.stringify(spec.signal)}` };
  if (pid === undefined || !Number.isInteger(pid) || pid <= 1) {
    return { outcome: 'skipped', detail: 'the event names no process that can be signalled' };
  }
  if (pid === process.pid || options.protectedPids?.includes(pid)) {
    return { outcome: 'skipped', detail: `pid ${pid} is kyverno-runtime itself or its sensor` };
  }
  if (startTime === undefined) {
    return {
      outcome: 'skipped',
      detail: 'the event carries no process start time: refusing to signal a pid that may be reused',
    };
  }
  const check = checkSameProcess(pid, startTime, options.procRoot);
  if (!check.same) return { outcome: 'skipped', detail: check.reason };
  if (spec.dryRun === true || options.dryRun === true) {
    return { outcome: 'dry-run', detail: `would send ${signalName} to pid ${pid}` };
  }
  try {
    process.kill(pid, signal);
    return {
      outcome: 'succeeded',
      detail: `sent ${signalName} to pid ${pid} (${event.process?.binary ?? 'unknown binary'})`,
    };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ESRCH') return { outcome: 'skipped', detail: `process ${pid} exited before the signal` };
    return { outcome: 'failed', detail: `kill(${pid}, ${signalName}): ${code ?? (err as Error).message}` };
  }
}

/** Adapter for the cluster-side executor's `kill` hook (src/actions/executor.ts). */
export function killForVerdict(
  options: KillOptions = {},
): (spec: KillAction, verdict: Verdict) => Promise<KillResult> {
  return (spec, verdict) => Promise.resolve(killEventProcess(spec, verdict.event, options));
}
