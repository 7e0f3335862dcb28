/**
 * The in-kernel kill, replayed with real processes against the real sensor (root, bpftrace):
 * - a shell that writes below a watched /etc prefix and then runs a second command is killed before
 *   the second command runs: the marker it would create does not exist;
 * - an exec of a binary a rule names by full path is killed before it runs; a binary whose path
 *   merely starts with that path is not (exact comparison in the kernel);
 * - a process that does nothing a rule names is untouched;
 * - the agent itself (any of its threads) and its direct children are never signalled, even when
 *   they do exactly what the rule forbids;
 * - the event carries enforced:true, its verdict's kill reports "killed in kernel" and sends nothing.
 * Every path is unique to this run (an /etc prefix no other process writes).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { randomBytes } from 'node:crypto';
import { LocalActionRunner } from '../../src/actions/local-runner.js';
import { createRuntimeEngine } from '../../src/engine/runtime/index.js';
import type { RuntimeEvent } from '../../src/events/types.js';
import { kernelKills } from '../../src/observability/metrics.js';
import { loadPolicies } from '../../src/policy/index.js';
import { BpftraceSensor } from '../../src/sources/sensor/sensor.js';
import { ensureSensorPrerequisites } from '../../src/sources/sensor/prerequisites.js';
import {
  ATTACH_DEADLINE_MS,
  EVENT_DEADLINE_MS,
  EventCollector,
  sensorSkipReason,
  whileCompilingBpftrace,
} from '../e2e/sensor/helpers.js';

const skip = sensorSkipReason();
const MOUNT_SYSCALL: Partial<Record<string, number>> = { x64: 165, arm64: 40 };

/** Runs `script` in a shell that is NOT a direct child of ours (direct children are protected). */
function grandchild(script: string): Promise<{ stdout: string }> {
  return new Promise((resolve, reject) => {
    const outer = spawn('sh', ['-c', `sh -c '${script}'; echo "inner=$?"`], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    outer.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    outer.on('error', reject);
    outer.on('close', () => resolve({ stdout }));
  });
}

describe('in-kernel kill', { skip }, () => {
  const tag = randomBytes(4).toString('hex');
  const etcPrefix = `/etc/kr-kk-${tag}`;
  const dir = mkdtempSync(join(tmpdir(), 'kr-kk-'));
  const victimBin = join(dir, 'victim');
  const lookalikeBin = join(dir, 'victim-not');
  const collector = new EventCollector();
  let sensor: BpftraceSensor;
  let engine: ReturnType<typeof createRuntimeEngine>;

  before(async () => {
    copyFileSync('/bin/true', victimBin);
    copyFileSync('/bin/true', lookalikeBin);
    const rule = (name: string, behavior: string, event: unknown): unknown => ({
      name,
      match: { any: [{ resources: { kinds: ['Pod', 'Node'] } }] },
      restrict: { behaviors: [behavior], pattern: { event }, actions: [{ kill: {} }] },
    });
    const policy = {
      apiVersion: 'runtime.kyverno.io/v1alpha1',
      kind: 'ClusterRuntimePolicy',
      metadata: { name: 'kk' },
      spec: {
        failureAction: 'Enforce',
        rules: [
          rule('etc-writes', 'file-write', { file: { path: `${etcPrefix}*` } }),
          rule('victim-exec', 'process-exec', { process: { binary: victimBin } }),
          rule('mounts', 'volume-mount', { mount: { target: `${dir}/mnt*` } }),
          rule('to-root', 'privilege-escalation', { privilege: { fromUid: '>0', toUid: 0 } }),
        ],
      },
    };
    const file = join(dir, 'policy.yaml');
    writeFileSync(file, JSON.stringify(policy));
    const loaded = await loadPolicies([file]);
    assert.deepEqual(loaded.errors, []);
    engine = createRuntimeEngine(loaded.policies, { nodeName: 'test-node' });
    const host = await ensureSensorPrerequisites({ install: false });
    sensor = new BpftraceSensor({
      bpftrace: host.bpftrace,
      tracepointExists: host.tracepointExists,
      hints: engine.sensorHints,
      node: 'test-node',
      attachTimeoutMs: ATTACH_DEADLINE_MS,
      enforcement: {},
    });
    assert.deepEqual(
      sensor.enforcement.rules.map((r) => [r.rule, r.path]),
      [
        ['etc-writes', 'kernel-kill'],
        ['victim-exec', 'kernel-kill'],
        ['mounts', 'kernel-kill'],
        ['to-root', 'kernel-kill'],
      ],
    );
    await whileCompilingBpftrace(() => sensor.start(collector.emit));
  });

  after(async () => {
    await sensor?.stop();
    rmSync(dir, { recursive: true, force: true });
    for (const suffix of ['', '-self', '-thread', '-child', '-x'])
      rmSync(`${etcPrefix}${suffix}`, { force: true });
  });

  test('a shell writing below the watched /etc prefix dies before its next command', async () => {
    const marker = join(dir, 'marker');
    const { stdout } = await grandchild(`echo x > ${etcPrefix}; touch ${marker}`);
    assert.match(stdout, /inner=137/, 'the shell was killed by SIGKILL');
    assert.equal(existsSync(marker), false, 'the command after the write never ran');
    const e = await collector.waitFor(
      (x) => x.behavior === 'file-write' && x.file?.path === etcPrefix,
      EVENT_DEADLINE_MS,
      'the write',
    );
    assert.equal(e.enforced, true);
    assert.equal((e.raw as { kernelKill?: unknown }).kernelKill, 'kk/etc-writes');
    const counted = (await kernelKills.get()).values.find(
      (v) => v.labels.policy === 'kk' && v.labels.rule === 'etc-writes',
    );
    assert.ok((counted?.value ?? 0) >= 1, 'kyverno_runtime_kernel_kills_total counts it');
  });

  test('its verdict carries enforced:true and the kill reports "killed in kernel" without signalling', async () => {
    const e = await collector.waitFor(
      (x) => x.behavior === 'file-write' && x.file?.path === etcPrefix,
      EVENT_DEADLINE_MS,
      'the write',
    );
    const [verdict] = engine.evaluate(e);
    assert.ok(verdict, 'the rule fires on the event');
    assert.equal(verdict.event.enforced, true);
    // A pid that is alive now (ours) in the event: a user-space kill would refuse or signal it; the
    // in-kernel outcome must not even look at it.
    const recycled: RuntimeEvent = { ...e, process: { ...e.process, pid: process.pid } };
    const runner = new LocalActionRunner({ ruleTargetsNode: () => true });
    const [outcome] = runner.run({ ...verdict, event: recycled }, { source: 'sensor', trustedForKill: true });
    assert.equal(outcome?.outcome, 'succeeded');
    assert.match(outcome?.detail ?? '', /^killed in kernel/);
  });

  test('an exec of the named binary is killed before it runs; a longer path is not', async () => {
    const killed = await grandchild(victimBin);
    assert.match(killed.stdout, /inner=137/);
    const e = await collector.waitFor(
      (x) => x.behavior === 'process-exec' && x.process?.binary === victimBin,
      EVENT_DEADLINE_MS,
      'the exec',
    );
    assert.equal(e.enforced, true);
    const spared = await grandchild(lookalikeBin);
    assert.match(spared.stdout, /inner=0/);
  });

  test(
    'a mount on a watched target kills the mounter before its next command',
    { skip: MOUNT_SYSCALL[process.arch] === undefined },
    async () => {
      mkdirSync(join(dir, 'mnt'), { recursive: true });
      const marker = join(dir, 'marker-mount');
      // The mounter itself goes on to create the marker (mount(8) would be a child of the shell). A
      // private mount namespace: the mount dies with the process, the host's table is untouched.
      const nr = MOUNT_SYSCALL[process.arch];
      const { stdout } = await grandchild(
        `unshare -m --propagation private perl -e "my (\\$s, \\$t, \\$f) = (q(none), q(${dir}/mnt), q(tmpfs)); syscall(${nr}, \\$s, \\$t, \\$f, 0, 0); open(F, q(>), q(${marker}))"`,
      );
      assert.match(stdout, /inner=137/);
      assert.equal(existsSync(marker), false);
    },
  );

  test('a non-root process asking for uid 0 is killed before it can use the answer', async () => {
    // Somewhere uid 65534 can write: without the kill, the marker would exist.
    const open = join(dir, 'open');
    mkdirSync(open);
    chmodSync(dir, 0o755);
    chmodSync(open, 0o777);
    const marker = join(open, 'marker-setuid');
    const { stdout } = await grandchild(
      `setpriv --reuid=65534 --regid=65534 --clear-groups perl -e "use POSIX; POSIX::setuid(0); open(F, q(>), q(${marker}))"`,
    );
    assert.match(stdout, /inner=137/);
    assert.equal(existsSync(marker), false);
    const e = await collector.waitFor(
      (x) => x.behavior === 'privilege-escalation' && x.privilege?.toUid === 0 && x.enforced === true,
      EVENT_DEADLINE_MS,
      'the setuid',
    );
    assert.equal((e.raw as { kernelKill?: unknown }).kernelKill, 'kk/to-root');
  });

  test('a process doing nothing a rule names is untouched', async () => {
    const other = join(dir, 'elsewhere');
    const marker = join(dir, 'marker-untouched');
    const { stdout } = await grandchild(`echo x > ${other}; touch ${marker}`);
    assert.match(stdout, /inner=0/);
    assert.equal(existsSync(marker), true);
  });

  test('the agent (a worker thread too) and its direct children are never signalled', async () => {
    // Ourselves, main thread: if the probe signalled us this test process would die.
    writeFileSync(`${etcPrefix}-self`, 'x');
    // Another thread of ours: its tid differs, its thread group is ours.
    await new Promise<void>((resolve, reject) => {
      const w = new Worker(
        `require('node:fs').writeFileSync(${JSON.stringify(`${etcPrefix}-thread`)}, 'x')`,
        {
          eval: true,
        },
      );
      w.once('error', reject);
      w.once('exit', () => resolve());
    });
    // A direct child (as bpftrace is): it survives and runs its next command.
    const marker = join(dir, 'marker-child');
    const code = await new Promise<number | null>((resolve) => {
      const c = spawn('sh', ['-c', `echo x > ${etcPrefix}-child; touch ${marker}`], { stdio: 'ignore' });
      c.once('close', (status) => resolve(status));
    });
    assert.equal(code, 0);
    assert.equal(existsSync(marker), true);
    assert.equal(existsSync(`${etcPrefix}-thread`), true);
  });
});
