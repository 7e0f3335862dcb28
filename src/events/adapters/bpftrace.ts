/**
 * The built-in sensor's records (bpftrace `print` tuples, assembled by the sensor's parser) → RuntimeEvent
 * (source "bpftrace"). What the kernel record does not carry (binary, args, cwd, fd paths, cgroup) is
 * asked of a `ProcessView` the sensor passes in: this module does no I/O, so the mapping sits with the
 * other tools' adapters. One builder per sensor: it keeps small bounded caches (process identity by
 * pid+start, bound addresses for listen, recent credential changes).
 */
import { posix } from 'node:path';
import { LRUCache } from 'lru-cache';
import type {
  Behavior,
  FileOperation,
  MountInfo,
  MountKind,
  NetworkInfo,
  PrivilegeInfo,
  RuntimeEvent,
} from '../types.js';
import { normalizeContainerId } from '../container-id.js';

/** Numeric record kinds shared by the sensor's program generator, its parser and this mapping. */
export const RecordKind = {
  continuation: 0,
  exec: 1,
  mount: 2,
  moveMount: 3,
  fsmount: 4,
  openTree: 5,
  /**
   * A process's identity, sent with its first report when its exec was not sent (no policy watches
   * process-exec): the exec record's layout, learnt from, never an event of its own.
   */
  identity: 6,
  connect: 10,
  bind: 11,
  listen: 12,
  accept: 13,
  open: 20,
  rename: 21,
  unlink: 22,
  setid: 30,
  capset: 31,
  initModule: 40,
  finitModule: 41,
  ptrace: 50,
  setns: 60,
  unshare: 61,
  bpfProgLoad: 70,
  /** One component of a path the kernel resolved (deepest first), before its head. */
  component: 90,
} as const;
export type RecordKindCode = (typeof RecordKind)[keyof typeof RecordKind];

/** Sub-codes of the setid record (which syscall). */
export const SetIdCall = {
  setuid: 1,
  setresuid: 2,
  setgid: 3,
  setresgid: 4,
  setreuid: 5,
  setregid: 6,
} as const;

/** Fields every head tuple carries, in order after the kind. */
export interface RecordHead {
  kind: RecordKindCode;
  tid: number;
  pid: number;
  ppid: number;
  uid: number;
  /** Kernel monotonic timestamp (ktime_get_ns). */
  nsecs: number;
  cgroupId: number;
  /** Process (thread-group leader) start, ns since boot: what /proc/<pid>/stat field 22 counts in ticks. */
  startBootNs: number;
  /** The task's exec count (self_exec_id): which program of the process made the call. */
  execId: number;
  comm: string;
  /** Kind-specific numbers and strings after comm. */
  fields: (number | string)[];
}

export interface SensorRecord extends RecordHead {
  /** Continuation strings, in order. */
  strings: string[];
  /** Exec arguments (argv), when the kind carries them. */
  argv?: string[];
  /** The path the kernel resolved (opened file, loaded executable), from its dentries. */
  resolved?: {
    path: string;
    /** False when the walk was cut (too deep, a component too long, components lost). */
    complete: boolean;
    /** The file is outside the process's root: the path is from the host's root. */
    outsideRoot: boolean;
    /**
     * Deeper than the walk: only the deepest components are known, and `path` is `/…/` followed by
     * them (the top, which decides the watched prefix, is unknown).
     */
    truncated?: true;
  };
}

/** A process's container and pod, as its cgroup path tells them. */
export interface ProcessCgroup {
  containerId?: string;
  podUid?: string;
  path?: string;
}

/**
 * What the mapping needs to know of the host's processes (the sensor answers from /proc). Every
 * answer is read after the fact and may be gone: undefined, never a throw.
 */
export interface ProcessView {
  /** The target of a /proc link: `exe`, `cwd` or `fd/<n>` of `pid`. */
  link(pid: number, name: string): string | undefined;
  /** argv of `pid`. */
  cmdline(pid: number): string[] | undefined;
  /** The container and pod of `pid` from its cgroup. */
  cgroup(pid: number): ProcessCgroup;
  /**
   * The canonical path (symlinks, `.`, `..` resolved), as `pid` sees it from its root, of directory
   * `dir` taken relative to `base` ("cwd", "fd/<n>" or "root"). Optional: without it paths are
   * joined lexically.
   */
  realDir?(pid: number, base: string, dir: string): string | undefined;
}

/** Kernel monotonic ns → wall-clock ns. */
export interface WallClock {
  wallNs(monotonicNs: number): bigint;
}

