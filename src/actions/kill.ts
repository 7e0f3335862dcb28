/**
 * The node-local `kill` action. It runs as root on the word of an event, so it signals a pid only
 * when all of these hold (in this order; the first that fails is the outcome's reason):
 *
 * 1. the event arrived on an input trusted to name host processes (`EventOrigin.trustedForKill`,
 *    set by the pipeline from the operator's configuration, never from the event);
 * 2. the target is not protected: the agent (any of its threads: a tid resolves to its thread group
 *    through /proc/<tid>/status Tgid, and kill(tid) would end the whole group), the sensor's bpftrace,
 *    pid 1 and its threads, kernel threads (PF_KTHREAD, or a child of kthreadd);
 * 3. the live process is the one the event names: same start time (pids are recycled) AND same
 *    executable — readlink(/proc/<pid>/exe) without " (deleted)" equals `process.binary`, or else
 *    `process.binary` resolved inside the process's own root (/proc/<pid>/root/<binary>, or
 *    /proc/<pid>/cwd/<binary> when relative) is the very file the process executes (same dev and
 *    inode). The second form covers names reached through symlinks (/bin/sh → dash) and paths in
 *    another mount namespace (containers); any path that resolves to the executing inode denotes the
 *    program that is running, so it cannot make another program's process match;
 * 4. a host process (same pid and cgroup namespaces as pid 1 and no container cgroup) is signalled
 *    only for a rule whose match kinds name `Node`: a rule written for pods never kills host processes.
 *
 * Residual race: Node has no pidfd_open/pidfd_send_signal, and there is no way to hold a process
 * while signalling it without native code. So the cheap checks (start time, exe path) are repeated
 * immediately before kill(2); what remains is the process exiting and its pid being reused between
 * that re-check and the syscall (a full pid wrap in microseconds), or the process exec'ing another
 * program in that window (it is still the process the event named).
 */
import { constants } from 'node:os';
import type { RuntimeEvent } from '../events/types.js';
import type { Verdict } from '../contracts/verdict.js';
import {
  bootTimeMs,
  fileId,
  INIT_CGROUP_NS,
  INIT_PID_NS,
  PF_KTHREAD,
  readCgroupFile,
  readExe,
  readNamespace,
  readStartTicks,
  readStatus,
  readTaskFlags,
  sameFile,
  ticksFromBootNs,
  USER_HZ,
} from '../host/proc.js';
import { actionRefused } from '../observability/metrics.js';
import { parseProcCgroup } from '../sources/sensor/cgroup.js';
import type { EventOrigin } from '../sources/types.js';
import type { ActionOutcome, KillAction } from '../contracts/actions.js';

export const KILL_REFUSAL_REASONS = [
  'untrusted-source',
  'invalid-pid',
  'missing-identity',
  'start-time-mismatch',
  'exe-mismatch',
  'self',
  'sensor',
  'init',
  'kernel-thread',
  'host-process',
] as const;
export type KillRefusalReason = (typeof KILL_REFUSAL_REASONS)[number];

export type KillResult = Pick<ActionOutcome, 'outcome' | 'detail'> & { reason?: KillRefusalReason };

/** Tolerance when the event's start time is wall-clock (Tetragon): /proc gives btime in whole seconds. */
const WALL_CLOCK_TOLERANCE_MS = 1500;

/** kthreadd: every kernel thread but itself is its child. */
const KTHREADD = 2;

export interface KillOptions {
  dryRun?: boolean;
  /** For tests: where /proc lives. */
  procRoot?: string;
  /**
   * Thread groups never signalled besides ours and pid 1 (the sensor's bpftrace). A function is read
   * at each kill, so a restarted sensor's new pid is protected too.
   */
  protectedPids?: readonly number[] | (() => readonly number[]);
}

/** What the caller knows about the verdict that the event cannot tell. */
export interface KillContext {
  /** The input the event arrived on (its trust decides whether kill may act at all). */
  origin: EventOrigin;
  /** The verdict's rule lists `Node` among its match kinds: host processes may be signalled. */
  ruleTargetsNode: boolean;
}

/**
 * Whether `pid` is still the process that started at `startTime` (boot-relative ns as the built-in
 * sensor records it, or an RFC 3339 wall-clock time as Tetragon does). Returns the reason when not.
 */
export function checkSameProcess(
  pid: number,
  startTime: string,
  procRoot = '/proc',
): { same: true } | { same: false; gone: boolean; reason: string } {
  const ticks = readStartTicks(pid, procRoot);
  if (ticks === undefined) return { same: false, gone: true, reason: `process ${pid} has already exited` };
  if (/^\d+$/.test(startTime)) {
    const expected = ticksFromBootNs(Number(startTime));
    return expected === ticks
      ? { same: true }
      : {
          same: false,
          gone: false,
          reason: `pid ${pid} now belongs to another process (start ${ticks} ≠ ${expected} ticks)`,
        };
  }
  const wall = Date.parse(startTime);
  const btime = bootTimeMs(procRoot);
  if (Number.isNaN(wall) || btime === undefined) {
    return {
      same: false,
      gone: false,
      reason: `cannot compare start time ${JSON.stringify(startTime)} with pid ${pid}`,
    };
  }
  const actual = btime + (ticks * 1000) / USER_HZ;
  return Math.abs(actual - wall) <= WALL_CLOCK_TOLERANCE_MS
    ? { same: true }
    : {
        same: false,
        gone: false,
        reason: `pid ${pid} now belongs to another process (started ${new Date(actual).toISOString()})`,
      };
}

