import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BEHAVIORS, type Behavior } from '../../../src/events/types.js';
import { capabilityLayoutOf, generateProgram, prefixCondition } from '../../../src/sources/sensor/program.js';

const all = (_name: string): boolean => true;
const gen = (behaviors: Behavior[], prefixes: string[] = [], exists = all) =>
  generateProgram({
    behaviors: new Set(behaviors),
    filePathPrefixes: prefixes,
    selfPid: 4242,
    tracepointExists: exists,
  });

test('only the probes the behaviors need are attached', () => {
  assert.deepEqual(gen(['volume-mount']).probes, [
    'sched:sched_process_exec',
    'sched:sched_process_exit',
    'syscalls:sys_enter_mount',
    'syscalls:sys_enter_move_mount',
    'syscalls:sys_enter_fsmount',
    'syscalls:sys_enter_open_tree',
  ]);
  assert.deepEqual(gen(['process-exec']).probes, ['sched:sched_process_exec']);
  assert.deepEqual(gen(['network-connect']).probes, [
    'sched:sched_process_exec',
    'sched:sched_process_exit',
    'syscalls:sys_enter_connect',
  ]);
  assert.deepEqual(gen(['network-connect', 'process-exec']).probes, [
    'sched:sched_process_exec',
    'syscalls:sys_enter_connect',
  ]);
  assert.deepEqual(gen(['network-listen']).probes, [
    'sched:sched_process_exec',
    'sched:sched_process_exit',
    'syscalls:sys_enter_bind',
    'syscalls:sys_enter_listen',
  ]);
  assert.deepEqual(gen(['bpf-load']).probes, [
    'sched:sched_process_exec',
    'sched:sched_process_exit',
    'syscalls:sys_enter_bpf',
  ]);
  assert.deepEqual(gen([]).probes, []);
  assert.deepEqual(gen(['alert']).probes, []);
});

test('every program skips our own pid and bpftrace itself, and signals readiness from BEGIN', () => {
  const p = gen(['process-exec', 'ptrace']);
  assert.match(p.source, /BEGIN \{ @bpftrace_pid = pid; printf\("R\\n"\); \}/);
  const predicates = p.source.split('\n').filter((l) => l.startsWith('tracepoint:'));
  // exec is three programs on one tracepoint (walk, head, strings: a 512-byte stack each), then ptrace.
  assert.equal(predicates.length, 4);
  assert.equal(predicates.filter((l) => l.startsWith('tracepoint:sched:sched_process_exec ')).length, 3);
  for (const l of predicates) assert.match(l, /\/pid != 4242 && pid != @bpftrace_pid/);
});

test('bpf-load only sees BPF_PROG_LOAD', () => {
  assert.match(
    gen(['bpf-load']).source,
    /sys_enter_bpf \/pid != 4242 && pid != @bpftrace_pid && args->cmd == 5\//,
  );
});

test('file-write without prefixes watches every write-flagged open at exit, by the resolved path', () => {
  const p = gen(['file-write']);
  assert.ok(p.probes.includes('syscalls:sys_enter_openat'));
  assert.ok(p.probes.includes('syscalls:sys_exit_openat'));
  assert.ok(p.probes.includes('syscalls:sys_enter_unlinkat'));
  assert.ok(p.probes.includes('syscalls:sys_enter_renameat2'));
  assert.match(p.source, /if \(\(\$f & 579\) != 0\)/); // O_WRONLY|O_RDWR|O_CREAT|O_TRUNC
  assert.match(p.source, /\$file->f_path\.dentry/);
  // No prefix: every successful open is kept, its whole path walked (limit = the walk bound), with
  // no component comparison in the kernel.
  assert.match(p.source, /\$keep = 0x4000000000000000 \| \(40 << 24\);/);
  assert.doesNotMatch(p.source, /\$w0/);
  assert.deepEqual(p.prefixDirs, []);
});