const AT_FDCWD = -100;
const O_WRONLY = 0x1;
const O_RDWR = 0x2;
const O_CREAT = 0x40;
const O_TRUNC = 0x200;

/** Mount flags (MS_*, include/uapi/linux/mount.h) by name; unknown bits are shown as hex. */
const MOUNT_FLAGS: [number, string][] = [
  [0x1, 'ro'],
  [0x2, 'nosuid'],
  [0x4, 'nodev'],
  [0x8, 'noexec'],
  [0x10, 'sync'],
  [0x20, 'remount'],
  [0x40, 'mand'],
  [0x80, 'dirsync'],
  [0x100, 'nosymfollow'],
  [0x400, 'noatime'],
  [0x800, 'nodiratime'],
  [0x1000, 'bind'],
  [0x2000, 'move'],
  [0x4000, 'rec'],
  [0x8000, 'silent'],
  [0x10000, 'posixacl'],
  [0x20000, 'unbindable'],
  [0x40000, 'private'],
  [0x80000, 'slave'],
  [0x100000, 'shared'],
  [0x200000, 'relatime'],
  [0x800000, 'iversion'],
  [0x1000000, 'strictatime'],
  [0x2000000, 'lazytime'],
];
const MS_REMOUNT = 0x20;
const MS_BIND = 0x1000;
const MS_MOVE = 0x2000;
const MS_PROPAGATION = 0x20000 | 0x40000 | 0x80000 | 0x100000;
const MS_MGC_MSK = 0xffff0000;
const MS_MGC_VAL = 0xc0ed0000;
/** open_tree(2) flag: clone the tree (a detached bind mount) instead of opening it. */
const OPEN_TREE_CLONE = 0x1;

/** Linux capability numbers → names (capability.h), for capset events. */
const CAPABILITIES = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL',
  'CAP_SETGID', 'CAP_SETUID', 'CAP_SETPCAP', 'CAP_LINUX_IMMUTABLE', 'CAP_NET_BIND_SERVICE',
  'CAP_NET_BROADCAST', 'CAP_NET_ADMIN', 'CAP_NET_RAW', 'CAP_IPC_LOCK', 'CAP_IPC_OWNER',
  'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT', 'CAP_SYS_PTRACE', 'CAP_SYS_PACCT',
  'CAP_SYS_ADMIN', 'CAP_SYS_BOOT', 'CAP_SYS_NICE', 'CAP_SYS_RESOURCE', 'CAP_SYS_TIME',
  'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD', 'CAP_LEASE', 'CAP_AUDIT_WRITE', 'CAP_AUDIT_CONTROL',
  'CAP_SETFCAP', 'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG', 'CAP_WAKE_ALARM',
  'CAP_BLOCK_SUSPEND', 'CAP_AUDIT_READ', 'CAP_PERFMON', 'CAP_BPF', 'CAP_CHECKPOINT_RESTORE',
]; // prettier-ignore

/** CLONE_NEW* flags for setns/unshare. */
const NAMESPACES: [number, string][] = [
  [0x00020000, 'mnt'],
  [0x02000000, 'cgroup'],
  [0x04000000, 'uts'],
  [0x08000000, 'ipc'],
  [0x10000000, 'user'],
  [0x20000000, 'pid'],
  [0x40000000, 'net'],
  [0x00000080, 'time'],
];

/** The low 32 bits of mount(2)'s flags, without the legacy MS_MGC_VAL magic (the kernel drops it too). */
function mountFlagBits(flags: number): number {
  const bits = Number.isFinite(flags) ? flags >>> 0 : 0;
  return (bits & MS_MGC_MSK) >>> 0 === MS_MGC_VAL ? bits & ~MS_MGC_MSK & 0xffff : bits;
}

export function mountFlagNames(flags: number): string[] {
  const bits = mountFlagBits(flags);
  const names: string[] = [];
  let rest = bits;
  for (const [bit, name] of MOUNT_FLAGS) {
    if ((bits & bit) !== 0) {
      names.push(name);
      rest &= ~bit;
    }
  }
  rest >>>= 0;
  if (rest !== 0) names.push(`0x${rest.toString(16)}`);
  return names;
}

/**
 * What mount(2) does with these flags, tested in the kernel's order (path_mount): a remount (also
 * MS_REMOUNT|MS_BIND), a bind, a propagation change, a move, else a new filesystem mount.
 */
export function mountKind(flags: number): MountKind {
  const bits = mountFlagBits(flags);
  if ((bits & MS_REMOUNT) !== 0) return 'remount';
  if ((bits & MS_BIND) !== 0) return 'bind';
  if ((bits & MS_PROPAGATION) !== 0) return 'propagation';
  if ((bits & MS_MOVE) !== 0) return 'move';
  return 'filesystem';
}

