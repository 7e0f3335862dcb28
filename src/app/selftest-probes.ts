/**
 * The selftest's probes: one short-lived perl process per behavior (perl-base is part of every
 * Debian system, and its syscall() reaches mount/unshare/ptrace/bpf without a compiler), each first
 * joining a throwaway cgroup named like a Kubernetes container, then doing one harmless instance of
 * the behavior. Nothing leaves the scratch space: mounts and file writes happen in a private mount
 * namespace (tmpfs over the directory a policy watches, so the host's files are never written),
 * the non-loopback connect in an empty network namespace, listen on loopback, the module load is
 * refused by the kernel (invalid fd), the BPF program is a two-instruction socket filter that is
 * loaded and closed.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Behavior } from '../events/types.js';

/** Syscall numbers the probes need, per architecture (perl-base has no syscall.ph). */
const SYSCALLS: Partial<Record<string, Record<string, number>>> = {
  x64: {
    mount: 165,
    unshare: 272,
    setresuid: 117,
    setuid: 105,
    ptrace: 101,
    bpf: 321,
    finit_module: 313,
  },
  arm64: {
    mount: 40,
    unshare: 97,
    setresuid: 147,
    setuid: 146,
    ptrace: 117,
    bpf: 280,
    finit_module: 273,
  },
};

export function syscallTable(arch = process.arch): Record<string, number> | undefined {
  return SYSCALLS[arch];
}

/** Where the non-loopback connect goes: TEST-NET-1 (RFC 5737), from a network namespace with no route. */
export const SELFTEST_CONNECT_ADDR = '192.0.2.1';
export const SELFTEST_CONNECT_PORT = 9;
/** The source name of the selftest's tmpfs mounts (visible in mount events). */
export const SELFTEST_FS_SOURCE = 'kyverno-runtime-selftest';

/**
 * One perl program for every probe; argv: probe name, then the probe's arguments. Every step that
 * protects the host dies on failure before the next one runs (no write happens unless the tmpfs is
 * really mounted in a private namespace).
 */
const PERL = String.raw`
use strict; use warnings; use Socket;
my %nr = map { split /=/ } split /,/, $ENV{KR_SYSCALLS};
my ($procs, $probe, @args) = @ARGV;
# Join the throwaway cgroup first: everything below happens "in the container".
open(my $cg, '>', $procs) or die "join cgroup: $!"; print $cg "$$\n"; close($cg) or die "join cgroup: $!";
sub sys { my $name = shift; my $r = syscall($nr{$name}, @_); return $r; }
sub private_mounts {
  sys('unshare', 0x20000) == 0 or die "unshare(CLONE_NEWNS): $!";
  my ($none, $root) = ('none', '/');
  sys('mount', $none, $root, 0, 0x40000 | 0x4000, 0) == 0 or die "make / rprivate: $!";
}
sub tmpfs_on {
  my ($dir) = @_;
  my $before = (stat($dir))[0];
  my ($src, $type, $opts) = ('${SELFTEST_FS_SOURCE}', 'tmpfs', 'size=64k,mode=0700');
  sys('mount', $src, $dir, $type, 0, $opts) == 0 or die "mount tmpfs on $dir: $!";
  my $after = (stat($dir))[0];
  die "tmpfs on $dir not in place: refusing to write" if !defined $after || $after == $before;
}
if ($probe eq 'exec') {
  exec('/bin/sh', '-c', 'id >/dev/null') or die "exec /bin/sh: $!";
} elsif ($probe eq 'mount') {
  private_mounts(); tmpfs_on($args[0]);
} elsif ($probe eq 'files') {
  # args: mode (write|read|both), then triples: mount dir, dirs to create (":"-joined), file.
  my $mode = shift @args;
  private_mounts();
  while (@args) {
    my ($mnt, $mk, $file) = splice(@args, 0, 3);
    tmpfs_on($mnt);
    for my $d (grep { length } split /:/, $mk) { mkdir($d, 0700) or die "mkdir $d: $!"; }
    open(my $w, '>', $file) or die "write $file: $!"; print $w "kyverno-runtime selftest\n"; close($w);
    if ($mode ne 'write') { open(my $r, '<', $file) or die "read $file: $!"; my $x = <$r>; close($r); }
  }
} elsif ($probe eq 'listen' || $probe eq 'accept') {
  socket(my $s, PF_INET, SOCK_STREAM, 0) or die "socket: $!";
  bind($s, pack_sockaddr_in(0, inet_aton('127.0.0.1'))) or die "bind: $!";
  listen($s, 1) or die "listen: $!";
  my ($port) = unpack_sockaddr_in(getsockname($s));
  socket(my $c, PF_INET, SOCK_STREAM, 0) or die "socket: $!";
  connect($c, pack_sockaddr_in($port, inet_aton('127.0.0.1'))) or die "loopback connect: $!";
  if ($probe eq 'accept') { accept(my $a, $s) or die "accept: $!"; close($a); }
  close($c); close($s);
} elsif ($probe eq 'connect') {
  sys('unshare', 0x40000000) == 0 or die "unshare(CLONE_NEWNET): $!";
  socket(my $s, PF_INET, SOCK_STREAM, 0) or die "socket: $!";
  # Fails at once (no interface, no route): the attempt is what the sensor sees; no packet can leave.
  connect($s, pack_sockaddr_in(${SELFTEST_CONNECT_PORT}, inet_aton('${SELFTEST_CONNECT_ADDR}')));
  close($s);
} elsif ($probe eq 'privilege') {
  # Effective uid nobody with root kept as real and saved uid, then the effective uid back to root:
  # the sensor reports the effective uid's change (65534 -> 0) after the call succeeded.
  sys('setresuid', 0, 65534, 0) == 0 or die "setresuid: $!";
  sys('setuid', 0) == 0 or die "setuid(0): $!";
} elsif ($probe eq 'ptrace') {
  my $pid = fork() // die "fork: $!";
  if ($pid == 0) { sleep 10; exit 0; }
  my $r = sys('ptrace', 16, $pid, 0, 0);
  waitpid($pid, 0x40000000) if $r == 0; # __WALL: wait for the attach stop
  sys('ptrace', 17, $pid, 0, 0) if $r == 0;
  kill('KILL', $pid); waitpid($pid, 0);
  die "ptrace attach: $!" if $r != 0;
} elsif ($probe eq 'namespace') {
  sys('unshare', 0x04000000) == 0 or die "unshare(CLONE_NEWUTS): $!";
} elsif ($probe eq 'bpf') {
  my $insns = pack('C8 C8', 0xb7, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0);
  my $license = "GPL\0";
  my $attr = pack('L L P P L L Q L', 1, 2, $insns, $license, 0, 0, 0, 0) . ("\0" x 76);
  my $fd = sys('bpf', 5, $attr, length($attr));
  POSIX::close($fd) if $fd >= 0 && eval { require POSIX; 1 };
} elsif ($probe eq 'module') {
  # An invalid fd: the kernel refuses before reading anything; the call itself is the event.
  my $empty = '';
  sys('finit_module', -1, $empty, 0);
} else { die "unknown probe $probe"; }
exit 0;
`;