/**
 * Whether the live process `pid` executes `binary` (see the module comment, point 3). Returns the
 * exe path the check accepted, for the re-check before the signal.
 */
export function checkExecutable(
  pid: number,
  binary: string,
  procRoot = '/proc',
): { same: true; exe: string } | { same: false; reason: string } {
  const exe = readExe(pid, procRoot);
  if (exe === undefined) return { same: false, reason: `cannot read the executable of pid ${pid}` };
  if (exe === binary) return { same: true, exe };
  // A NUL cannot be in a path; an empty name denotes the directory itself.
  if (binary === '' || binary.includes('\0')) {
    return { same: false, reason: `pid ${pid} runs ${exe}, not ${JSON.stringify(binary)}` };
  }
  const base = binary.startsWith('/') ? `${procRoot}/${pid}/root` : `${procRoot}/${pid}/cwd/`;
  if (sameFile(fileId(`${procRoot}/${pid}/exe`), fileId(base + binary))) return { same: true, exe };
  return { same: false, reason: `pid ${pid} runs ${exe}, not ${JSON.stringify(binary)}` };
}

/**
 * True unless the process is visibly in a container: another pid or cgroup namespace than pid 1's
 * (the initial namespaces when pid 1's links cannot be read), or a container/pod cgroup. Anything
 * unreadable counts as a host process: protection fails closed.
 */
export function isHostProcess(pid: number, procRoot = '/proc'): boolean {
  const pidNs = readNamespace(pid, 'pid', procRoot);
  const cgroupNs = readNamespace(pid, 'cgroup', procRoot);
  if (pidNs === undefined || cgroupNs === undefined) return true;
  if (pidNs !== (readNamespace(1, 'pid', procRoot) ?? INIT_PID_NS)) return false;
  if (cgroupNs !== (readNamespace(1, 'cgroup', procRoot) ?? INIT_CGROUP_NS)) return false;
  const cgroup = parseProcCgroup(readCgroupFile(pid, procRoot) ?? '');
  return cgroup.containerId === undefined && cgroup.podUid === undefined;
}

/** Why the thread group of `pid` must never be signalled, if it must not. */
function protectedTarget(
  pid: number,
  options: KillOptions,
): { reason: KillRefusalReason; detail: string } | 'gone' | undefined {
  const procRoot = options.procRoot ?? '/proc';
  const status = readStatus(pid, procRoot);
  if (status === undefined) return 'gone';
  const { tgid, ppid } = status;
  const thread = tgid === pid ? `pid ${pid}` : `tid ${pid} (process ${tgid})`;
  if (tgid === 1) return { reason: 'init', detail: `${thread} is init` };
  if (tgid === process.pid) return { reason: 'self', detail: `${thread} is kyverno-runtime itself` };
  const extra =
    typeof options.protectedPids === 'function' ? options.protectedPids() : (options.protectedPids ?? []);
  if (extra.includes(tgid)) return { reason: 'sensor', detail: `${thread} is kyverno-runtime's sensor` };
  const flags = readTaskFlags(pid, procRoot);
  if (tgid === KTHREADD || ppid === KTHREADD || (flags !== undefined && (flags & PF_KTHREAD) !== 0)) {
    return { reason: 'kernel-thread', detail: `${thread} is a kernel thread` };
  }
  return undefined;
}

export function signalNumber(name: string | undefined): number | undefined {
  const key = (name ?? 'SIGKILL').toUpperCase();
  const full = key.startsWith('SIG') ? key : `SIG${key}`;
  return (constants.signals as Record<string, number | undefined>)[full];
}

function refuse(reason: KillRefusalReason, detail: string): KillResult {
  actionRefused.inc({ action: 'kill', reason });
  return { outcome: 'refused', reason, detail: `${reason}: ${detail}` };
}

/** Check 1: a kill on the word of an input not trusted to name host processes is refused (and counted). */
export function refuseUntrusted(origin: EventOrigin): KillResult | undefined {
  if (origin.trustedForKill) return undefined;
  return refuse(
    'untrusted-source',
    `input ${JSON.stringify(origin.source)} is not trusted to name host processes`,
  );
}

/** The name the built-in sensor's events arrive under (BpftraceSensor.name). */
const SENSOR_INPUT = 'sensor';