export function capabilityNames(low: number, high: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < CAPABILITIES.length; i++) {
    const word = i < 32 ? low : high;
    if (((word >>> (i % 32)) & 1) === 1) out.push(CAPABILITIES[i] ?? `CAP_${i}`);
  }
  return out;
}

/** A capability set the kernel holds (at most 64 bits, sent as one number) → names. */
function capSet(v: number): string[] {
  return capabilityNames(uint32(v), uint32(Math.floor(v / 2 ** 32)));
}

function namespaceNames(flags: number): string[] {
  return NAMESPACES.filter(([bit]) => (flags & bit) !== 0).map(([, n]) => n);
}

/** Syscall ints arrive as unsigned 64-bit; file descriptors and uids are 32-bit signed/unsigned. */
const int32 = (v: number): number => v | 0;
const uint32 = (v: number): number => v >>> 0;
const port = (be: number): number => ((be & 0xff) << 8) | ((be >> 8) & 0xff);

/** IP protocol number → name (only what sockets that connect/bind/listen use). */
function protocolName(n: number): string | undefined {
  switch (n) {
    case 6:
      return 'tcp';
    case 17:
      return 'udp';
    case 132:
      return 'sctp';
    case 0:
      return undefined;
    default:
      return Number.isFinite(n) ? String(n) : undefined;
  }
}

function num(r: SensorRecord, i: number): number {
  const v = r.fields[i];
  return typeof v === 'number' ? v : Number.NaN;
}
function text(r: SensorRecord, i: number): string | undefined {
  const v = r.fields[i];
  return typeof v === 'string' ? v : undefined;
}
/** Kernel strings read as "" when the page was not resident: report "unknown" rather than "". */
function str(r: SensorRecord, i: number): string | undefined {
  const v = r.strings[i];
  return v === undefined || v === '' ? undefined : v;
}

export interface EventBuilderOptions {
  node: string;
  /** Emit process-exec events (a policy wants them); exec records are learnt from either way. Default true. */
  emitExec?: boolean;
  /** Emit privilege-escalation events for set-user-id executions. Default true. */
  emitPrivilege?: boolean;
  /** Path prefixes policies name: file events outside them are filtered after path resolution. */
  filePathPrefixes?: readonly string[];
  clock: WallClock;
  /** Short boot id: event ids stay unique across reboots. */
  bootId: string;
  processes: ProcessView;
}

/** The date-and-seconds part last formatted, and its second: events come in bursts within a second. */
let lastSecond = -1n;
let lastPrefix = '';

/** RFC 3339 with nanoseconds: 2026-11-26T12:00:00.123456789Z. */
export function rfc3339Nano(wallNs: bigint): string {
  if (wallNs < 0n) {
    const iso = new Date(Number(wallNs / 1_000_000n)).toISOString();
    return `${iso.slice(0, 19)}.${(wallNs % 1_000_000_000n).toString().padStart(9, '0')}Z`;
  }
  // A Date and its ISO string per event cost more than the rest of the timestamp: formatted once a second.
  const second = wallNs / 1_000_000_000n;
  if (second !== lastSecond) {
    lastPrefix = new Date(Number(second) * 1000).toISOString().slice(0, 19); // …T12:00:00
    lastSecond = second;
  }
  return `${lastPrefix}.${(wallNs - second * 1_000_000_000n).toString().padStart(9, '0')}Z`;
}

interface ProcessIdentity {
  binary?: string;
  args?: string[];
  cgroup?: ProcessCgroup;
  /** The kernel's cgroup id `cgroup` was read for. */
  cgroupId?: number;
}

/** Stands for the unknown top of a path deeper than the sensor's walk: `/…/<deepest components>`. */
export const TRUNCATED_MARK = '/…';

/**
 * `also`: more events from the same record (an exec that raised the effective uid; an unresolved
 * path reported below each watched prefix). `unresolvedPath`: the record named a file whose path
 * could not be resolved to the root (counted by the sensor).
 */
export type BuildResult =
  | { event: RuntimeEvent; also?: RuntimeEvent[]; unresolvedPath?: true }
  | { filtered: string }
  | { pending: true };

type Specific = {
  behavior: Behavior;
  fields: Partial<RuntimeEvent>;
  raw?: Record<string, unknown>;
  /** The same event again with each of these as `file.path` (an unresolved path, one per prefix). */
  alsoAt?: string[];
};

