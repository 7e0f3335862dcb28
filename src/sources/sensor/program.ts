/**
 * Generates the bpftrace program for the behaviors the loaded policies need (and only those: every
 * attached tracepoint costs every process on the host a little).
 *
 * Output protocol (bpftrace `-f json`): every event is one `print((kind, …))` tuple, a JSON array on
 * its own line. Strings from the kernel are untrusted: they travel inside JSON strings (bpftrace
 * escapes them) or, for exec arguments (NUL-separated bytes), as `%rx` hex in a printf line, so no
 * byte a process controls can break the framing. Because the BPF stack is 512 bytes, an event with
 * several strings is split into a head tuple plus continuation tuples `(0, tid, str)` printed by the
 * same probe invocation; they land consecutively in the same CPU's ring, and the parser
 * (records.ts) joins them by thread id.
 *
 * Layout of every head tuple: [kind, tid, pid, ppid, uid, nsecs, cgroupId, startBootNs, execId, comm,
 * …]; the kind-specific fields follow (see RecordKind). execId is the task's self_exec_id, which every
 * execve increments: identities are keyed by (pid, start, execId), so a record is never named after
 * the program its process became later.
 *
 * Paths the kernel resolved (opened files, executables) travel as component tuples `(2, tid, name)`,
 * deepest first, printed before their head; the head says how many there were and whether the walk
 * was complete (PathStatus).
 */
import { RecordKind, SetIdCall, type RecordKindCode } from '../../events/adapters/bpftrace.js';
import type { Behavior } from '../../events/types.js';
import { killWrap, type KernelKillRule } from './kernel-kill.js';

/** Continuation strings each kind is followed by (exec: one printf line with the argument bytes). */
export const CONTINUATIONS: Partial<Record<RecordKindCode, number>> = {
  [RecordKind.exec]: 2, // the name passed to execve, then the argument bytes (printf line)
  [RecordKind.identity]: 2, // as exec (the name is empty: no longer known)
  [RecordKind.mount]: 3, // target, source, fstype
  [RecordKind.moveMount]: 2, // to_pathname, from_pathname
  [RecordKind.openTree]: 1,
  [RecordKind.rename]: 2, // old, new
  [RecordKind.unlink]: 1,
};

/** Record kinds preceded by the component tuples of a path the kernel resolved. */
export const RESOLVED_PATH_KINDS: ReadonlySet<number> = new Set([
  RecordKind.exec,
  RecordKind.identity,
  RecordKind.open,
]);

/**
 * Loop bound of the walk up a resolved path: components plus mount points crossed; a deeper path is
 * reported truncated (its deepest components). One counter only: a second bounded counter multiplies
 * the verifier's states past its limit.
 */
export const MAX_WALK_STEPS = 40;

/** Longest string read from the kernel (bpftrace 0.17 maximum is 200); longer ones are truncated. */
export const SENSOR_STRLEN = 200;

/**
 * Longest file name an open's head carries itself (see fileProbes), a multiple of 6; longer names
 * are sent as a component.
 */
export const LEAF_BYTES = 24;
const LEAF_BIT = '0x100000000';

/** open(2) flags that mean "this open may modify the file". */
const WRITE_FLAGS = 0x1 | 0x2 | 0x40 | 0x200; // O_WRONLY | O_RDWR | O_CREAT | O_TRUNC
/** Marks a stored value as present (a missing bpftrace map key reads as 0). */
const PRESENT = '0x4000000000000000';
const AT_FDCWD = -100;
/**
 * offsetof(struct mount, mnt): bpftrace 0.17 has neither offsetof nor container_of, and the fields
 * before `mnt` (mnt_hash, mnt_parent, mnt_mountpoint) have not changed since Linux 3.13.
 */
const MOUNT_MNT_OFFSET = 32;
const BPF_PROG_LOAD = 5;

export interface ProgramOptions {
  behaviors: ReadonlySet<Behavior>;
  /** Path prefixes for in-kernel filtering of file events; empty = every write, no reads. */
  filePathPrefixes: readonly string[];
  /** Our own pid: never report ourselves (the store's writes would feed back). */
  selfPid: number;
  /** Whether a tracepoint ("syscalls:sys_enter_mount") exists on this kernel. */
  tracepointExists: (name: string) => boolean;
  /** Rules the probes enforce with SIGKILL (kernel-kill.ts); absent or empty = report only. */
  kernelKill?: readonly KernelKillRule[];
  /** Layout of the kernel's capability sets (capabilityLayoutOf(os.release())); default u64. */
  capabilityLayout?: CapabilityLayout;
}

export interface GeneratedProgram {
  source: string;
  /** Tracepoints attached (BEGIN/END excluded). */
  probes: string[];
  /** Behaviors asked for that no tracepoint on this kernel can see, with the reason. */
  unsupported: { behavior: Behavior; reason: string }[];
  /** Some probe sends signals: bpftrace must run with --unsafe. */
  unsafe: boolean;
  /**
   * Directory components (top first) of each prefix opens are filtered on, in clause order: an open
   * record naming clause i + 1 arrives without them (RecordParser puts them back).
   */
  prefixDirs: string[][];
}

