/**
 * /proc readers shared by the sensor (event enrichment) and the `kill` action (is this pid the
 * process the event names, and may it be signalled?). Every read is best effort: short-lived
 * processes are often gone already, so a failed read is `undefined`, never an exception.
 */
import { readFileSync, readlinkSync, statSync } from 'node:fs';

/** USER_HZ: /proc/<pid>/stat counts start time in these ticks (100 on every Linux ABI). */
export const USER_HZ = 100;
const NS_PER_TICK = 1e9 / USER_HZ;

/** task->flags bit of kernel threads (include/linux/sched.h). */
export const PF_KTHREAD = 0x00200000;

/**
 * Inodes of the initial pid and cgroup namespaces (include/linux/proc_ns.h): fixed kernel ABI, used
 * when pid 1's own namespace links cannot be read (some sandboxes deny it even to root).
 */
export const INIT_PID_NS = 'pid:[4026531836]';
export const INIT_CGROUP_NS = 'cgroup:[4026531835]';

/** Fields of /proc/<pid>/stat after "pid (comm) ": index 0 is field 3 (state). */
function statFields(pid: number, procRoot: string): string[] | undefined {
  let stat: string;
  try {
    stat = readFileSync(`${procRoot}/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // comm (field 2) may contain spaces and parentheses: fields resume after the LAST ')'.
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** Field 22 of /proc/<pid>/stat (start time, ticks since boot), or undefined if the pid is gone. */
export function readStartTicks(pid: number, procRoot = '/proc'): number | undefined {
  const ticks = Number(statFields(pid, procRoot)?.[19]);
  return Number.isFinite(ticks) ? ticks : undefined;
}

/** Field 9 of /proc/<pid>/stat (the task's PF_* flags). */
export function readTaskFlags(pid: number, procRoot = '/proc'): number | undefined {
  const flags = Number(statFields(pid, procRoot)?.[6]);
  return Number.isFinite(flags) ? flags : undefined;
}

/** The /proc tick count matching a kernel start_boottime in ns. */
export function ticksFromBootNs(bootNs: number): number {
  return Math.floor(bootNs / NS_PER_TICK);
}

/** Boot time (wall clock, ms) from the `btime` line of /proc/stat. */
export function bootTimeMs(procRoot = '/proc'): number | undefined {
  try {
    const m = /^btime (\d+)$/m.exec(readFileSync(`${procRoot}/stat`, 'utf8'));
    return m ? Number(m[1]) * 1000 : undefined;
  } catch {
    return undefined;
  }
}

export interface ProcStatus {
  /** Thread-group id: the process a tid belongs to (kill(tid) signals the whole group). */
  tgid: number;
  ppid: number;
}

/**
 * Tgid and PPid from /proc/<pid>/status. /proc/<tid> exists for every thread even though readdir
 * lists only thread-group leaders, so a thread id resolves to its process here.
 */
export function readStatus(pid: number, procRoot = '/proc'): ProcStatus | undefined {
  let text: string;
  try {
    text = readFileSync(`${procRoot}/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const tgid = /^Tgid:\s*(\d+)$/m.exec(text)?.[1];
  const ppid = /^PPid:\s*(\d+)$/m.exec(text)?.[1];
  if (tgid === undefined || ppid === undefined) return undefined;
  return { tgid: Number(tgid), ppid: Number(ppid) };
}

export function readLink(path: string): string | undefined {
  try {
    return readlinkSync(path);
  } catch {
    return undefined;
  }
}

/** Suffix the kernel appends to /proc/<pid>/exe when the executable was unlinked (replaced on upgrade). */
const DELETED = ' (deleted)';

/** readlink(/proc/<pid>/exe) without the kernel's " (deleted)" suffix. */
export function readExe(pid: number, procRoot = '/proc'): string | undefined {
  const exe = readLink(`${procRoot}/${pid}/exe`);
  return exe?.endsWith(DELETED) ? exe.slice(0, -DELETED.length) : exe;
}

/** Device and inode of a file (stat follows symlinks and /proc's magic links). */
export interface FileId {
  dev: bigint;
  ino: bigint;
}

export function fileId(path: string): FileId | undefined {
  try {
    const st = statSync(path, { bigint: true });
    return { dev: st.dev, ino: st.ino };
  } catch {
    return undefined;
  }
}

export function sameFile(a: FileId | undefined, b: FileId | undefined): boolean {
  return a !== undefined && b !== undefined && a.dev === b.dev && a.ino === b.ino;
}

export function readCmdline(pid: number, procRoot = '/proc'): string[] | undefined {
  try {
    const raw = readFileSync(`${procRoot}/${pid}/cmdline`);
    if (raw.length === 0) return undefined;
    const parts = raw.toString('utf8').split('\0');
    if (parts[parts.length - 1] === '') parts.pop();
    return parts;
  } catch {
    return undefined;
  }
}

export function readCgroupFile(pid: number, procRoot = '/proc'): string | undefined {
  try {
    return readFileSync(`${procRoot}/${pid}/cgroup`, 'utf8');
  } catch {
    return undefined;
  }
}

/** The namespace link of a process, e.g. "pid:[4026531836]". */
export function readNamespace(
  pid: number,
  ns: 'pid' | 'cgroup' | 'mnt',
  procRoot = '/proc',
): string | undefined {
  return readLink(`${procRoot}/${pid}/ns/${ns}`);
}
