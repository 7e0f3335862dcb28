/**
 * An open whose dentry walk was cut: /proc's fd link may name the file, but only when it agrees with
 * what the kernel sent (a closed descriptor can be reused for another file by the time /proc is
 * read). A path too deep to resolve that nothing else names is reported below each watched prefix.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  EventBuilder,
  RecordKind,
  TRUNCATED_MARK,
  type BuildResult,
  type ProcessView,
  type SensorRecord,
} from '../../../src/events/adapters/bpftrace.js';

const O_WRONLY_CREAT = 0x1 | 0x40;

function builder(links: Record<string, string>, prefixes: string[]): EventBuilder {
  const view: ProcessView = {
    link: (pid, name) => links[`${pid}/${name}`],
    cmdline: () => ['w'],
    cgroup: () => ({}),
  };
  return new EventBuilder({
    node: 'n',
    clock: { wallNs: (ns) => BigInt(ns) },
    bootId: 'b',
    processes: view,
    filePathPrefixes: prefixes,
  });
}

function open(resolved: NonNullable<SensorRecord['resolved']>): SensorRecord {
  return {
    kind: RecordKind.open,
    tid: 7,
    pid: 7,
    ppid: 1,
    uid: 0,
    nsecs: 5,
    cgroupId: 1,
    startBootNs: 100,
    execId: 1,
    comm: 'w',
    fields: [O_WRONLY_CREAT, 3, 40, 1, 0],
    strings: [],
    resolved,
  };
}

const deep = (tail: string): NonNullable<SensorRecord['resolved']> => ({
  path: `${TRUNCATED_MARK}${tail}`,
  complete: false,
  outsideRoot: false,
  truncated: true,
});

const paths = (b: BuildResult): string[] =>
  'event' in b ? [b.event, ...(b.also ?? [])].map((e) => e.file?.path ?? '') : [];

test('a too-deep path nothing names is reported below each watched prefix, with distinct ids', () => {
  const built = builder({}, ['/etc/', '/root/.ssh/']).build(open(deep('/d8/d9/x')));
  assert.deepEqual(paths(built), ['/etc/…/d8/d9/x', '/root/.ssh/…/d8/d9/x']);
  assert.ok('event' in built && built.unresolvedPath === true);
  if ('event' in built) {
    const ids = [built.event, ...(built.also ?? [])].map((e) => e.id);
    assert.equal(new Set(ids).size, 2);
    assert.deepEqual(built.event.raw, {
      kind: 'open',
      tid: 7,
      comm: 'w',
      nsecs: 5,
      flags: O_WRONLY_CREAT,
      fd: 3,
      pathTruncated: true,
      pathUnresolved: true,
    });
  }
});

test('a too-deep path whose fd link ends with the known components takes the link, once', () => {
  const built = builder({ '7/fd/3': '/etc/a/b/d8/d9/x' }, ['/etc/', '/root/.ssh/']).build(
    open(deep('/d8/d9/x')),
  );
  assert.deepEqual(paths(built), ['/etc/a/b/d8/d9/x']);
  assert.ok('event' in built && built.unresolvedPath === undefined);
});

test('a too-deep path whose fd now names another file is not taken for that file', () => {
  const built = builder({ '7/fd/3': '/tmp/innocent' }, ['/etc/']).build(open(deep('/d8/d9/x')));
  assert.deepEqual(paths(built), ['/etc/…/d8/d9/x']);
});

test('a too-deep path without watched prefixes keeps the known components under "/…"', () => {
  assert.deepEqual(paths(builder({}, []).build(open(deep('/d8/d9/x')))), ['/…/d8/d9/x']);
});

test('a walk that reached the root but lost a component keeps its top when the fd link disagrees', () => {
  const cut = { path: '/etc/' + 'n'.repeat(199), complete: false, outsideRoot: false };
  // The link names a file outside the prefixes (the descriptor was reused): the kernel's top wins.
  assert.deepEqual(paths(builder({ '7/fd/3': '/tmp/other' }, ['/etc/']).build(open(cut))), [cut.path]);
  // The link agrees on the prefix: it is taken (it has the whole name).
  const whole = '/etc/' + 'n'.repeat(240);
  assert.deepEqual(paths(builder({ '7/fd/3': whole }, ['/etc/']).build(open(cut))), [whole]);
});
