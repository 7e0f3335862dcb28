/**
 * The sensor's record mapping asks /proc for what no record carries (cwd, the parent's executable).
 * Those answers are reused per process for a short while instead of two readlinks per event; an exec
 * of the parent forgets its answer, and a process that was gone stays gone.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  EventBuilder,
  PROC_ANSWER_TTL_MS,
  RecordKind,
  type ProcessView,
  type SensorRecord,
} from '../../../src/events/adapters/bpftrace.js';

function countingView(answers: Record<string, string | undefined>): ProcessView & { reads: string[] } {
  const reads: string[] = [];
  return {
    reads,
    link: (pid, name) => {
      reads.push(`${pid}/${name}`);
      return answers[`${pid}/${name}`];
    },
    cmdline: () => ['app'],
    cgroup: () => ({}),
  };
}

const record = (kind: number, pid: number, ppid: number, nsecs: number, fields: number[]): SensorRecord => ({
  kind: kind as SensorRecord['kind'],
  tid: pid,
  pid,
  ppid,
  uid: 0,
  nsecs,
  cgroupId: 1,
  startBootNs: 1000 + pid,
  execId: 1,
  comm: 'app',
  fields,
  strings: [],
});
const connect = (pid: number, ppid: number, nsecs: number): SensorRecord =>
  record(RecordKind.connect, pid, ppid, nsecs, [3, 2, 0x5000, 0, 6]);

function builder(view: ProcessView): EventBuilder {
  return new EventBuilder({
    node: 'n',
    clock: { wallNs: (ns) => BigInt(ns) },
    bootId: 'b',
    processes: view,
  });
}

test('a busy process reads its cwd and its parent executable once, not once per event', () => {
  const view = countingView({ '10/cwd': '/srv', '9/exe': '/usr/bin/bash', '10/exe': '/usr/bin/app' });
  const b = builder(view);
  for (let i = 0; i < 100; i++) {
    const built = b.build(connect(10, 9, i));
    assert.ok('event' in built);
    assert.equal(built.event.process?.cwd, '/srv');
    assert.equal(built.event.parent?.binary, '/usr/bin/bash');
  }
  assert.equal(view.reads.filter((r) => r === '10/cwd').length, 1);
  assert.equal(view.reads.filter((r) => r === '9/exe').length, 1);
});

test('a gone process is asked once: its answer (nothing) is kept as well', () => {
  const view = countingView({});
  const b = builder(view);
  for (let i = 0; i < 20; i++) b.build(connect(11, 8, i));
  assert.equal(view.reads.filter((r) => r === '11/cwd').length, 1);
  assert.equal(view.reads.filter((r) => r === '8/exe').length, 1);
});

test("an exec of the parent forgets the parent's executable: the next event reads it again", () => {
  const view = countingView({ '9/exe': '/usr/bin/bash' });
  const b = builder(view);
  b.build(connect(10, 9, 1));
  view.reads.length = 0;
  // pid 9 runs another program (its exec record), then its child makes a call.
  b.build({ ...record(RecordKind.exec, 9, 1, 2, [9, 0, 0, 0, 0, 0, 0]), argv: ['/usr/bin/python3'] });
  b.build(connect(10, 9, 3));
  assert.ok(view.reads.includes('9/exe'));
});

test('answers older than the reuse window are read again', async () => {
  const view = countingView({ '10/cwd': '/srv' });
  const b = builder(view);
  b.build(connect(10, 9, 1));
  await new Promise((r) => setTimeout(r, PROC_ANSWER_TTL_MS + 50));
  b.build(connect(10, 9, 2));
  assert.equal(view.reads.filter((r) => r === '10/cwd').length, 2);
});