/** How long a process's cwd and a parent's executable read from /proc are reused. */
export const PROC_ANSWER_TTL_MS = 1000;

/** A /proc answer (undefined: the process was gone) and when it was read (performance.now()). */
interface ProcAnswer {
  path: string | undefined;
  at: number;
}

const FMODE_CREATED = 0x100000;
const PRESENT_BIT = 1;

export class EventBuilder {
  private readonly processes = new LRUCache<string, ProcessIdentity>({ max: 8192 });
  /** (pid:fd) → bound address, so listen(2) can say which port. */
  private readonly bound = new LRUCache<
    string,
    { family: 'ipv4' | 'ipv6'; addr: string; port: number; protocol: string | undefined }
  >({
    max: 4096,
  });
  /**
   * glibc applies set*id to every thread of a process (each thread makes the syscall): one change
   * in a 10-thread process is 10 records. Keep the first; the others are the same decision.
   */
  private readonly recentCredentialChanges = new LRUCache<string, number>({ max: 1024, ttl: 500 });
  /**
   * /proc answers every event carries but no record does (cwd; the parent's executable), reused for a
   * short while instead of two readlinks per event: a busy process makes thousands of calls a
   * second, and /proc is read after the fact anyway. An exec of the parent forgets its entry. The
   * age is checked here rather than with lru-cache's ttl, which costs a timer and a clock read per get.
   */
  private readonly cwds = new LRUCache<string, ProcAnswer>({ max: 4096 });
  private readonly parentBinaries = new LRUCache<number, ProcAnswer>({ max: 4096 });

  private readonly proc: ProcessView;

  constructor(private readonly opts: EventBuilderOptions) {
    this.proc = opts.processes;
  }

  /** Builds the event for one record, or says why there is none. */
  build(r: SensorRecord): BuildResult {
    // Keyed by exec, not pid: execve keeps the pid and start time, and a record must be named after
    // the program that made the call, not the one the process became afterwards.
    const key = `${r.pid}:${r.startBootNs}:${r.execId}`;
    let identity = this.processes.get(key);
    if (r.kind === RecordKind.exec || r.kind === RecordKind.identity) {
      identity = {
        // The executable the kernel loaded; the name given to execve when the walk was cut.
        binary: r.resolved?.complete ? r.resolved.path : (str(r, 0) ?? r.resolved?.path),
        args: r.argv ?? this.proc.cmdline(r.pid),
        cgroup: identity?.cgroup,
        cgroupId: identity?.cgroupId,
      };
      this.processes.set(key, identity);
      this.parentBinaries.delete(r.pid);
    }
    if (!identity) {
      const exe = this.proc.link(r.pid, 'exe');
      // /proc is read after the fact: if the process has exec'd since this record (unshare → mount),
      // /proc describes its next program. The kernel's comm (first 15 bytes) tells; then say only that.
      identity =
        exe === undefined || posix.basename(exe).slice(0, 15) === r.comm
          ? { binary: exe, args: this.proc.cmdline(r.pid) }
          : {};
      this.processes.set(key, identity);
    }
    // A process can change cgroup without a new pid (a runtime's init joins the container's cgroup,
    // then execs the entrypoint): the kernel's cgroup id says when the cached path is stale.
    if (identity.cgroup === undefined || identity.cgroupId !== r.cgroupId) {
      identity.cgroup = this.proc.cgroup(r.pid);
      identity.cgroupId = r.cgroupId;
    }
    if (r.kind === RecordKind.setid || r.kind === RecordKind.capset) {
      const k = `${r.pid}:${r.kind}:${r.fields.join(',')}`;
      const firstTid = this.recentCredentialChanges.get(k);
      if (firstTid !== undefined && firstTid !== r.tid)
        return { filtered: 'same credential change on another thread' };
      this.recentCredentialChanges.set(k, r.tid);
    }
    if (r.kind === RecordKind.exec && this.opts.emitExec === false) {
      const raised = this.execPrivilege(r);
      return raised ? this.finish(r, identity, raised) : { filtered: 'exec learnt, not watched' };
    }
    const specific = this.specific(r);
    if ('filtered' in specific || 'pending' in specific) return specific;
    const built = this.finish(r, identity, specific);
    if (r.kind === RecordKind.exec) {
      const raised = this.execPrivilege(r);
      if (raised && 'event' in built) {
        const also = this.finish(r, identity, raised);
        if ('event' in also) return { event: built.event, also: [also.event] };
      }
    }
    if (!('event' in built) || specific.raw?.pathUnresolved !== true) return built;
    // An unresolved path: the same event again below each further watched prefix.
    const also = (specific.alsoAt ?? []).flatMap((path, i) => {
      const more = this.finish(r, identity, {
        ...specific,
        fields: { ...specific.fields, file: { ...specific.fields.file, path } },
        raw: { ...specific.raw, idSuffix: `p${i + 1}` },
      });
      return 'event' in more ? [more.event] : [];
    });
    return { event: built.event, ...(also.length > 0 ? { also } : {}), unresolvedPath: true };
  }

