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
 * Layout of every head tuple: [kind, tid, pid, ppid, uid, nsecs, cgroupId, startBootNs, comm, …];
 * the kind-specific fields follow (see RecordKind).
 */
import { RecordKind, SetIdCall, type RecordKindCode } from '../../events/adapters/bpftrace.js';
import type { Behavior } from '../../events/types.js';
import { killWrap, type KernelKillRule } from './kernel-kill.js';

/** Continuation strings each kind is followed by (exec: one printf line with the argument bytes). */
export const CONTINUATIONS: Partial<Record<RecordKindCode, number>> = {
  [RecordKind.exec]: 2, // binary path, then the argument bytes (printf line)
  [RecordKind.mount]: 3, // target, source, fstype
  [RecordKind.moveMount]: 2, // to_pathname, from_pathname
  [RecordKind.openTree]: 1,
  [RecordKind.open]: 1,
  [RecordKind.rename]: 2, // old, new
  [RecordKind.unlink]: 1,
};

/** Longest string read from the kernel (bpftrace 0.17 maximum is 200); longer ones are truncated. */
export const SENSOR_STRLEN = 200;

/** open(2) flags that mean "this open may modify the file". */
const WRITE_FLAGS = 0x1 | 0x2 | 0x40 | 0x200; // O_WRONLY | O_RDWR | O_CREAT | O_TRUNC
const AT_FDCWD = -100;
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
}

export interface GeneratedProgram {
  source: string;
  /** Tracepoints attached (BEGIN/END excluded). */
  probes: string[];
  /** Behaviors asked for that no tracepoint on this kernel can see, with the reason. */
  unsupported: { behavior: Behavior; reason: string }[];
  /** Some probe sends signals: bpftrace must run with --unsafe. */
  unsafe: boolean;
}

const COMMON =
  'tid, pid, curtask->real_parent->tgid, uid, nsecs, cgroup, curtask->group_leader->start_boottime, comm';

interface Probe {
  tracepoint: string;
  body: string;
  /** Extra predicate ANDed with the self filter. */
  predicate?: string;
}

