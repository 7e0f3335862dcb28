import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BEHAVIORS, type Behavior } from '../../../src/events/types.js';
import { generateProgram, prefixCondition } from '../../../src/sources/sensor/program.js';

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
    'syscalls:sys_enter_mount',
    'syscalls:sys_enter_move_mount',
    'syscalls:sys_enter_fsmount',
    'syscalls:sys_enter_open_tree',
  ]);
  assert.deepEqual(gen(['process-exec']).probes, ['sched:sched_process_exec']);
  assert.deepEqual(gen(['network-connect']).probes, ['syscalls:sys_enter_connect']);
  assert.deepEqual(gen(['network-listen']).probes, ['syscalls:sys_enter_bind', 'syscalls:sys_enter_listen']);
  assert.deepEqual(gen(['bpf-load']).probes, ['syscalls:sys_enter_bpf']);
  assert.deepEqual(gen([]).probes, []);
  assert.deepEqual(gen(['alert']).probes, []);
});

test('every program skips our own pid and bpftrace itself, and signals readiness from BEGIN', () => {
  const p = gen(['process-exec', 'ptrace']);
  assert.match(p.source, /BEGIN \{ @bpftrace_pid = pid; printf\("R\\n"\); \}/);
  const predicates = p.source.split('\n').filter((l) => l.startsWith('tracepoint:'));
  assert.equal(predicates.length, 2);
  for (const l of predicates) assert.match(l, /\/pid != 4242 && pid != @bpftrace_pid/);
});

test('bpf-load only sees BPF_PROG_LOAD', () => {
  assert.match(
    gen(['bpf-load']).source,
    /sys_enter_bpf \/pid != 4242 && pid != @bpftrace_pid && args->cmd == 5\//,
  );
});

test('file-write without prefixes watches every write-flagged open; reads are not watched', () => {
  const p = gen(['file-write']);
  assert.ok(p.probes.includes('syscalls:sys_enter_openat'));
  assert.ok(p.probes.includes('syscalls:sys_enter_unlinkat'));
  assert.ok(p.probes.includes('syscalls:sys_enter_renameat2'));
  assert.match(p.source, /if \(\(\$f & 579\) != 0\)/); // O_WRONLY|O_RDWR|O_CREAT|O_TRUNC
  assert.doesNotMatch(p.source, /strncmp/);
});

test('file-read needs prefixes; with them both opens are filtered in the kernel by prefix', () => {
  const none = gen(['file-read']);
  assert.deepEqual(none.probes, []);
  assert.equal(none.unsupported[0]?.behavior, 'file-read');
  const p = gen(['file-read'], ['/etc/']);
  assert.deepEqual(p.probes, ['syscalls:sys_enter_openat', 'syscalls:sys_enter_openat2']);
  assert.match(p.source, /!\(\(\$f & 579\) != 0\)/);
  assert.match(p.source, /strncmp\(str\(args->filename, 6\), "\/etc\/", 5\) == 0/);
  // Relative paths pass (resolved in user space).
  assert.match(p.source, /strncmp\(str\(args->filename, 2\), "\/", 1\) != 0/);
});

test('prefix filters escape quotes, refuse non-printable prefixes and respect the stack budget', () => {
  assert.match(prefixCondition('p', ['/a"b']) ?? '', /"\/a\\"b"/);
  assert.equal(prefixCondition('p', ['/tmp/\n']), undefined);
  assert.equal(prefixCondition('p', []), undefined);
  const many = Array.from({ length: 8 }, (_, i) => `/very/long/prefix/number/${i}/`);
  assert.equal(prefixCondition('p', many), undefined, 'too many long prefixes: no kernel filter');
});

test('a behavior no tracepoint on this kernel can see is reported, not silently dropped', () => {
  const exists = (n: string): boolean => !n.includes('module');
  const p = gen(['module-load', 'ptrace'], [], exists);
  assert.deepEqual(p.probes, ['syscalls:sys_enter_ptrace']);
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