  /** A set-user-id exec: the effective uid after execve differs from the one before. */
  private execPrivilege(
    r: SensorRecord,
  ): { behavior: Behavior; fields: Partial<RuntimeEvent>; raw?: Record<string, unknown> } | undefined {
    if (this.opts.emitPrivilege === false || num(r, 3) !== PRESENT_BIT) return undefined;
    const before = uint32(num(r, 4));
    const after = uint32(num(r, 5));
    if (before === after) return undefined;
    return {
      behavior: 'privilege-escalation',
      fields: { privilege: { fromUid: before, toUid: after, result: 'succeeded' } },
      raw: { syscall: 'execve', reason: 'setuid-exec', ruid: uint32(num(r, 6)), idSuffix: 'priv' },
    };
  }

  private finish(
    r: SensorRecord,
    identity: ProcessIdentity & { cgroup?: ProcessCgroup },
    specific: Specific,
  ): BuildResult {
    const cgroup = identity.cgroup ?? {};
    const wallNs = this.opts.clock.wallNs(r.nsecs);
    const argv = identity.args;
    const { idSuffix, ...raw } = specific.raw ?? {};
    const event: RuntimeEvent = {
      id: `bpftrace-${this.opts.bootId}-${r.nsecs}-${r.tid}-${r.kind}${typeof idSuffix === 'string' ? `-${idSuffix}` : ''}`,
      time: rfc3339Nano(wallNs),
      source: 'bpftrace',
      node: this.opts.node,
      behavior: specific.behavior,
      process: {
        pid: r.pid,
        startTime: String(r.startBootNs),
        uid: uint32(r.uid),
        binary: identity.binary ?? r.comm,
        args: argv && argv.length > 0 ? argv.slice(1) : undefined,
        cwd: this.cached(this.cwds, `${r.pid}:${r.startBootNs}`, () => this.proc.link(r.pid, 'cwd')),
      },
      parent: {
        pid: r.ppid,
        binary: this.cached(this.parentBinaries, r.ppid, () => this.proc.link(r.ppid, 'exe')),
      },
      cgroup: { id: String(r.cgroupId), path: cgroup.path },
      ...specific.fields,
      raw: { kind: KIND_NAMES.get(r.kind), tid: r.tid, comm: r.comm, nsecs: r.nsecs, ...raw },
    };
    const containerId =
      cgroup.containerId !== undefined ? normalizeContainerId(cgroup.containerId) : undefined;
    if (containerId) event.container = { id: containerId };
    if (cgroup.podUid) event.pod = { uid: cgroup.podUid };
    return { event };
  }

  private cached<K extends string | number>(
    cache: LRUCache<K, ProcAnswer>,
    key: K,
    read: () => string | undefined,
  ): string | undefined {
    const now = performance.now();
    const hit = cache.get(key);
    if (hit && now - hit.at < PROC_ANSWER_TTL_MS) return hit.path;
    const path = read();
    cache.set(key, { path, at: now });
    return path;
  }

  /**
   * A name as written (rename, unlink, mount), resolved after the fact: its directory canonical as
   * the process sees it (symlinks, `..`, `//`, cwd or dirfd), plus the final component (a symlink
   * itself is what unlink/rename act on). Lexical when the directory cannot be read any more.
   */
  private resolvePath(pid: number, dfd: number, path: string | undefined): string | undefined {
    if (path === undefined) return path;
    const base = path.startsWith('/') ? 'root' : dfd === AT_FDCWD ? 'cwd' : `fd/${dfd}`;
    const trimmed = path.replace(/\/+$/, '') || '/';
    const cut = trimmed.lastIndexOf('/');
    const dir = cut < 0 ? '.' : trimmed.slice(0, cut) || '/';
    const name = cut < 0 ? trimmed : trimmed.slice(cut + 1);
    const real = this.proc.realDir?.(pid, base, dir);
    if (real !== undefined) {
      return name === '' || name === '.' || name === '..'
        ? posix.resolve(real, name)
        : posix.join(real, name);
    }
    if (path.startsWith('/')) return posix.resolve(path);
    const link = base === 'cwd' ? this.proc.link(pid, 'cwd') : this.proc.link(pid, base);
    return link === undefined ? path : posix.resolve(link, path);
  }