/** Escapes a prefix for a bpftrace string literal (only printable ASCII is accepted). */
function literal(prefix: string): string | undefined {
  if (!/^[\x20-\x7e]+$/.test(prefix) || prefix.length >= SENSOR_STRLEN) return undefined;
  return `"${prefix.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/**
 * Budget for the prefix comparisons' temporary strings on the 512-byte BPF stack; beyond it the
 * kernel filter is skipped (every write goes to user space, which filters instead).
 */
const PREFIX_STACK_BUDGET = 192;

/**
 * A condition true when the user-space string at `pointer` starts with one of the prefixes, or is
 * relative (relative paths cannot be judged in the kernel: user space resolves them against the
 * cwd/dirfd and re-checks). Each comparison reads only as many bytes as the longest prefix, so the
 * temporaries stay small. Undefined = no in-kernel filter.
 */
export function prefixCondition(pointer: string, prefixes: readonly string[]): string | undefined {
  if (prefixes.length === 0) return undefined;
  const width = Math.max(...prefixes.map((p) => p.length)) + 1;
  if (width * (prefixes.length + 1) > PREFIX_STACK_BUDGET) return undefined;
  const clauses: string[] = [];
  for (const prefix of prefixes) {
    const lit = literal(prefix);
    if (lit === undefined) return undefined;
    clauses.push(`strncmp(str(${pointer}, ${width}), ${lit}, ${prefix.length}) == 0`);
  }
  clauses.push(`strncmp(str(${pointer}, 2), "/", 1) != 0`);
  return `(${clauses.join(' || ')})`;
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
  const pathTest = (pointer: string): string => prefixCondition(pointer, prefixes) ?? '1';
  const openBody = (flagsExpr: string): string => {
    const isWrite = `($f & ${WRITE_FLAGS}) != 0`;
    const modeTest = wantWrite && wantRead ? '1' : wantWrite ? isWrite : `!(${isWrite})`;
    return `  $f = ${flagsExpr};
  if (${modeTest}) {
    if (${pathTest('args->filename')}) {
      print((${RecordKind.open}, ${COMMON}, args->dfd, $f));
      print((0, tid, str(args->filename)));
    }
  }`;
  };
  if (exists('syscalls:sys_enter_openat')) {
    probes.push({ tracepoint: 'syscalls:sys_enter_openat', body: openBody('args->flags') });
  }
  if (exists('syscalls:sys_enter_openat2')) {
    probes.push({
      tracepoint: 'syscalls:sys_enter_openat2',
      body: openBody('((struct open_how *)args->how)->flags'),
    });
  }
  if (!wantWrite) return probes;
  for (const [name, olddfd, newdfd] of [
    ['rename', String(AT_FDCWD), String(AT_FDCWD)],
    ['renameat', 'args->olddfd', 'args->newdfd'],
    ['renameat2', 'args->olddfd', 'args->newdfd'],
  ] as const) {
    if (!exists(`syscalls:sys_enter_${name}`)) continue;
    probes.push({
      tracepoint: `syscalls:sys_enter_${name}`,
      body: `  if (${pathTest('args->oldname')} || ${pathTest('args->newname')}) {
    print((${RecordKind.rename}, ${COMMON}, ${olddfd}, ${newdfd}));
    print((0, tid, str(args->oldname)));
    print((0, tid, str(args->newname)));
  }`,
    });
  }
  for (const [name, dfd, flag] of [
    ['unlink', String(AT_FDCWD), '0'],
    ['unlinkat', 'args->dfd', 'args->flag'],
  ] as const) {
    if (!exists(`syscalls:sys_enter_${name}`)) continue;
    probes.push({
      tracepoint: `syscalls:sys_enter_${name}`,
      body: `  if (${pathTest('args->pathname')}) {
    print((${RecordKind.unlink}, ${COMMON}, ${dfd}, ${flag}));
    print((0, tid, str(args->pathname)));
  }`,
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

type ProbeFactory = (opts: ProgramOptions) => Probe[];

/** Which tracepoints see each behavior (docs/sensor.md mirrors this table). */
const FACTORIES: Record<Exclude<Behavior, 'alert'>, ProbeFactory> = {
  'process-exec': () => [
    {
      tracepoint: 'sched:sched_process_exec',
      body: `  print((${RecordKind.exec}, ${COMMON}, args->old_pid));
  print((0, tid, str(args->filename)));
  $mm = curtask->mm;
  $len = $mm->arg_end - $mm->arg_start;
  if ($len > ${SENSOR_STRLEN}) { $len = ${SENSOR_STRLEN}; }
  printf("A %d %rx\\n", tid, buf(uptr($mm->arg_start), $len));`,
    },
  ],
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
  'privilege-escalation': () => [
    ...(
      [
        ['setuid', SetIdCall.setuid, 'args->uid, -1, -1'],
        ['setresuid', SetIdCall.setresuid, 'args->ruid, args->euid, args->suid'],
        ['setgid', SetIdCall.setgid, 'args->gid, -1, -1'],
        ['setresgid', SetIdCall.setresgid, 'args->rgid, args->egid, args->sgid'],
      ] as const
    ).map(([name, code, fields]) => ({
      tracepoint: `syscalls:sys_enter_${name}`,
      body: `  print((${RecordKind.setid}, ${COMMON}, ${code}, ${fields}));`,
    })),
    {
      tracepoint: 'syscalls:sys_enter_capset',
      body: `  $d = (struct __user_cap_data_struct *)args->data;
  print((${RecordKind.capset}, ${COMMON}, $d->effective, $d->permitted));`,
    },
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
  // Sorted so the program (and its cache key) does not depend on set insertion order.
  for (const behavior of [...opts.behaviors].sort()) {
    if (behavior === 'alert') continue; // detections come from other tools, not syscalls
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
      probes.push(p);
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
  const pathFilter = (pointer: string): string => prefixCondition(pointer, opts.filePathPrefixes) ?? '1';
  let unsafe = false;
  for (const p of probes) {
    const predicate = p.predicate === undefined ? self : `${self} && ${p.predicate}`;
    const kill = opts.kernelKill?.length
      ? killWrap(p.tracepoint, opts.kernelKill, opts.selfPid, pathFilter)
      : undefined;
    if (kill !== undefined) unsafe = true;
    lines.push(
      `tracepoint:${p.tracepoint} /${predicate}/ {`,
      ...(kill === undefined ? [] : [kill]),
      p.body,
      '}',
    );
  }
  lines.push('END { clear(@bpftrace_pid); }', '');
  return { source: lines.join('\n'), probes: probes.map((p) => p.tracepoint), unsupported, unsafe };
}