export const COMMON =
  'tid, pid, curtask->real_parent->tgid, uid, nsecs, cgroup, curtask->group_leader->start_boottime, curtask->self_exec_id, comm';

interface Probe {
  tracepoint: string;
  body: string;
  /**
   * A second program on the same tracepoint, run right after `body` (its output follows on the same
   * CPU): for events whose strings together exceed the 512-byte BPF stack in one program.
   */
  then?: string[];
  /** Extra predicate ANDed with the self filter. */
  predicate?: string;
  /** When this probe reports, beyond its first printing program running (see withIdentityPrelude). */
  identityWhen?: string;
  /** Which program an in-kernel kill goes in (the probe's own first one; default 0). */
  killAt?: number;
}

/** Escapes a prefix for a bpftrace string literal (only printable ASCII is accepted). */
function literal(prefix: string): string | undefined {
  if (!/^[\x20-\x7e]+$/.test(prefix) || prefix.length >= SENSOR_STRLEN) return undefined;
  return `"${prefix.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/**
 * Budget for the prefix comparisons' temporary strings on the 512-byte BPF stack; beyond it the
 * kernel filter is skipped (every open goes to user space, which filters instead).
 */
const PREFIX_STACK_BUDGET = 192;

/** A path prefix as components: every one but the last must equal a directory, the last begins a name. */
function prefixComponents(prefix: string): string[] | undefined {
  if (!prefix.startsWith('/') || literal(prefix) === undefined) return undefined;
  return prefix.slice(1).split('/');
}

/**
 * The walk up a resolved path (`$d`/`$vfs` set from a `struct path`), crossing mount points, to the
 * process's root. Sets `$n` (components seen) and `$st` (PathStatus bits). With `emit`, prints each
 * component; with `limit`, only the deepest `limit` (an expression: the rest, the directories of a
 * prefix the filter matched, are known to user space, so fewer lines per event), and `$n` then
 * counts from MAX_WALK_STEPS - limit: one counter compared with a constant, and no extra variable
 * live across the loop (either overflows the 512-byte stack next to the printed string).
 * With `window`, keeps the topmost `window` components' dentries in `$w0` (top) … .
 */
function walk(emit: 'all' | 'limit' | false, window: number, limit = ''): string {
  const shift: string[] = [];
  for (let i = window - 1; i > 0; i--) shift.push(`$w${i} = $w${i - 1};`);
  if (window > 0) shift.push('$w0 = $d;');
  const init = Array.from({ length: window }, (_, i) => `$w${i} = (struct dentry *)0;`).join(' ');
  return `  $m = (struct mount *)((uint64)$vfs - ${MOUNT_MNT_OFFSET});
  $rd = curtask->fs->root.dentry; $rm = curtask->fs->root.mnt;
  $n = ${emit === 'limit' ? `${MAX_WALK_STEPS} - (${limit})` : '0'}; $i = 0; $st = ${PathStatus.truncated}; ${init}
  while ($i < ${MAX_WALK_STEPS}) {
    $i++;
    if ($d == $rd && $vfs == $rm) { $st = 0; break; }
    if ($d == $vfs->mnt_root || $d == $d->d_parent) {
      if ($m->mnt_parent == $m) { $st = ${PathStatus.outsideRoot}; break; }
      $d = $m->mnt_mountpoint; $m = $m->mnt_parent;
      $vfs = (struct vfsmount *)((uint64)$m + ${MOUNT_MNT_OFFSET});
      continue;
    }
${
  emit === false
    ? ''
    : `${emit === 'limit' ? `    if ($n >= ${MAX_WALK_STEPS}) { break; }\n` : ''}    print((${RecordKind.component}, tid, str($d->d_name.name)));
`
}${
    shift.length > 0
      ? `    ${shift.join(' ')}
`
      : ''
  }    $d = $d->d_parent; $n++;
  }`;
}

/** Bits of the status a resolved-path head carries. */
export const PathStatus = {
  /** Deeper than MAX_WALK_STEPS: only the deepest components were sent. */
  truncated: 1,
  /** The file is not below the process's root (a descriptor from outside a chroot): path from the host root. */
  outsideRoot: 2,
} as const;

/**
 * In-kernel path filter on the path the kernel resolved for `fileExpr` (a `struct file *`), not the
 * string a process wrote: symlinks, `..`, `//`, `/./`, relative paths and dirfds are already
 * resolved. `setup` walks the file's dentries (bounded) and must run before `condition` is read;
 * `condition` is true when the resolved path starts with one of the prefixes, or the path was too
 * deep to judge (user space re-checks). `clauses[i]` is prefix i's own test, and `dirs[i]` the
 * directory components it proves (top first): a path it matched is sent without them. Assign the
 * outcome to a variable before any further loop (the verifier handles two loops in a row only when
 * the first one's counters are no longer live). Undefined = no in-kernel filter (no prefixes, a
 * prefix that is not printable ASCII or not absolute, or comparisons too large for the BPF stack).
 */
export function prefixCondition(
  fileExpr: string,
  prefixes: readonly string[],
): { setup: string; condition: string; clauses: string[]; dirs: string[][] } | undefined {
  if (prefixes.length === 0) return undefined;
  const split: string[][] = [];
  let stack = 0;
  for (const prefix of prefixes) {
    const comps = prefixComponents(prefix);
    if (comps === undefined) return undefined;
    split.push(comps);
    stack += comps.reduce((sum, c) => sum + c.length + 2, 0);
  }
  if (stack > PREFIX_STACK_BUDGET) return undefined;
  const window = Math.max(...split.map((c) => c.length));
  const clauses = split.map((comps) => {
    const tests = comps.map((c, i) => {
      const name = `$w${i}->d_name.name`;
      const lit = literal(c) ?? '""';
      if (i < comps.length - 1) return `str(${name}, ${c.length + 2}) == ${lit}`;
      return c.length === 0 ? '1' : `strncmp(str(${name}, ${c.length + 1}), ${lit}, ${c.length}) == 0`;
    });
    // `$wK != 0` rather than a test of `$n`: a compared counter is tracked exactly by the verifier,
    // and with the loop counter that multiplies its states past its limit.
    return `($w${comps.length - 1} != 0 && ${tests.join(' && ')})`;
  });
  return {
    setup: `  $d = ${fileExpr}->f_path.dentry; $vfs = ${fileExpr}->f_path.mnt;\n${walk(false, window)}`,
    condition: `(${[...clauses, `($st & ${PathStatus.truncated}) != 0`].join(' || ')})`,
    clauses,
    dirs: split.map((comps) => comps.slice(0, -1)),
  };
}

/**
 * Prints the components of the path of `pathExpr` (a `struct path`), then `$n`/`$st` are set. With
 * `limit`, only the deepest `limit` (see walk).
 */
function emitPath(pathExpr: string, limit?: string): string {
  return `  $d = ${pathExpr}.dentry; $vfs = ${pathExpr}.mnt;
${limit === undefined ? walk('all', 0) : walk('limit', 0, limit)}`;
}

function fileProbes(
  behaviors: ReadonlySet<Behavior>,
  prefixes: readonly string[],
  exists: (n: string) => boolean,
): Probe[] {
  const wantWrite = behaviors.has('file-write');
  // Reads are only watched for paths that policies name: every read on a host is far too many.
  const wantRead = behaviors.has('file-read') && prefixes.length > 0;
  if (!wantWrite && !wantRead) return [];
  const probes: Probe[] = [];
  // Entry keeps the flags (the exit cannot see them, and the file keeps neither O_CREAT nor O_TRUNC);
  // the exit reports what was opened, by the path the kernel resolved, and only if it was opened.
  const isWrite = (f: string): string => `(${f} & ${WRITE_FLAGS}) != 0`;
  const modeTest = (f: string): string =>
    wantWrite && wantRead ? '1' : wantWrite ? isWrite(f) : `!(${isWrite(f)})`;
  const filter = prefixCondition('$file', prefixes);
  // Three programs in turn (filter, walk, head): together they do not fit one 512-byte stack. The
  // outcome of each travels in a per-thread map entry. The filter's: PRESENT | limit << 24 |
  // components << 16 | clause << 8 | status, where clause (1-based) is the prefix the path matched:
  // its directories are not sent again, and the walk stops below them (limit = components left).
  // Clause 0 (no prefix filter, or a path too deep to judge) walks and sends the whole path. The
  // head's status field carries the clause in its second byte (one more field overflows the stack).
  const whole = `${PRESENT} | (${MAX_WALK_STEPS} << 24)`;
  const decide = filter
    ? `${filter.setup}
      if (($st & ${PathStatus.truncated}) != 0) { $keep = ${whole}; }
${filter.clauses
  .map(
    (c, i) =>
      `      else if (${c}) { $keep = ${PRESENT} | (($n - ${filter.dirs[i]!.length}) << 24) | ($n << 16) | (${i + 1} << 8) | $st; }`,
  )
  .join('\n')}`
    : `      $keep = ${whole};`;
  const exitBody = `  $f = @open_flags[tid];
  if ($f != 0) {
    $keep = 0;
    if (args->ret >= 0) {
      $file = *(curtask->files->fdt->fd + args->ret);
${decide}
    }
    if ($keep != 0) { @open_keep[tid] = $keep; } else { delete(@open_flags[tid]); }
  }`;
  // The map entry is read again rather than kept in a variable: one more value live across the
  // walk overflows the stack. A matched prefix's walk stopped early: the filter's count stands.
  //
  // The file's own name, when it is at most LEAF_BYTES long, is not sent as a component: the head
  // carries it as numbers (one line per event instead of two; as a string it would overflow the
  // head's stack). Not for a mount root (the path names it by its mount point) nor the process's
  // root. LEAF_BIT in the map entries says it was done.
  const leafTest = `$d != $vfs->mnt_root && $d != $d->d_parent && $d != curtask->fs->root.dentry && $d->d_name.len > 0 && $d->d_name.len <= ${LEAF_BYTES}`;
  const exitWalk = `  if (@open_keep[tid] != 0) {
    $file = *(curtask->files->fdt->fd + args->ret);
  $d = $file->f_path.dentry; $vfs = $file->f_path.mnt;
  if (${leafTest}) { @open_keep[tid] = @open_keep[tid] | ${LEAF_BIT}; $d = $d->d_parent; }
${walk('limit', 0, `((@open_keep[tid] >> 24) & 0xff) - ((@open_keep[tid] >> 32) & 1)`)}
    if ((@open_keep[tid] & 0xff00) != 0) { @open_path[tid] = (@open_keep[tid] & (${LEAF_BIT} | 0xffffff)) | ${PRESENT}; }
    else { @open_path[tid] = ($n << 16) | $st | (@open_keep[tid] & ${LEAF_BIT}) | ${PRESENT}; }
    delete(@open_keep[tid]);
  }`;
  // The name's bytes, six per number (JSON numbers are exact up to 2^53), little-endian; the bytes
  // past its length (other names' leftovers in the dentry) are masked off.
  const packed = Array.from({ length: LEAF_BYTES / 6 }, (_, i) => {
    const at = i * 6;
    const mask = `($ln >= ${at + 6} ? 0xffffffffffff : ($ln > ${at} ? (1 << (($ln - ${at}) * 8)) - 1 : 0))`;
    return `(*(uint64 *)($nm + ${at}) & ${mask})`;
  }).join(', ');
  const exitHead = `  $p = @open_path[tid];
  if ($p != 0) {
    $f = @open_flags[tid];
    delete(@open_path[tid]); delete(@open_flags[tid]);
    $file = *(curtask->files->fdt->fd + args->ret);
    $ln = (uint64)0;
    if (($p & ${LEAF_BIT}) != 0) { $ln = (uint64)$file->f_path.dentry->d_name.len; }
    $nm = (uint64)$file->f_path.dentry->d_name.name;
    print((${RecordKind.open}, ${COMMON}, $f & 0xffffffff, args->ret, ($p >> 16) & 0xff, $p & 0xffff, $file->f_mode, $ln, ${packed}));
  }`;
  for (const [name, flags] of [
    ['openat', 'args->flags'],
    ['openat2', '((struct open_how *)args->how)->flags'],
    ['open', 'args->flags'],
    ['creat', String(0x1 | 0x40 | 0x200)],
  ] as const) {
    if (!exists(`syscalls:sys_enter_${name}`) || !exists(`syscalls:sys_exit_${name}`)) continue;
    const f = name === 'creat' ? flags : '$f';
    probes.push(
      {
        tracepoint: `syscalls:sys_enter_${name}`,
        body: `  $f = ${flags};
  if (${modeTest(f)}) { @open_flags[tid] = ${f} | ${PRESENT}; }`,
      },
      {
        tracepoint: `syscalls:sys_exit_${name}`,
        body: exitBody,
        then: [exitWalk, exitHead],
        identityWhen: '@open_keep[tid] != 0',
      },
    );
  }
  if (!wantWrite) return probes;
  // A name given to rename/unlink is resolved in user space (the kernel resolves it only inside
  // the call), so every call goes there: a string test here would miss symlinks, "..", "//" and
  // relative names.
  for (const [name, olddfd, newdfd] of [
    ['rename', String(AT_FDCWD), String(AT_FDCWD)],
    ['renameat', 'args->olddfd', 'args->newdfd'],
    ['renameat2', 'args->olddfd', 'args->newdfd'],
  ] as const) {
    if (!exists(`syscalls:sys_enter_${name}`)) continue;
    probes.push({
      tracepoint: `syscalls:sys_enter_${name}`,
      body: `  print((${RecordKind.rename}, ${COMMON}, ${olddfd}, ${newdfd}));
  print((0, tid, str(args->oldname)));
  print((0, tid, str(args->newname)));`,
    });
  }
  for (const [name, dfd, flag] of [
    ['unlink', String(AT_FDCWD), '0'],
    ['unlinkat', 'args->dfd', 'args->flag'],
  ] as const) {
    if (!exists(`syscalls:sys_enter_${name}`)) continue;
    probes.push({
      tracepoint: `syscalls:sys_enter_${name}`,
      body: `  print((${RecordKind.unlink}, ${COMMON}, ${dfd}, ${flag}));
  print((0, tid, str(args->pathname)));`,
    });
  }
  return probes;
}

/**
 * An accepted connection, read after the call from the new fd's socket: both ends are known then
 * (the peer's address is what the kernel recorded, not what the caller's buffer says). Ports:
 * skc_num is host order, skc_dport network order. Values are widened to 64 bits so bpftrace lays the
 * tuple out the same way in both branches.
 */
function acceptBody(): string {
  return `  $file = *(curtask->files->fdt->fd + args->ret);
  $sk = ((struct socket *)$file->private_data)->sk;
  $fam = (uint64)$sk->__sk_common.skc_family;
  $lport = (uint64)$sk->__sk_common.skc_num;
  $rport = (uint64)$sk->__sk_common.skc_dport;
  $proto = (uint64)$sk->sk_protocol;
  if ($fam == 2) {
    print((${RecordKind.accept}, ${COMMON}, args->ret, $fam, $lport, ntop(2, $sk->__sk_common.skc_rcv_saddr), $rport, ntop(2, $sk->__sk_common.skc_daddr), $proto));
  }
  if ($fam == 10) {
    print((${RecordKind.accept}, ${COMMON}, args->ret, $fam, $lport, ntop(10, $sk->__sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8), $rport, ntop(10, $sk->__sk_common.skc_v6_daddr.in6_u.u6_addr8), $proto));
  }`;
}

/**
 * IPv4/IPv6 sockaddr decoding shared by connect and bind; other families are ignored. The socket's
 * protocol (6 TCP, 17 UDP) is read from the fd's struct socket (a fault reads as 0, never crashes).
 */
function sockaddrBody(kind: number, field: string): string {
  return `  $sa = (struct sockaddr *)args->${field};
  $fam = $sa->sa_family;
  if ($fam == 2 || $fam == 10) {
    $file = *(curtask->files->fdt->fd + args->fd);
    $proto = ((struct socket *)$file->private_data)->sk->sk_protocol;
    if ($fam == 2) {
      $s4 = (struct sockaddr_in *)args->${field};
      print((${kind}, ${COMMON}, args->fd, $fam, $s4->sin_port, ntop(2, $s4->sin_addr.s_addr), $proto));
    } else {
      $s6 = (struct sockaddr_in6 *)args->${field};
      print((${kind}, ${COMMON}, args->fd, $fam, $s6->sin6_port, ntop(10, $s6->sin6_addr.in6_u.u6_addr8), $proto));
    }
  }`;
}

/**
 * The programs that send a process's identity (the executable the kernel loaded, mm->exe_file
 * resolved, not the name passed to execve; the exec's argument bytes) as an exec record, when `when`
 * holds, as a record of `kind`. The walk's outcome is handed on through a per-thread map entry.
 * `euidBefore` sets `$eb` (PRESENT | the effective uid before a set-user-id exec, or 0).
 */
function identityPrograms(o: {
  kind: RecordKindCode;
  when: string;
  oldPid: string;
  euidBefore: string;
  /** The name passed to execve, or undefined where it is no longer known. */
  name?: string;
  /** Statements run once the identity is out (forgetting a deferred exec's mark). */
  sent: string;
}): string[] {
  const walkProgram = `  if (${o.when}) {
${emitPath('curtask->mm->exe_file->f_path')}
  @exec_path[tid] = ($n << 8) | $st | ${PRESENT};
  }`;
  const head = `${o.euidBefore}
    print((${o.kind}, ${COMMON}, ${o.oldPid}, ($p >> 8) & 0xff, $p & 0xff, ($eb >> 62) & 1, $eb & 0xffffffff, curtask->cred->euid.val, curtask->cred->uid.val));`;
  const strings = `    delete(@exec_path[tid]);
    print((0, tid, ${o.name ?? '""'}));
    $mm = curtask->mm;
    $len = $mm->arg_end - $mm->arg_start;
    if ($len > ${SENSOR_STRLEN}) { $len = ${SENSOR_STRLEN}; }
    printf("A %d %rx\\n", tid, buf(uptr($mm->arg_start), $len));${o.sent}`;
  // Three programs: the walk, the head and the strings do not fit one 512-byte stack together.
  return [
    walkProgram,
    `  $p = @exec_path[tid];\n  if ($p != 0) {\n${head}\n  }`,
    `  if (@exec_path[tid] != 0) {\n${strings}\n  }`,
  ];
}

/**
 * The exec probe: always attached, because every other event is named after the program its process
 * runs (identities are learnt from exec, keyed by exec).
 *
 * When a policy watches process-exec, every exec is sent as it happens. Otherwise the exec only
 * marks the process in the kernel (`@exec_pending`), and the first probe of that process that
 * reports something sends its identity first (withIdentityPrelude): an exec whose process reports
 * nothing costs a map update instead of six lines through user space. The identity is read from the
 * same exec (the same executable file and argument area of the same mm: a process can rewrite its
 * argument bytes, but it chose them at execve anyway). A set-user-id exec (`execEuid`: the effective
 * uid differs from the one before the call) is sent at once.
 */
function execProbe(eager: boolean, execEuid: boolean): Probe {
  const takeEuid = `  $eb = @exec_euid[args->old_pid];
  delete(@exec_euid[args->old_pid]);`;
  if (eager) {
    const [walkProgram, head, rest] = identityPrograms({
      kind: RecordKind.exec,
      when: '1',
      oldPid: 'args->old_pid',
      euidBefore: execEuid ? takeEuid : '  $eb = 0;',
      name: 'str(args->filename)',
      sent: '',
    });
    return { tracepoint: 'sched:sched_process_exec', body: walkProgram!, then: [head!, rest!] };
  }
  const mark = '  @exec_pending[pid] = 1;';
  if (!execEuid) return { tracepoint: 'sched:sched_process_exec', body: mark };
  return {
    tracepoint: 'sched:sched_process_exec',
    body: `${mark}
${takeEuid}
  if ($eb != 0 && ($eb & 0xffffffff) != curtask->cred->euid.val) { @exec_raised[tid] = $eb; }`,
    then: identityPrograms({
      kind: RecordKind.exec,
      when: '@exec_raised[tid] != 0',
      oldPid: 'args->old_pid',
      euidBefore: `  $eb = @exec_raised[tid];
  delete(@exec_raised[tid]);`,
      name: 'str(args->filename)',
      sent: PENDING_SENT,
    }),
  };
}

/** The identity of a deferred exec has been sent: forget the mark. */
const PENDING_SENT = `
    delete(@exec_pending[pid]);`;

/** Forgets the mark of a process that exits without having reported anything. */
const EXIT_PROBE: Probe = {
  tracepoint: 'sched:sched_process_exit',
  predicate: 'tid == pid',
  body: '  delete(@exec_pending[pid]);',
};

/**
 * Inserts, before the first program of `p` that prints, the programs that send the identity of a
 * process whose exec has not been sent yet (see execProbe). `p.identityWhen` narrows it to the
 * invocations that will report (an open the path filter kept).
 */
function withIdentityPrelude(p: Probe): Probe {
  const programs = [p.body, ...(p.then ?? [])];
  const first = programs.findIndex((b) => /\bprintf?\(/.test(b));
  if (first < 0) return p;
  const prelude = identityPrograms({
    kind: RecordKind.identity,
    when: `@exec_pending[pid] != 0${p.identityWhen === undefined ? '' : ` && ${p.identityWhen}`}`,
    oldPid: 'pid',
    euidBefore: '  $eb = 0;',
    // The name passed to execve is gone by now (keeping a copy per exec would cost a string copy
    // per exec and not fit the stack here): a path cut by the walk stays cut.
    sent: PENDING_SENT,
  });
  const all = [...programs.slice(0, first), ...prelude, ...programs.slice(first)];
  // A kill's mark stays right before the record it marks, after the identity.
  return { ...p, body: all[0]!, then: all.slice(1), killAt: first === 0 ? prelude.length : 0 };
}

/**
 * How the kernel lays out a capability set (kernel_cap_t): one u64 since Linux 6.3, two u32 words
 * before. bpftrace 0.17 has no address-of operator to read either as raw memory, so the generator is
 * told which one the running kernel has.
 */
export type CapabilityLayout = 'u64' | 'u32x2';

/** The capability layout of a kernel release string (`os.release()`): 6.3 made kernel_cap_t a u64. */
export function capabilityLayoutOf(release: string): CapabilityLayout {
  const m = /^(\d+)\.(\d+)/.exec(release);
  if (!m) return 'u64';
  const [major, minor] = [Number(m[1]), Number(m[2])];
  return major > 6 || (major === 6 && minor >= 3) ? 'u64' : 'u32x2';
}

/** A capability set of the task's credentials as one 64-bit value (bits = capability numbers). */
function capExpr(set: string, layout: CapabilityLayout): string {
  return layout === 'u64'
    ? `curtask->cred->${set}.val`
    : `(((uint64)curtask->cred->${set}.cap[1] << 32) | curtask->cred->${set}.cap[0])`;
}

/**
 * capset(2), reported at exit with its return value and the sets in effect after the call (read
 * from the task's credentials, not from the caller's buffer, which another thread can rewrite
 * between our read and the kernel's). Entry keeps the sets before the call and the ones asked for
 * (two `__user_cap_data_struct` words, 12 bytes each). Sets hold at most 41 bits, so bit 62 marks
 * an entry as present; the asked words are user data of any value and travel as 32-bit halves.
 */
function capsetProbes(o: ProgramOptions): Probe[] {
  if (!o.tracepointExists('syscalls:sys_exit_capset')) return [];
  const layout = o.capabilityLayout ?? 'u64';
  return [
    {
      tracepoint: 'syscalls:sys_enter_capset',
      body: `  @cap_old_e[tid] = ${capExpr('cap_effective', layout)} | ${PRESENT};
  @cap_old_p[tid] = ${capExpr('cap_permitted', layout)};
  $d0 = (struct __user_cap_data_struct *)args->data;
  $d1 = (struct __user_cap_data_struct *)((uint64)args->data + 12);
  @cap_ask_e[tid] = ((uint64)$d1->effective << 32) | (uint64)$d0->effective;
  @cap_ask_p[tid] = ((uint64)$d1->permitted << 32) | (uint64)$d0->permitted;`,
    },
    {
      tracepoint: 'syscalls:sys_exit_capset',
      body: `  $oe = @cap_old_e[tid];
  if ($oe != 0) {
    $op = @cap_old_p[tid]; $ae = @cap_ask_e[tid]; $ap = @cap_ask_p[tid];
    delete(@cap_old_e[tid]); delete(@cap_old_p[tid]); delete(@cap_ask_e[tid]); delete(@cap_ask_p[tid]);
    print((${RecordKind.capset}, ${COMMON}, args->ret, $oe ^ ${PRESENT}, $op, ${capExpr('cap_effective', layout)}, ${capExpr('cap_permitted', layout)}, $ae & 0xffffffff, $ae >> 32, $ap & 0xffffffff, $ap >> 32, curtask->cred->euid.val));
  }`,
    },
  ];
}

type ProbeFactory = (opts: ProgramOptions) => Probe[];

/** Which tracepoints see each behavior (docs/sensor.md mirrors this table). */
const FACTORIES: Record<Exclude<Behavior, 'alert'>, ProbeFactory> = {
  'process-exec': () => [execProbe(true, false)],
  'volume-mount': () => [
    {
      tracepoint: 'syscalls:sys_enter_mount',
      body: `  print((${RecordKind.mount}, ${COMMON}, args->flags));
  print((0, tid, str(args->dir_name)));
  print((0, tid, str(args->dev_name)));
  print((0, tid, str(args->type)));`,
    },
    {
      tracepoint: 'syscalls:sys_enter_move_mount',
      body: `  print((${RecordKind.moveMount}, ${COMMON}, args->from_dfd, args->to_dfd, args->flags));
  print((0, tid, str(args->to_pathname)));
  print((0, tid, str(args->from_pathname)));`,
    },
    {
      tracepoint: 'syscalls:sys_enter_fsmount',
      body: `  print((${RecordKind.fsmount}, ${COMMON}, args->fs_fd, args->flags, args->attr_flags));`,
    },
    {
      tracepoint: 'syscalls:sys_enter_open_tree',
      body: `  print((${RecordKind.openTree}, ${COMMON}, args->dfd, args->flags));
  print((0, tid, str(args->filename)));`,
    },
  ],
  'network-connect': () => [
    { tracepoint: 'syscalls:sys_enter_connect', body: sockaddrBody(RecordKind.connect, 'uservaddr') },
  ],
  'network-listen': () => [
    // bind carries the address, listen says it is a server socket: the parser joins them per (pid, fd).
    { tracepoint: 'syscalls:sys_enter_bind', body: sockaddrBody(RecordKind.bind, 'umyaddr') },
    {
      tracepoint: 'syscalls:sys_enter_listen',
      body: `  print((${RecordKind.listen}, ${COMMON}, args->fd, args->backlog));`,
    },
  ],
  'network-accept': () =>
    ['accept', 'accept4'].map((name) => ({
      tracepoint: `syscalls:sys_exit_${name}`,
      predicate: 'args->ret >= 0',
      body: acceptBody(),
    })),
  'file-read': (o) => fileProbes(o.behaviors, o.filePathPrefixes, o.tracepointExists),
  'file-write': (o) => fileProbes(o.behaviors, o.filePathPrefixes, o.tracepointExists),
  'privilege-escalation': (o) => [
    // Entry keeps the ids before the call and the ids asked for; the exit reports what happened.
    ...(
      [
        ['setuid', SetIdCall.setuid, 'args->uid, 0xffffffff', 'uid'],
        ['setresuid', SetIdCall.setresuid, 'args->ruid, args->euid', 'uid'],
        ['setreuid', SetIdCall.setreuid, 'args->ruid, args->euid', 'uid'],
        ['setgid', SetIdCall.setgid, 'args->gid, 0xffffffff', 'gid'],
        ['setresgid', SetIdCall.setresgid, 'args->rgid, args->egid', 'gid'],
        ['setregid', SetIdCall.setregid, 'args->rgid, args->egid', 'gid'],
      ] as const
    ).flatMap(([name, code, asked, ids]) => {
      if (!o.tracepointExists(`syscalls:sys_exit_${name}`)) return [];
      const [a, b] = asked.split(', ');
      return [
        {
          tracepoint: `syscalls:sys_enter_${name}`,
          body: `  // + 1: a missing entry reads 0, and both ids are 32 bits (no free bit for a marker).
  @cred_old[tid] = (((uint64)curtask->cred->${ids}.val << 32) | curtask->cred->e${ids}.val) + 1;
  @cred_asked[tid] = (((uint64)${a} & 0xffffffff) << 32) | ((uint64)${b} & 0xffffffff);`,
        },
        {
          tracepoint: `syscalls:sys_exit_${name}`,
          body: `  $o = @cred_old[tid];
  if ($o != 0) {
    $o = $o - 1;
    $a = @cred_asked[tid];
    delete(@cred_old[tid]); delete(@cred_asked[tid]);
    $c = curtask->cred;
    print((${RecordKind.setid}, ${COMMON}, ${code}, args->ret, ($o >> 32) & 0xffffffff, $o & 0xffffffff, $c->${ids}.val, $c->e${ids}.val, $c->s${ids}.val, $a >> 32, $a & 0xffffffff));
  }`,
        },
      ];
    }),
    ...capsetProbes(o),
    // A set-user-id program raises the effective uid at execve: the exec probe compares it with this.
    ...['execve', 'execveat'].flatMap((name) =>
      o.tracepointExists(`syscalls:sys_exit_${name}`)
        ? [
            {
              tracepoint: `syscalls:sys_enter_${name}`,
              body: `  @exec_euid[tid] = curtask->cred->euid.val | ${PRESENT};`,
            },
            // A failed execve leaves no exec event to take the entry.
            { tracepoint: `syscalls:sys_exit_${name}`, body: '  delete(@exec_euid[tid]);' },
          ]
        : [],
    ),
  ],
  'module-load': () => [
    {
      tracepoint: 'syscalls:sys_enter_init_module',
      body: `  print((${RecordKind.initModule}, ${COMMON}, args->len));`,
    },
    {
      tracepoint: 'syscalls:sys_enter_finit_module',
      body: `  print((${RecordKind.finitModule}, ${COMMON}, args->fd, args->flags));`,
    },
  ],
  ptrace: () => [
    {
      tracepoint: 'syscalls:sys_enter_ptrace',
      body: `  print((${RecordKind.ptrace}, ${COMMON}, args->request, args->pid));`,
    },
  ],
  'namespace-change': () => [
    {
      tracepoint: 'syscalls:sys_enter_setns',
      body: `  print((${RecordKind.setns}, ${COMMON}, args->fd, args->flags));`,
    },
    {
      tracepoint: 'syscalls:sys_enter_unshare',
      body: `  print((${RecordKind.unshare}, ${COMMON}, args->unshare_flags));`,
    },
  ],
  'bpf-load': () => [
    {
      tracepoint: 'syscalls:sys_enter_bpf',
      predicate: `args->cmd == ${BPF_PROG_LOAD}`,
      body: `  $attr = (union bpf_attr *)args->uattr;
  print((${RecordKind.bpfProgLoad}, ${COMMON}, $attr->prog_type));`,
    },
  ],
};

/** Builds the bpftrace source for the requested behaviors. Pure: same input, same program. */
export function generateProgram(opts: ProgramOptions): GeneratedProgram {
  const probes: Probe[] = [];
  const unsupported: GeneratedProgram['unsupported'] = [];
  const seen = new Set<string>();
  // First whenever anything is watched: identities come from exec whether or not a policy wants
  // exec events (the sensor then only learns from them, sent with a process's first report).
  const eager = opts.behaviors.has('process-exec');
  if ([...opts.behaviors].some((b) => b !== 'alert')) {
    const exec = execProbe(eager, opts.behaviors.has('privilege-escalation'));
    probes.push(exec);
    seen.add(exec.tracepoint);
    if (!eager && opts.tracepointExists(EXIT_PROBE.tracepoint)) {
      probes.push(EXIT_PROBE);
      seen.add(EXIT_PROBE.tracepoint);
    }
  }
  // Sorted so the program (and its cache key) does not depend on set insertion order.
  for (const behavior of [...opts.behaviors].sort()) {
    if (behavior === 'alert' || behavior === 'process-exec') continue; // alerts: other tools; exec: above
    const candidates = FACTORIES[behavior](opts);
    const available = candidates.filter((p) => opts.tracepointExists(p.tracepoint));
    if (available.length === 0) {
      unsupported.push({
        behavior,
        reason:
          candidates.length === 0
            ? 'file-read needs path prefixes named by policies'
            : `no tracepoint on this kernel (${candidates.map((p) => p.tracepoint).join(', ')})`,
      });
    }
    for (const p of available) {
      if (seen.has(p.tracepoint)) continue;
      seen.add(p.tracepoint);
      probes.push(eager ? p : withIdentityPrelude(p));
    }
  }
  const self = `pid != ${opts.selfPid} && pid != @bpftrace_pid`;
  const lines = [
    '// Generated by kyverno-runtime (src/sources/sensor/program.ts). Do not edit.',
    // BEGIN runs inside bpftrace itself, so `pid` here is bpftrace's own pid: never report it.
    // It also runs only once every probe is attached: "R" is the reliable ready signal (bpftrace's
    // own "attached_probes" message comes before attaching).
    'BEGIN { @bpftrace_pid = pid; printf("R\\n"); }',
  ];
  // In-kernel kill: composed with the same path filter as the probes, so it never fires unprinted.
  // Kills are decided at syscall entry on the path as written (the rule's literal prefix); the
  // sensor's own resolved-path filter runs at exit. A mark whose exit record is filtered out is
  // dropped by age in records.ts, never inherited.
  const pathFilter = (): string => '1';
  let unsafe = false;
  for (const p of probes) {
    const predicate = p.predicate === undefined ? self : `${self} && ${p.predicate}`;
    const kill = opts.kernelKill?.length
      ? killWrap(p.tracepoint, opts.kernelKill, opts.selfPid, pathFilter)
      : undefined;
    if (kill !== undefined) unsafe = true;
    [p.body, ...(p.then ?? [])].forEach((program, i) => {
      const killHere = kill !== undefined && i === (p.killAt ?? 0);
      lines.push(`tracepoint:${p.tracepoint} /${predicate}/ {`, ...(killHere ? [kill] : []), program, '}');
    });
  }
  lines.push('END { clear(@bpftrace_pid); }', '');
  return {
    source: lines.join('\n'),
    probes: probes.map((p) => p.tracepoint),
    unsupported,
    unsafe,
    prefixDirs: prefixCondition('$file', opts.filePathPrefixes)?.dirs ?? [],
  };
}
