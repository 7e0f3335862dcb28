import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCgroupPath, parseProcCgroup } from '../../../src/sources/sensor/cgroup.js';

const ID = '3f2a9c1b7d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8';
const UID = '8c0f4b7a-1d2e-4f3a-9b8c-7d6e5f4a3b2c';
const UID_ = UID.replace(/-/g, '_');

test('containerd under the systemd cgroup driver (cgroup v2)', () => {
  const path = `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UID_}.slice/cri-containerd-${ID}.scope`;
  assert.deepEqual(parseCgroupPath(path), { containerId: ID, runtime: 'containerd', podUid: UID });
});

test('CRI-O under systemd, guaranteed QoS; the conmon scope is not the container', () => {
  assert.deepEqual(parseCgroupPath(`/kubepods.slice/kubepods-pod${UID_}.slice/crio-${ID}.scope`), {
    containerId: ID,
    runtime: 'cri-o',
    podUid: UID,
  });
  const conmon = parseCgroupPath(`/kubepods.slice/kubepods-pod${UID_}.slice/crio-conmon-${ID}.scope`);
  assert.equal(conmon.containerId, undefined);
  assert.equal(conmon.podUid, UID);
});

test('cgroupfs driver (cgroup v1 and v2): /kubepods/<qos>/pod<uid>/<id>', () => {
  assert.deepEqual(parseCgroupPath(`/kubepods/besteffort/pod${UID}/${ID}`), {
    containerId: ID,
    runtime: 'unknown',
    podUid: UID,
  });
  assert.deepEqual(parseCgroupPath(`/kubepods/pod${UID}/${ID}`), {
    containerId: ID,
    runtime: 'unknown',
    podUid: UID,
  });
});

test('plain Docker: systemd scope and cgroupfs', () => {
  assert.deepEqual(parseCgroupPath(`/system.slice/docker-${ID}.scope`), {
    containerId: ID,
    runtime: 'docker',
  });
  assert.deepEqual(parseCgroupPath(`/docker/${ID}`), { containerId: ID, runtime: 'docker' });
});

test('containerd with cgroup v1 systemd driver (colon-separated leaf)', () => {
  const path = `/system.slice/containerd.service/kubepods-burstable-pod${UID_}.slice:cri-containerd:${ID}`;
  assert.deepEqual(parseCgroupPath(path), { containerId: ID, runtime: 'containerd', podUid: UID });
});

test('a process in a sub-cgroup of its container is still attributed to the container', () => {
  const path = `/kubepods.slice/kubepods-pod${UID_}.slice/cri-containerd-${ID}.scope/init.scope`;
  assert.equal(parseCgroupPath(path).containerId, ID);
});

test('host cgroups name no container or pod', () => {
  for (const p of [
    '/',
    '/system.slice/sshd.service',
    '/user.slice/user-0.slice/session-3.scope',
    '/init.scope',
  ]) {
    assert.deepEqual(parseCgroupPath(p), {}, p);
  }
  // A 63-hex leaf is not a container id.
  assert.deepEqual(parseCgroupPath(`/docker/${ID.slice(1)}`), {});
});

test('/proc/<pid>/cgroup: v1 hierarchies, the container line wins over the root v2 line', () => {
  const content = [
    '12:pids:/kubepods/burstable/pod' + UID + '/' + ID,
    '4:memory:/kubepods/burstable/pod' + UID + '/' + ID,
    '1:name=systemd:/kubepods/burstable/pod' + UID + '/' + ID,
    '0::/',
    '',
  ].join('\n');
  const id = parseProcCgroup(content);
  assert.equal(id.containerId, ID);
  assert.equal(id.podUid, UID);
  assert.equal(id.path, `/kubepods/burstable/pod${UID}/${ID}`);
});

test('/proc/<pid>/cgroup of a host process: the most specific (non-root) path is kept', () => {
  const id = parseProcCgroup('4:memory:/process_api/66b89526688f5ce99057d0ef384d8c57\n0::/\n');
  assert.equal(id.containerId, undefined);
  assert.equal(id.path, '/process_api/66b89526688f5ce99057d0ef384d8c57');
  assert.deepEqual(parseProcCgroup('0::/\n'), { path: '/' });
  assert.deepEqual(parseProcCgroup('0::/system.slice/cron.service\n'), {
    path: '/system.slice/cron.service',
  });
});