  /**
   * mount(2) decoded: the kernel ignores the source and fstype of a remount or propagation change
   * (util-linux passes "none"), so they are left out rather than shown as if they meant something.
   */
  private mount(r: SensorRecord): MountInfo {
    const flags = num(r, 0);
    const kind = mountKind(flags);
    const out: MountInfo = { kind, target: this.resolvePath(r.pid, AT_FDCWD, str(r, 0)) };
    if (kind === 'bind' || kind === 'move') out.source = this.resolvePath(r.pid, AT_FDCWD, str(r, 1));
    else if (kind === 'filesystem') {
      out.source = str(r, 1);
      out.fstype = str(r, 2);
    }
    out.flags = mountFlagNames(flags);
    return out;
  }

  private outsidePrefixes(...paths: (string | undefined)[]): boolean {
    const prefixes = this.opts.filePathPrefixes ?? [];
    if (prefixes.length === 0) return false;
    return !paths.some((p) => p !== undefined && prefixes.some((pre) => p.startsWith(pre)));
  }

  /**
   * The path of an opened file whose walk was cut: /proc's fd link when it agrees with what the
   * kernel sent (the descriptor may already name another file: closed and reused), else the kernel's
   * path; undefined when the walk was too deep and nothing else names the file (its top, which
   * decides the watched prefix, is unknown).
   */
  private openedPath(
    pid: number,
    fd: number,
    resolved: NonNullable<SensorRecord['resolved']>,
  ): string | undefined {
    const link = this.proc.link(pid, `fd/${fd}`);
    if (resolved.truncated) {
      const tail = resolved.path.slice(TRUNCATED_MARK.length);
      return link !== undefined && link.length > tail.length && link.endsWith(tail) ? link : undefined;
    }
    // The top is known: the link may add what was cut, but must be below the same prefixes.
    return link !== undefined && this.outsidePrefixes(link) === this.outsidePrefixes(resolved.path)
      ? link
      : resolved.path;
  }