test('an open under a matched prefix is sent without the prefix directories the kernel compared', () => {
  const p = gen(['file-write'], ['/etc/', '/var/lib/kubelet/pods/']);
  assert.deepEqual(p.prefixDirs, [['etc'], ['var', 'lib', 'kubelet', 'pods']]);
  // Clause i + 1 in the second byte; the walk is limited to the components below the directories.
  assert.match(
    p.source,
    /else if \(\(\$w1 != 0 && str\(\$w0->d_name\.name, 5\) == "etc" && 1\)\) \{ \$keep = 0x4000000000000000 \| \(\(\$n - 1\) << 24\) \| \(\$n << 16\) \| \(1 << 8\) \| \$st; \}/,
  );
  assert.match(p.source, /\(\$n - 4\) << 24\) \| \(\$n << 16\) \| \(2 << 8\)/);
  // Too deep to judge: the whole path goes up, no clause.
  assert.match(p.source, /if \(\(\$st & 1\) != 0\) \{ \$keep = 0x4000000000000000 \| \(40 << 24\); \}/);
  assert.match(
    p.source,
    /\$n = 40 - \(\(\(@open_keep\[tid\] >> 24\) & 0xff\) - \(\(@open_keep\[tid\] >> 32\) & 1\)\);/,
  );
  assert.match(p.source, /if \(\$n >= 40\) \{ break; \}/);
});

test('the exec probe is always attached when anything is watched, never for nothing', () => {
  assert.ok(gen(['network-connect']).probes.includes('sched:sched_process_exec'));
  assert.deepEqual(gen([]).probes, []);
  assert.deepEqual(gen(['alert']).probes, []);
});

/** The programs attached to one tracepoint, in order. */
const programsOf = (source: string, tracepoint: string): string[] =>
  source.split(/^(?=tracepoint:|END )/m).filter((block) => block.startsWith(`tracepoint:${tracepoint} `));