export interface FileTarget {
  /** Directory the tmpfs goes on (exists on the host; hidden only inside the probe's namespace). */
  mountDir: string;
  /** Directories created inside the tmpfs before the file. */
  mkdirs: string[];
  file: string;
}

/**
 * Where to write and read so that a policy watching `prefix` sees it: the prefix itself for a file
 * prefix ("/etc/shadow"), a new file below it for a directory prefix ("/etc/"). The tmpfs goes on
 * the nearest existing directory, so missing directories are created inside it, never on the host.
 */
export function fileTargetFor(prefix: string): FileTarget {
  const file = prefix.endsWith('/') ? `${prefix}kyverno-runtime-selftest` : prefix;
  const mkdirs: string[] = [];
  let dir = dirname(file);
  while (dir !== '/' && !isDirectory(dir)) {
    mkdirs.unshift(dir);
    dir = dirname(dir);
  }
  return { mountDir: dir, mkdirs, file };
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** The first cgroup v2 mount point (/sys/fs/cgroup on unified hosts, …/unified on hybrid ones). */
export function cgroup2Root(mountinfo = '/proc/self/mountinfo'): string | undefined {
  let text: string;
  try {
    text = readFileSync(mountinfo, 'utf8');
  } catch {
    return undefined;
  }
  for (const line of text.split('\n')) {
    const [left, right] = line.split(' - ');
    if (right?.split(' ')[0] === 'cgroup2') return left?.split(' ')[4];
  }
  return undefined;
}

/** A throwaway cgroup laid out as the kubelet's cgroupfs driver does, below a scratch parent. */
export interface FakeContainer {
  /** Absolute directory (under the cgroup2 mount). */
  dir: string;
  /** The path as /proc/<pid>/cgroup shows it. */
  path: string;
  containerId: string;
  podUid: string;
  remove(): Promise<string | undefined>;
}

export function createFakeContainer(root: string): FakeContainer {
  const scratch = `kyverno-runtime-selftest-${process.pid}`;
  const podUid = randomUUID();
  const containerId = randomBytes(32).toString('hex');
  const parts = [scratch, 'kubepods', 'besteffort', `pod${podUid}`, containerId];
  const dir = join(root, ...parts);
  mkdirSync(dir, { recursive: true });
  return {
    dir,
    path: `/${parts.join('/')}`,
    containerId,
    podUid,
    /** Removes the cgroups (deepest first); returns what could not be removed, if anything. */
    async remove() {
      for (let attempt = 0; attempt < 50; attempt++) {
        try {
          for (let i = parts.length; i > 0; i--) {
            const d = join(root, ...parts.slice(0, i));
            if (existsSync(d)) rmdirSync(d);
          }
          return undefined;
        } catch {
          // A probe's process is still exiting: its cgroup is busy for a moment.
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      return join(root, scratch);
    },
  };
}

export interface ProbeRun {
  behavior: Behavior;
  /** Wall-clock ms when the probe process was started. */
  startedAt: number;
  pid?: number;
  /** perl's complaint when the probe could not do its part. */
  error?: string;
}

/** Runs one probe to its end (bounded: a probe that hangs is killed). */
export function runProbe(
  behavior: Behavior,
  procsFile: string,
  probe: string,
  args: string[],
  syscalls: Record<string, number>,
  timeoutMs = 10_000,
): Promise<ProbeRun> {
  return new Promise((resolve) => {
    const startedAt = Date.now();
    const child = spawn('perl', ['-e', PERL, procsFile, probe, ...args], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: {
        PATH: '/usr/sbin:/usr/bin:/sbin:/bin',
        KR_SYSCALLS: Object.entries(syscalls)
          .map(([k, v]) => `${k}=${v}`)
          .join(','),
      },
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      if (stderr.length < 2000) stderr += d.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      resolve({ behavior, startedAt, error: err.message });
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const run: ProbeRun = { behavior, startedAt, pid: child.pid };
      if (code !== 0) run.error = stderr.trim().split('\n')[0] || `exit ${String(code ?? signal)}`;
      resolve(run);
    });
  });
}