/**
 * "killed in kernel …" when the built-in sensor's probe already sent SIGKILL for this event: the
 * user-space kill is then skipped, since a second signal could reach a recycled pid. Only the sensor
 * (a trusted input whose `enforced` is set from the kernel's own mark) is believed.
 */
export function killedInKernel(event: RuntimeEvent, origin: EventOrigin): string | undefined {
  if (event.enforced !== true || origin.source !== SENSOR_INPUT || !origin.trustedForKill) return undefined;
  if (event.source !== 'bpftrace') return undefined;
  const by = (event.raw as { kernelKill?: unknown } | undefined)?.kernelKill;
  return `killed in kernel: SIGKILL sent to pid ${String(event.process?.pid)} by the sensor's probe at the syscall${
    typeof by === 'string' ? ` (rule ${by})` : ''
  }`;
}

/** Signals the process of the event after the checks of the module comment. Never throws. */
export function killEventProcess(
  spec: KillAction,
  event: RuntimeEvent,
  context: KillContext,
  options: KillOptions = {},
): KillResult {
  const pid = event.process?.pid;
  const startTime = event.process?.startTime;
  const binary = event.process?.binary;
  const procRoot = options.procRoot ?? '/proc';
  const signalName = (spec.signal ?? 'SIGKILL').toUpperCase();
  const signal = signalNumber(spec.signal);
  if (signal === undefined)
    return { outcome: 'failed', detail: `unknown signal ${JSON.stringify(spec.signal)}` };
  const untrusted = refuseUntrusted(context.origin);
  if (untrusted) return untrusted;
  const inKernel = killedInKernel(event, context.origin);
  if (inKernel !== undefined) return { outcome: 'succeeded', detail: inKernel };
  if (pid === undefined) return { outcome: 'skipped', detail: 'the event names no process' };
  // kill(0) and kill(-n) signal process groups, kill(-1) every process: never from an event.
  if (!Number.isSafeInteger(pid) || pid <= 0) return refuse('invalid-pid', `${String(pid)} is not a pid`);
  if (pid === 1) return refuse('init', 'pid 1 is init');
  if (startTime === undefined || binary === undefined) {
    return refuse(
      'missing-identity',
      `the event gives no ${startTime === undefined ? 'start time' : 'binary'} for pid ${pid}: cannot tell it is the same process`,
    );
  }
  const prot = protectedTarget(pid, options);
  if (prot === 'gone') return { outcome: 'skipped', detail: `process ${pid} has already exited` };
  if (prot) return refuse(prot.reason, prot.detail);
  const same = checkSameProcess(pid, startTime, procRoot);
  if (!same.same) {
    return same.gone
      ? { outcome: 'skipped', detail: same.reason }
      : refuse('start-time-mismatch', same.reason);
  }
  const exe = checkExecutable(pid, binary, procRoot);
  if (!exe.same) return refuse('exe-mismatch', exe.reason);
  if (!context.ruleTargetsNode && isHostProcess(pid, procRoot)) {
    return refuse(
      'host-process',
      `pid ${pid} (${exe.exe}) is a host process and the rule does not match kind Node`,
    );
  }
  if (spec.dryRun === true || options.dryRun === true) {
    return { outcome: 'dry-run', detail: `would send ${signalName} to pid ${pid} (${exe.exe})` };
  }
  // Re-check right before the syscall: the cheap part of the identity, no filesystem walk.
  const again = checkSameProcess(pid, startTime, procRoot);
  if (!again.same) {
    return again.gone
      ? { outcome: 'skipped', detail: again.reason }
      : refuse('start-time-mismatch', again.reason);
  }
  const exeNow = readExe(pid, procRoot);
  if (exeNow !== exe.exe) {
    return refuse('exe-mismatch', `pid ${pid} now runs ${exeNow ?? 'nothing readable'}, not ${exe.exe}`);
  }
  try {
    process.kill(pid, signal);
    return { outcome: 'succeeded', detail: `sent ${signalName} to pid ${pid} (${exe.exe})` };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ESRCH') return { outcome: 'skipped', detail: `process ${pid} exited before the signal` };
    return { outcome: 'failed', detail: `kill(${pid}, ${signalName}): ${code ?? (err as Error).message}` };
  }
}

export interface KillForVerdictOptions extends KillOptions {
  /** Whether the verdict's rule lists `Node` among its match kinds (the live policy set knows). */
  ruleTargetsNode?: (verdict: Verdict) => boolean;
}

/** Adapter for the cluster-side executor's `kill` hook (src/actions/executor.ts). */
export function killForVerdict(
  options: KillForVerdictOptions = {},
): (spec: KillAction, verdict: Verdict, origin: EventOrigin) => Promise<KillResult> {
  return (spec, verdict, origin) =>
    Promise.resolve(
      killEventProcess(
        spec,
        verdict.event,
        { origin, ruleTargetsNode: options.ruleTargetsNode?.(verdict) ?? false },
        options,
      ),
    );
}
