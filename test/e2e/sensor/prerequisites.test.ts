import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ensureSensorPrerequisites,
  parseBpftraceVersion,
  PrerequisiteError,
  versionAtLeast,
} from '../../../src/sources/sensor/prerequisites.js';

test('bpftrace versions are parsed and compared with the 0.17 minimum', () => {
  assert.deepEqual(parseBpftraceVersion('bpftrace v0.17.0'), [0, 17, 0]);
  assert.deepEqual(parseBpftraceVersion('bpftrace v0.21.2-2'), [0, 21, 2]);
  assert.equal(parseBpftraceVersion('no version here'), undefined);
  assert.ok(versionAtLeast([0, 17, 0], [0, 17]));
  assert.ok(versionAtLeast([1, 0, 0], [0, 17]));
  assert.ok(!versionAtLeast([0, 16, 9], [0, 17]));
});

test('not root: a clear message, and nothing is installed or mounted', async () => {
  const announced: string[] = [];
  await assert.rejects(
    ensureSensorPrerequisites({ isRoot: false, install: true, announce: (m) => announced.push(m) }),
    (err: unknown) => {
      assert.ok(err instanceof PrerequisiteError);
      assert.match(err.message, /not running as root/);
      return true;
    },
  );
  assert.deepEqual(announced, []);
});

test(
  'as root on this machine (bpftrace, BTF, tracefs present) the host is usable',
  { skip: process.getuid?.() !== 0 ? 'needs root' : undefined },
  async () => {
    const host = await ensureSensorPrerequisites({ install: false });
    assert.match(host.version, /^bpftrace v\d/);
    assert.ok(host.tracepointExists('syscalls:sys_enter_connect'));
    assert.ok(!host.tracepointExists('syscalls:sys_enter_no_such_call'));
    assert.ok(!host.tracepointExists('../../etc:passwd'));
  },
);