  private specific(r: SensorRecord): Specific | { filtered: string } | { pending: true } {
    switch (r.kind) {
      case RecordKind.exec:
        return {
          behavior: 'process-exec',
          fields: {},
          raw: {
            oldPid: num(r, 0),
            filename: str(r, 0),
            ...(r.resolved && !r.resolved.complete ? { pathTruncated: true } : {}),
          },
        };
      case RecordKind.mount:
        return { behavior: 'volume-mount', fields: { mount: this.mount(r) }, raw: { syscall: 'mount' } };
      case RecordKind.moveMount:
        return {
          behavior: 'volume-mount',
          fields: {
            mount: {
              target: this.resolvePath(r.pid, int32(num(r, 1)), str(r, 0)),
              source: this.resolvePath(r.pid, int32(num(r, 0)), str(r, 1)),
              flags: ['move'],
              kind: 'move',
            },
          },
          raw: { syscall: 'move_mount', moveFlags: num(r, 2) },
        };
      case RecordKind.fsmount:
        return {
          behavior: 'volume-mount',
          fields: { mount: { flags: ['fsmount'], kind: 'filesystem' } },
          raw: { syscall: 'fsmount', fsFd: num(r, 0), attrFlags: num(r, 2) },
        };
      case RecordKind.openTree:
        return {
          behavior: 'volume-mount',
          fields: {
            mount: {
              source: this.resolvePath(r.pid, int32(num(r, 0)), str(r, 0)),
              flags: ['open_tree'],
              // Without the clone flag open_tree only opens an existing mount, to move it later.
              kind: (num(r, 1) & OPEN_TREE_CLONE) !== 0 ? 'bind' : 'move',
            },
          },
          raw: { syscall: 'open_tree', flags: num(r, 1) },
        };
      case RecordKind.connect:
      case RecordKind.bind: {
        const family = num(r, 1) === 10 ? 'ipv6' : 'ipv4';
        const addr = text(r, 3) ?? '';
        const p = port(num(r, 2));
        const protocol = protocolName(num(r, 4));
        if (r.kind === RecordKind.bind) {
          this.bound.set(`${r.pid}:${int32(num(r, 0))}`, { family, addr, port: p, protocol });
          return { pending: true };
        }
        return {
          behavior: 'network-connect',
          fields: { network: { protocol, family, daddr: addr, dport: p } },
          raw: { fd: int32(num(r, 0)) },
        };
      }
      case RecordKind.listen: {
        const b = this.bound.get(`${r.pid}:${int32(num(r, 0))}`);
        return {
          behavior: 'network-listen',
          fields: {
            network: { protocol: b?.protocol ?? 'tcp', family: b?.family, saddr: b?.addr, sport: b?.port },
          },
          raw: { fd: int32(num(r, 0)), backlog: int32(num(r, 1)) },
        };
      }
      case RecordKind.accept: {
        // fd, family, local port (host order), local addr, peer port (network order), peer addr, proto
        const family = num(r, 1) === 10 ? 'ipv6' : 'ipv4';
        const network: NetworkInfo = { family };
        const protocol = protocolName(num(r, 6));
        if (protocol !== undefined) network.protocol = protocol;
        const saddr = text(r, 3);
        if (saddr !== undefined) network.saddr = saddr;
        network.sport = num(r, 2) & 0xffff;
        const daddr = text(r, 5);
        if (daddr !== undefined) network.daddr = daddr;
        network.dport = port(num(r, 4));
        return { behavior: 'network-accept', fields: { network }, raw: { fd: int32(num(r, 0)) } };
      }
      case RecordKind.open: {
        const flags = num(r, 0);
        const fd = int32(num(r, 1));
        // The file the kernel opened, by its dentries; a cut walk falls back to /proc's fd link.
        const resolved = r.resolved;
        const path =
          resolved === undefined
            ? this.proc.link(r.pid, `fd/${fd}`)
            : resolved.complete
              ? resolved.path
              : this.openedPath(r.pid, fd, resolved);
        const writes = (flags & (O_WRONLY | O_RDWR | O_CREAT | O_TRUNC)) !== 0;
        const created = (num(r, 4) & FMODE_CREATED) !== 0;
        const operation: FileOperation = created ? 'create' : writes ? 'write' : 'read';
        const behavior = writes ? 'file-write' : 'file-read';
        const raw = {
          flags,
          fd,
          ...(resolved && !resolved.complete ? { pathTruncated: true } : {}),
          ...(resolved?.outsideRoot ? { outsideRoot: true } : {}),
        };
        if (path === undefined && resolved?.truncated) {
          // Fail closed: a path whose top is unknown cannot be proved outside the watched prefixes,
          // so it is reported below each of them, the unknown middle shown as "…".
          const tail = resolved.path.slice(TRUNCATED_MARK.length);
          const under = (this.opts.filePathPrefixes ?? []).map((p) => `${p}…${tail}`);
          return {
            behavior,
            fields: { file: { path: under[0] ?? resolved.path, operation } },
            raw: { ...raw, pathUnresolved: true },
            ...(under.length > 1 ? { alsoAt: under.slice(1) } : {}),
          };
        }
        if (this.outsidePrefixes(path)) return { filtered: 'path outside policy prefixes' };
        return { behavior, fields: { file: { path, operation } }, raw };
      }
      case RecordKind.rename: {
        const from = this.resolvePath(r.pid, int32(num(r, 0)), str(r, 0));
        const to = this.resolvePath(r.pid, int32(num(r, 1)), str(r, 1));
        if (this.outsidePrefixes(from, to)) return { filtered: 'path outside policy prefixes' };
        // The path written is the destination, unless only the source is one policies watch.
        const path = this.outsidePrefixes(to) ? from : to;
        return { behavior: 'file-write', fields: { file: { path, operation: 'rename' } }, raw: { from, to } };
      }
      case RecordKind.unlink: {
        const path = this.resolvePath(r.pid, int32(num(r, 0)), str(r, 0));
        if (this.outsidePrefixes(path)) return { filtered: 'path outside policy prefixes' };
        return {
          behavior: 'file-write',
          fields: { file: { path, operation: 'delete' } },
          raw: { flag: num(r, 1) },
        };
      }
      case RecordKind.setid: {
        const call = num(r, 0);
        const ret = int32(num(r, 1));
        const [oldR, oldE, newR, newE, newS] = [2, 3, 4, 5, 6].map((i) => uint32(num(r, i))) as [
          number, number, number, number, number,
        ]; // prettier-ignore
        const [askedA, askedB] = [int32(num(r, 7)), int32(num(r, 8))];
        const isUid =
          call === SetIdCall.setuid || call === SetIdCall.setresuid || call === SetIdCall.setreuid;
        const syscall = SETID_NAMES[call] ?? 'setid';
        const failed = ret !== 0;
        if (!failed && oldR === newR && oldE === newE) return { filtered: 'credentials unchanged' };
        // The effective id is the one that grants privilege: for setres*id/setre*id the second one
        // asked for, unless it was -1 (unchanged).
        const asked =
          call === SetIdCall.setuid || call === SetIdCall.setgid || askedB === -1 ? askedA : askedB;
        const ids = isUid ? 'uid' : 'gid';
        const privilege: PrivilegeInfo = {
          fromUid: isUid ? oldE : undefined,
          result: failed ? 'failed' : 'succeeded',
        };
        if (isUid) privilege.toUid = failed ? (asked === -1 ? undefined : uint32(asked)) : newE;
        else privilege.toGid = failed ? (asked === -1 ? undefined : uint32(asked)) : newE;
        if (!isUid) delete privilege.fromUid;
        return {
          behavior: 'privilege-escalation',
          fields: { privilege },
          raw: {
            syscall,
            ret,
            asked: [askedA, askedB],
            [`r${ids}`]: [oldR, newR],
            [`e${ids}`]: [oldE, newE],
            [`s${ids}`]: newS,
          },
        };
      }
      case RecordKind.capset: {
        // ret, effective/permitted before, after (the task's credentials at exit), asked effective
        // low/high, asked permitted low/high, effective uid.
        const ret = int32(num(r, 0));
        const [oldE, oldP, newE, newP] = [1, 2, 3, 4].map((i) => capSet(num(r, i))) as [
          string[], string[], string[], string[],
        ]; // prettier-ignore
        const askedE = capabilityNames(uint32(num(r, 5)), uint32(num(r, 6)));
        const askedP = capabilityNames(uint32(num(r, 7)), uint32(num(r, 8)));
        const failed = ret !== 0;
        const same = (a: string[], b: string[]): boolean => a.join() === b.join();
        if (!failed && same(oldE, newE) && same(oldP, newP)) return { filtered: 'credentials unchanged' };
        // As for set*id: after a refused call, the set asked for; after a successful one, the set in effect.
        const effective = failed ? askedE : newE;
        const euid = uint32(num(r, 9));
        return {
          behavior: 'privilege-escalation',
          fields: {
            privilege: {
              // capset changes no uid: no toUid, so a uid rule (toUid: 0) does not match it.
              fromUid: euid,
              result: failed ? 'failed' : 'succeeded',
              ...(effective.length > 0 ? { capability: effective.join(',') } : {}),
            },
          },
          raw: {
            syscall: 'capset',
            ret,
            effective: [oldE, newE],
            permitted: [oldP, newP],
            gained: newE.filter((c) => !oldE.includes(c)),
            asked: { effective: askedE, permitted: askedP },
          },
        };
      }
      case RecordKind.initModule:
        return {
          behavior: 'module-load',
          fields: { module: {} },
          raw: { syscall: 'init_module', len: num(r, 0) },
        };
      case RecordKind.finitModule: {
        const file = this.proc.link(r.pid, `fd/${int32(num(r, 0))}`);
        const name = file ? posix.basename(file).replace(/\.ko(\.[a-z]+)?$/, '') : undefined;
        return {
          behavior: 'module-load',
          fields: { module: { name } },
          raw: { syscall: 'finit_module', file },
        };
      }
      case RecordKind.ptrace:
        return { behavior: 'ptrace', fields: {}, raw: { request: num(r, 0), targetPid: int32(num(r, 1)) } };
      case RecordKind.setns:
        return {
          behavior: 'namespace-change',
          fields: {},
          raw: { syscall: 'setns', namespaces: namespaceNames(num(r, 1)) },
        };
      case RecordKind.unshare:
        return {
          behavior: 'namespace-change',
          fields: {},
          raw: { syscall: 'unshare', namespaces: namespaceNames(num(r, 0)) },
        };
      case RecordKind.bpfProgLoad:
        return { behavior: 'bpf-load', fields: {}, raw: { progType: num(r, 0) } };
      case RecordKind.continuation:
      case RecordKind.component:
        return { filtered: 'continuation without head' };
      case RecordKind.identity:
        return { filtered: 'identity learnt' };
    }
  }
}

const SETID_NAMES: Record<number, string> = {
  [SetIdCall.setuid]: 'setuid',
  [SetIdCall.setresuid]: 'setresuid',
  [SetIdCall.setgid]: 'setgid',
  [SetIdCall.setresgid]: 'setresgid',
  [SetIdCall.setreuid]: 'setreuid',
  [SetIdCall.setregid]: 'setregid',
};

const KIND_NAMES = new Map<number, string>(Object.entries(RecordKind).map(([k, v]) => [v, k]));
