/**
 * Mount events say what happened: a real bpftrace sensor watches real mount(2) calls made in a
 * private mount namespace (nothing leaks to the host), and each event carries the kind the kernel
 * acts on — a new filesystem, a bind, a remount, a move, or a mere propagation change — and the
 * flag names. `unshare -m` alone is a propagation change and the shipped volume-mount policy stays
 * quiet on it, while a tmpfs mount fires.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createRuntimeEngine } from '../../../src/engine/runtime/index.js';
import type { RuntimeEvent } from '../../../src/events/types.js';
import { loadPolicies } from '../../../src/policy/index.js';
import { mountFlagNames, mountKind } from '../../../src/events/adapters/bpftrace.js';
import { BpftraceSensor } from '../../../src/sources/sensor/sensor.js';
import {
  EVENT_DEADLINE_MS,
  EventCollector,
  execFileP,
  sensorSkipReason,
  startTestSensor,
} from './helpers.js';

const MOUNT_SYSCALL: Partial<Record<string, number>> = { x64: 165, arm64: 40 };
const skip =
  sensorSkipReason() ??
  (MOUNT_SYSCALL[process.arch] === undefined ? `mount syscall number unknown on ${process.arch}` : undefined);

const MS = {
  RDONLY: 0x1,
  REMOUNT: 0x20,
  BIND: 0x1000,
  MOVE: 0x2000,
  REC: 0x4000,
  UNBINDABLE: 0x20000,
  PRIVATE: 0x40000,
  SLAVE: 0x80000,
  SHARED: 0x100000,
  MGC_VAL: 0xc0ed0000,
};

test('mount flags decode to the kind the kernel acts on, in its order of precedence', () => {
  assert.equal(mountKind(0), 'filesystem');
  assert.equal(mountKind(MS.RDONLY), 'filesystem');
  assert.equal(mountKind(MS.BIND), 'bind');
  assert.equal(mountKind(MS.BIND | MS.REC), 'bind');
  assert.equal(mountKind(MS.REMOUNT | MS.BIND | MS.RDONLY), 'remount');
  assert.equal(mountKind(MS.REMOUNT), 'remount');
  assert.equal(mountKind(MS.MOVE), 'move');
  for (const p of [MS.PRIVATE, MS.SHARED, MS.SLAVE, MS.UNBINDABLE]) {
    assert.equal(mountKind(p), 'propagation');
    assert.equal(mountKind(p | MS.REC), 'propagation');
  }
  // The legacy magic in the high bits is not a flag; other high bits are shown as hex.
  assert.equal(mountKind(MS.MGC_VAL), 'filesystem');
  assert.deepEqual(mountFlagNames(MS.MGC_VAL | MS.RDONLY), ['ro']);
  // Only the exact magic is discarded (as the kernel does): other high bits are flags.
  assert.equal(mountKind((MS.MGC_VAL | MS.SHARED) >>> 0), 'propagation');
  assert.deepEqual(mountFlagNames(0x200000 | MS.RDONLY), ['ro', 'relatime']);
  assert.deepEqual(mountFlagNames(0x4000000), ['0x4000000']);
  assert.deepEqual(mountFlagNames(Number.NaN), []);
});

describe('mount kinds on real syscalls', { skip }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'kr-mount-kinds-'));
  const collector = new EventCollector();
  let sensor: BpftraceSensor;

  before(async () => {
    sensor = await startTestSensor(['volume-mount'] as const, [], collector);
  });

  after(async () => {
    await sensor.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const mountOn = (target: string): Promise<RuntimeEvent> =>
    collector.waitFor(
      (x) => x.behavior === 'volume-mount' && x.mount?.target === target,
      EVENT_DEADLINE_MS,
      `mount on ${target}`,
    );

  test('filesystem, propagation, bind, remount and move mounts are told apart', async () => {
    const names = ['fs', 'private', 'shared-rec', 'slave', 'unbindable', 'bind', 'robind', 'moved'];
    const t = Object.fromEntries(names.map((n) => [n, join(dir, n)]));
    for (const p of Object.values(t)) mkdirSync(p);
    const nr = MOUNT_SYSCALL[process.arch] ?? 0;
    // perl-base is always on Debian; its syscall() passes strings as pointers (from variables) and 0 as NULL.
    const script = `
      my ($nr, $fs, $priv, $shared, $slave, $unb, $bind, $robind, $moved) = @ARGV;
      sub mnt { my ($s, $t, $ty, $f) = @_; syscall($nr, $s, $t, $ty, $f, 0) == 0 or die "mount $t: $!"; }
      my ($tmpfs, $none) = ("tmpfs", "none");
      mnt("kr-kinds", $fs, $tmpfs, 0);
      mnt($none, $fs, 0, ${MS.PRIVATE});
      mnt($none, $fs, 0, ${MS.SHARED | MS.REC});
      mnt($none, $fs, 0, ${MS.SLAVE});
      mnt($none, $fs, 0, ${MS.UNBINDABLE});
      mnt($none, $fs, 0, ${MS.PRIVATE});
      mnt($fs, $bind, 0, ${MS.BIND});
      mnt($none, $bind, 0, ${MS.REMOUNT | MS.BIND | MS.RDONLY});
      mnt($bind, $moved, 0, ${MS.MOVE});`;
    // A private mount namespace: the tmpfs and binds never reach the host's mount table.
    await execFileP('unshare', [
      '-m',
      '--propagation',
      'private',
      'perl',
      '-e',
      script,
      String(nr),
      t.fs!,
      t.private!,
      t['shared-rec']!,
      t.slave!,
      t.unbindable!,
      t.bind!,
      t.robind!,
      t.moved!,
    ]);

    const events = async (target: string, n: number): Promise<RuntimeEvent[]> => {
      await collector.waitFor(
        () => collector.events.filter((x) => x.mount?.target === target).length >= n,
        EVENT_DEADLINE_MS,
        `${n} mounts on ${target}`,
      );
      return collector.events.filter((x) => x.mount?.target === target);
    };
    const onFs = await events(t.fs!, 6);
    assert.deepEqual(
      onFs.map((e) => e.mount?.kind),
      ['filesystem', 'propagation', 'propagation', 'propagation', 'propagation', 'propagation'],
    );
    assert.deepEqual(onFs[0]?.mount, {
      kind: 'filesystem',
      target: t.fs,
      source: 'kr-kinds',
      fstype: 'tmpfs',
      flags: [],
    });
    // A propagation change attaches nothing: no source or fstype, only the flags.
    assert.deepEqual(onFs[1]?.mount, { kind: 'propagation', target: t.fs, flags: ['private'] });
    assert.deepEqual(onFs[2]?.mount?.flags, ['rec', 'shared']);
    assert.deepEqual(onFs[3]?.mount?.flags, ['slave']);
    assert.deepEqual(onFs[4]?.mount?.flags, ['unbindable']);

    const bind = await mountOn(t.bind!);
    assert.equal(bind.mount?.kind, 'bind');
    assert.equal(bind.mount?.source, t.fs);
    assert.equal(bind.mount?.fstype, undefined);
    const remount = (await events(t.bind!, 2))[1];
    assert.equal(remount?.mount?.kind, 'remount');
    assert.deepEqual(remount?.mount?.flags, ['ro', 'remount', 'bind']);
    const moved = await mountOn(t.moved!);
    assert.equal(moved.mount?.kind, 'move');
    assert.equal(moved.mount?.source, t.bind);
  });

  test('unshare -m alone is a propagation change: the shipped volume-mount policy does not fire; a tmpfs does', async () => {
    const engine = createRuntimeEngine(
      (await loadPolicies([resolve(import.meta.dirname, '../../../policies')])).policies,
      { nodeName: 'test-node' },
    );
    const target = join(dir, 'unshare-tmpfs');
    mkdirSync(target);
    const earlier = new Set(collector.events);
    await execFileP('unshare', ['-m', 'mount', '-t', 'tmpfs', 'kr-unshare', target]);
    const tmpfs = await mountOn(target);
    const fromUnshare = await collector.waitFor(
      (x) => !earlier.has(x) && x.mount?.target === '/' && /unshare$/.test(x.process?.binary ?? ''),
      EVENT_DEADLINE_MS,
      "unshare's propagation change on /",
    );
    assert.equal(fromUnshare.mount?.kind, 'propagation');
    assert.deepEqual(fromUnshare.mount?.flags, ['rec', 'private']);
    assert.deepEqual(engine.evaluate(fromUnshare), []);
    const fired = engine.evaluate(tmpfs);
    assert.deepEqual(
      fired.map((v) => `${v.policy}/${v.rule}`),
      ['restrict-volume-mount/host-mount'],
    );
    assert.doesNotMatch(fired[0]?.message ?? '', /null/);
    assert.match(fired[0]?.message ?? '', /tmpfs kr-unshare on /);
  });
});
