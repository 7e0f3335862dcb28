/** The example policies `npm start` loads: valid, and each fires on the event it is about (and not on its look-alike). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { createRuntimeEngine } from '../../../src/engine/runtime/index.js';
import type { RuntimeEvent } from '../../../src/events/types.js';
import { loadPolicies } from '../../../src/policy/index.js';

const dir = resolve(import.meta.dirname, '../../../policies');

function ev(partial: Partial<RuntimeEvent> & Pick<RuntimeEvent, 'behavior'>): RuntimeEvent {
  return {
    id: `e-${Math.random()}`,
    time: '2026-11-26T12:00:00.000000000Z',
    source: 'bpftrace',
    node: 'host-1',
    process: { pid: 4321, uid: 1000, binary: '/usr/bin/tool', startTime: '1' },
    ...partial,
  };
}

test('the shipped policies load without errors, in Audit, and need the expected behaviors', async () => {
  const r = await loadPolicies([dir]);
  assert.deepEqual(r.errors, []);
  assert.equal(r.policies.length, 6);
  const engine = createRuntimeEngine(r.policies, { nodeName: 'host-1' });
  assert.ok(
    engine.policies.every((p) => p.mode === 'Audit'),
    'examples must default to Audit',
  );
  assert.deepEqual([...engine.sensorHints.behaviors].sort(), [
    'file-write',
    'module-load',
    'network-connect',
    'privilege-escalation',
    'process-exec',
    'volume-mount',
  ]);
  assert.deepEqual(engine.sensorHints.filePathPrefixes, ['/etc/']);
});

test('each example fires on its behavior and not on the look-alike', async () => {
  const engine = createRuntimeEngine((await loadPolicies([dir])).policies, { nodeName: 'host-1' });
  const fired = (e: RuntimeEvent): string[] => engine.evaluate(e).map((v) => `${v.policy}/${v.rule}`);

  assert.deepEqual(
    fired(ev({ behavior: 'volume-mount', mount: { target: '/mnt/x', fstype: 'tmpfs', source: 'x' } })),
    ['restrict-volume-mount/host-mount'],
  );
  assert.deepEqual(fired(ev({ behavior: 'privilege-escalation', privilege: { fromUid: 1000, toUid: 0 } })), [
    'setuid-to-root/no-setuid-root',
  ]);
  assert.deepEqual(
    fired(ev({ behavior: 'privilege-escalation', privilege: { fromUid: 0, toUid: 65534 } })),
    [],
  );
  assert.deepEqual(
    fired(ev({ behavior: 'network-connect', network: { family: 'ipv4', daddr: '10.1.2.3', dport: 4444 } })),
    ['unexpected-outbound-port/allowed-ports-only'],
  );
  assert.deepEqual(
    fired(ev({ behavior: 'network-connect', network: { family: 'ipv4', daddr: '10.1.2.3', dport: 443 } })),
    [],
  );
  assert.deepEqual(
    fired(ev({ behavior: 'network-connect', network: { family: 'ipv4', daddr: '127.0.0.1', dport: 4444 } })),
    [],
  );
  assert.deepEqual(fired(ev({ behavior: 'file-write', file: { path: '/etc/passwd', operation: 'write' } })), [
    'write-below-etc/no-etc-writes',
  ]);
  assert.deepEqual(
    fired(
      ev({
        behavior: 'file-write',
        process: { pid: 1, binary: '/usr/bin/dpkg' },
        file: { path: '/etc/x', operation: 'write' },
      }),
    ),
    [],
  );
  assert.deepEqual(fired(ev({ behavior: 'file-write', file: { path: '/tmp/x', operation: 'write' } })), []);
  assert.deepEqual(fired(ev({ behavior: 'module-load', module: { name: 'evil' } })), [
    'kernel-module-load/no-module-load',
  ]);
  // A shell on the host is normal; in a container it is not.
  assert.deepEqual(fired(ev({ behavior: 'process-exec', process: { pid: 9, binary: '/bin/bash' } })), []);
  const inPod = fired(
    ev({
      behavior: 'process-exec',
      process: { pid: 9, binary: '/bin/bash' },
      container: { id: 'c'.repeat(64), name: 'web' },
      pod: { namespace: 'shop', name: 'web-1', uid: '8c0f4b7a-1d2e-4f3a-9b8c-7d6e5f4a3b2c' },
    }),
  );
  assert.deepEqual(inPod, ['shell-in-container/no-shell-in-container']);
});

test('local mode without a cluster: a shell in a pod cgroup fires as a Pod, in a plain container on the Node; a host shell does not', async () => {
  const engine = createRuntimeEngine((await loadPolicies([dir])).policies, { nodeName: 'host-1' });
  const fired = (e: RuntimeEvent): string[] => engine.evaluate(e).map((v) => `${v.policy}/${v.rule}`);
  const shell = { pid: 9, binary: '/bin/sh', args: ['-c', 'id'] };
  // What the sensor gives for a process in a kubepods cgroup: container id and pod uid, no pod name
  // (a Pod is synthesised from the uid).
  assert.deepEqual(
    fired(
      ev({
        behavior: 'process-exec',
        process: shell,
        container: { id: 'a'.repeat(64) },
        pod: { uid: '8c0f4b7a-1d2e-4f3a-9b8c-7d6e5f4a3b2c' },
      }),
    ),
    ['shell-in-container/no-shell-in-container'],
  );
  // A container without a pod (plain Docker): no Pod to attribute it to, its cgroup names the container.
  assert.deepEqual(
    fired(ev({ behavior: 'process-exec', process: shell, container: { id: 'b'.repeat(64) } })),
    ['shell-in-container/no-shell-in-container-cgroup'],
  );
  assert.deepEqual(fired(ev({ behavior: 'process-exec', process: shell })), []);
  assert.deepEqual(
    fired(
      ev({
        behavior: 'process-exec',
        process: { pid: 9, binary: '/usr/bin/id' },
        container: { id: 'a'.repeat(64) },
      }),
    ),
    [],
  );
});

test('package management writing below /etc is quiet; the same write by anything else fires', async () => {
  const engine = createRuntimeEngine((await loadPolicies([dir])).policies, { nodeName: 'host-1' });
  const write = (binary: string, parent?: string): string[] =>
    engine
      .evaluate(
        ev({
          behavior: 'file-write',
          process: { pid: 7, binary },
          ...(parent !== undefined && { parent: { pid: 6, binary: parent } }),
          file: { path: '/etc/alternatives/editor', operation: 'rename' },
        }),
      )
      .map((v) => `${v.policy}/${v.rule}`);
  for (const quiet of [
    '/usr/bin/update-alternatives',
    '/usr/bin/deb-systemd-helper',
    '/usr/sbin/ldconfig',
    '/var/lib/dpkg/info/nano.postinst',
  ])
    assert.deepEqual(write(quiet), [], quiet);
  assert.deepEqual(write('/usr/bin/dash', '/usr/bin/dpkg'), [], 'a command run by dpkg');
  // Look-alikes elsewhere, and the same shell not run by dpkg, are reported.
  assert.deepEqual(write('/tmp/update-alternatives'), ['write-below-etc/no-etc-writes']);
  assert.deepEqual(write('/usr/bin/dash', '/usr/bin/bash'), ['write-below-etc/no-etc-writes']);
  assert.deepEqual(write('/usr/bin/dash'), ['write-below-etc/no-etc-writes'], 'parent unknown');
});

test('a mount propagation change is not a volume mount; a bind or remount is', async () => {
  const engine = createRuntimeEngine((await loadPolicies([dir])).policies, { nodeName: 'host-1' });
  const mount = (m: RuntimeEvent['mount']): string[] =>
    engine.evaluate(ev({ behavior: 'volume-mount', mount: m })).map((v) => v.message);
  assert.deepEqual(mount({ kind: 'propagation', target: '/', flags: ['rec', 'private'] }), []);
  assert.deepEqual(mount({ kind: 'bind', target: '/mnt', source: '/etc', flags: ['bind'] }), [
    '/usr/bin/tool mounted /etc on /mnt (bind)',
  ]);
  assert.deepEqual(mount({ kind: 'remount', target: '/', flags: ['remount'] }), [
    '/usr/bin/tool mounted none on / (remount)',
  ]);
  // Sources that do not say the kind are reported as before; nothing renders as "null".
  assert.deepEqual(mount({ target: '/mnt' }), ['/usr/bin/tool mounted none on /mnt (mount)']);
});
