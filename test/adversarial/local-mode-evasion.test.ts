/**
 * Attacks on local mode's defaults, replayed with real processes against the real sensor:
 * - riding an exception: write below a watched path, then exec a program the policy excuses (here
 *   `sleep` stands for dpkg/update-alternatives). The event must name the program that made the
 *   syscall, not the one /proc shows afterwards.
 * - hiding a mount behind propagation noise: a propagation change followed by a real bind mount in
 *   the same process; the bind is still a reported mount.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { createRuntimeEngine } from '../../src/engine/runtime/index.js';
import { loadPolicies } from '../../src/policy/index.js';
import { BpftraceSensor } from '../../src/sources/sensor/sensor.js';
import {
  EVENT_DEADLINE_MS,
  EventCollector,
  execFileP,
  sensorSkipReason,
  startTestSensor,
} from '../e2e/sensor/helpers.js';

const MOUNT_SYSCALL: Partial<Record<string, number>> = { x64: 165, arm64: 40 };
const skip =
  sensorSkipReason() ??
  (MOUNT_SYSCALL[process.arch] === undefined ? `mount syscall number unknown on ${process.arch}` : undefined);

describe('local mode evasion attempts', { skip }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'kr-adv-local-'));
  const watched = join(dir, 'etc') + '/';
  const collector = new EventCollector();
  let sensor: BpftraceSensor;

  before(async () => {
    mkdirSync(watched);
    // process-exec is not watched: the sensor has only /proc to name the binary.
    sensor = await startTestSensor(['file-write', 'volume-mount'] as const, [watched], collector);
  });

  after(async () => {
    await sensor.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('a write followed by an exec of an excused program is not attributed to that program', async () => {
    const target = join(watched, 'implant.conf');
    // Write, then become `sleep` at once (same pid): /proc now says /usr/bin/sleep.
    const child = spawn(
      'perl',
      ['-e', 'open(my $f, ">", $ARGV[0]) or die; close($f); exec("/usr/bin/sleep", "5")', target],
      { stdio: 'ignore' },
    );
    try {
      const e = await collector.waitFor(
        (x) => x.behavior === 'file-write' && x.file?.path === target,
        EVENT_DEADLINE_MS,
        'the write',
      );
      assert.notEqual(e.process?.binary, '/usr/bin/sleep');
      assert.match(e.process?.binary ?? '', /perl$/);
      // A policy excusing `sleep` still fires on it.
      const policy = {
        apiVersion: 'runtime.kyverno.io/v1alpha1',
        kind: 'ClusterRuntimePolicy',
        metadata: { name: 'no-writes' },
        spec: {
          rules: [
            {
              name: 'r',
              match: { any: [{ resources: { kinds: ['Node'] } }] },
              restrict: {
                message: 'w',
                behaviors: ['file-write'],
                conditions: {
                  all: [
                    { key: '{{ event.process.binary }}', operator: 'AnyNotIn', value: ['/usr/bin/sleep'] },
                  ],
                },
              },
            },
          ],
        },
      };
      const file = join(dir, 'p.yaml');
      writeFileSync(file, JSON.stringify(policy));
      const engine = createRuntimeEngine((await loadPolicies([file])).policies, { nodeName: 'test-node' });
      assert.equal(engine.evaluate(e).length, 1);
    } finally {
      child.kill();
    }
  });

  test('a bind mount after a propagation change in the same process is still a reported mount', async () => {
    const src = join(dir, 'bind-src');
    const dst = join(dir, 'bind-dst');
    mkdirSync(src);
    mkdirSync(dst);
    await execFileP('unshare', ['-m', '--propagation', 'private', 'mount', '--bind', src, dst]);
    const bind = await collector.waitFor(
      (x) => x.behavior === 'volume-mount' && x.mount?.target === dst,
      EVENT_DEADLINE_MS,
      'the bind mount',
    );
    assert.equal(bind.mount?.kind, 'bind');
    assert.equal(bind.mount?.source, src);
    const shipped = createRuntimeEngine(
      (await loadPolicies([join(import.meta.dirname, '../../policies')])).policies,
      { nodeName: 'test-node' },
    );
    assert.deepEqual(
      shipped.evaluate(bind).map((v) => `${v.policy}/${v.rule}`),
      ['restrict-volume-mount/host-mount'],
    );
  });
});