test('without a process-exec policy an exec only marks the process; its first report sends its identity', () => {
  const p = gen(['file-write', 'network-connect'], ['/etc/']);
  const [exec, ...more] = programsOf(p.source, 'sched:sched_process_exec');
  assert.equal(more.length, 0);
  assert.match(exec ?? '', /@exec_pending\[pid\] = 1;/);
  assert.doesNotMatch(exec ?? '', /print/, 'an exec alone sends nothing to user space');
  // The mark is forgotten when the process exits without having reported anything.
  assert.match(
    programsOf(p.source, 'sched:sched_process_exit')[0] ?? '',
    /tid == pid\/ \{\n {2}delete\(@exec_pending\[pid\]\);/,
  );
  // An open sends the identity only when the path filter kept it, before its own components.
  const open = programsOf(p.source, 'syscalls:sys_exit_openat');
  assert.equal(open.length, 6);
  assert.match(
    open[1] ?? '',
    /if \(@exec_pending\[pid\] != 0 && @open_keep\[tid\] != 0\) \{\n {2}\$d = curtask->mm->exe_file->f_path\.dentry/,
  );
  assert.match(open[2] ?? '', /print\(\(6, tid, pid,/);
  assert.match(open[3] ?? '', /printf\("A %d %rx\\n"[^]*delete\(@exec_pending\[pid\]\);/);
  assert.match(open[4] ?? '', /if \(@open_keep\[tid\] != 0\)/);
  // A probe that prints at once sends a pending identity first; one that only stores sends none.
  const connect = programsOf(p.source, 'syscalls:sys_enter_connect');
  assert.equal(connect.length, 4);
  assert.match(connect[0] ?? '', /if \(@exec_pending\[pid\] != 0\) \{/);
  assert.equal(programsOf(p.source, 'syscalls:sys_enter_openat').length, 1);
});

test('with a process-exec policy every exec is sent as it happens, and nothing is deferred', () => {
  const p = gen(['file-write', 'process-exec'], ['/etc/']);
  assert.doesNotMatch(p.source, /@exec_pending/);
  assert.ok(!p.probes.includes('sched:sched_process_exit'));
  const exec = programsOf(p.source, 'sched:sched_process_exec');
  assert.equal(exec.length, 3);
  assert.match(exec[2] ?? '', /print\(\(0, tid, str\(args->filename\)\)\);/);
  assert.equal(programsOf(p.source, 'syscalls:sys_exit_openat').length, 3);
});

test('a set-user-id exec is sent at once without a process-exec policy; other execs wait', () => {
  const p = gen(['privilege-escalation']);
  const exec = programsOf(p.source, 'sched:sched_process_exec');
  assert.equal(exec.length, 4);
  assert.match(
    exec[0] ?? '',
    /if \(\$eb != 0 && \(\$eb & 0xffffffff\) != curtask->cred->euid\.val\) \{ @exec_raised\[tid\] = \$eb; \}/,
  );
  assert.match(exec[1] ?? '', /if \(@exec_raised\[tid\] != 0\)/);
  assert.match(exec[2] ?? '', /\$eb = @exec_raised\[tid\];/);
  assert.match(exec[3] ?? '', /delete\(@exec_pending\[pid\]\);/);
});

test('file-read needs prefixes; with them opens are filtered in the kernel on the resolved path', () => {
  const none = gen(['file-read']);
  assert.ok(!none.probes.includes('syscalls:sys_exit_openat'));
  assert.equal(none.unsupported[0]?.behavior, 'file-read');
  const p = gen(['file-read'], ['/etc/']);
  assert.ok(p.probes.includes('syscalls:sys_exit_openat2'));
  assert.match(p.source, /!\(\(\$f & 579\) != 0\)/);
  // The top component equals "etc" exactly, and some component lies below it.
  assert.match(p.source, /\$w1 != 0 && str\(\$w0->d_name\.name, 5\) == "etc" && 1/);
  // A path too deep to judge passes to user space.
  assert.match(p.source, /\(\$st & 1\) != 0/);
});

test('prefix filters escape quotes, refuse non-printable or relative prefixes and respect the stack budget', () => {
  assert.match(prefixCondition('$file', ['/a"b'])?.condition ?? '', /"a\\"b"/);
  assert.equal(prefixCondition('$file', ['/tmp/\n']), undefined);
  assert.equal(prefixCondition('$file', ['tmp/']), undefined);
  assert.equal(prefixCondition('$file', []), undefined);
  const many = Array.from({ length: 8 }, (_, i) => `/very/long/prefix/number/${i}/`);
  assert.equal(prefixCondition('$file', many), undefined, 'too many long prefixes: no kernel filter');
  assert.match(prefixCondition('$x', ['/etc/kr-ev'])?.setup ?? '', /\$x->f_path\.dentry/);
});

test('a behavior no tracepoint on this kernel can see is reported, not silently dropped', () => {
  const exists = (n: string): boolean => !n.includes('module');
  const p = gen(['module-load', 'ptrace'], [], exists);
  assert.deepEqual(p.probes, [
    'sched:sched_process_exec',
    'sched:sched_process_exit',
    'syscalls:sys_enter_ptrace',
  ]);
  assert.equal(p.unsupported.length, 1);
  assert.equal(p.unsupported[0]?.behavior, 'module-load');
  assert.match(p.unsupported[0]?.reason ?? '', /sys_enter_init_module/);
});

test('the program is deterministic and each tracepoint appears once', () => {
  const a = gen([...BEHAVIORS], ['/etc/']);
  const b = gen([...BEHAVIORS].reverse(), ['/etc/']);
  assert.equal(a.source, b.source);
  assert.equal(new Set(a.probes).size, a.probes.length);
});

test('capset is read at exit from the task credentials, in the layout of the running kernel', () => {
  const u64 = generateProgram({
    behaviors: new Set(['privilege-escalation']),
    filePathPrefixes: [],
    selfPid: 4242,
    tracepointExists: all,
    capabilityLayout: 'u64',
  });
  assert.ok(u64.probes.includes('syscalls:sys_exit_capset'));
  assert.match(u64.source, /sys_exit_capset[^}]*curtask->cred->cap_effective\.val/);
  const words = generateProgram({
    behaviors: new Set(['privilege-escalation']),
    filePathPrefixes: [],
    selfPid: 4242,
    tracepointExists: all,
    capabilityLayout: 'u32x2',
  });
  assert.match(words.source, /curtask->cred->cap_effective\.cap\[1\] << 32/);
  assert.doesNotMatch(words.source, /cap_effective\.val/);
  // Without an exit tracepoint capset is not watched at all (an entry-only record would report attempts).
  const noExit = gen(['privilege-escalation'], [], (n) => n !== 'syscalls:sys_exit_capset');
  assert.ok(!noExit.probes.some((p) => p.includes('capset')));
});

test('kernel_cap_t is one u64 from Linux 6.3, two u32 words before', () => {
  assert.equal(capabilityLayoutOf('6.18.44-fc-v1272'), 'u64');
  assert.equal(capabilityLayoutOf('6.3.0'), 'u64');
  assert.equal(capabilityLayoutOf('7.0.1'), 'u64');
  assert.equal(capabilityLayoutOf('6.2.16-300.fc38.x86_64'), 'u32x2');
  assert.equal(capabilityLayoutOf('5.15.0-105-generic'), 'u32x2');
});
