/**
 * Evasions of the built-in sensor, replayed with real processes and real syscalls:
 * - a write below a watched directory under another name: symlink, `//`, `/./`, `..`, a relative
 *   path from cwd, `./x`, a dirfd; the sensor reports the path the kernel opened, and its in-kernel
 *   filter acts on that path;
 * - identity after execve: a program started through runuser is reported as itself, with and
 *   without a process-exec policy;
 * - credentials: a refused setuid(0) says failed, an effective-uid escalation reads from → to
 *   effective uid, a set-user-id binary run by nobody is a privilege raise;
 * - a process in a kubepods cgroup without a cluster is attributed to a Pod.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  rmdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createRuntimeEngine } from '../../src/engine/runtime/index.js';
import { loadPolicies } from '../../src/policy/index.js';
import type { RuntimeEvent } from '../../src/events/types.js';
import { BpftraceSensor } from '../../src/sources/sensor/sensor.js';
import {
  EVENT_DEADLINE_MS,
  EventCollector,
  execFileP,
  sensorSkipReason,
  startTestSensor,
} from '../e2e/sensor/helpers.js';

const skip = sensorSkipReason();

const sh = (script: string, cwd?: string) => execFileP('/bin/sh', ['-c', script], cwd ? { cwd } : {});

describe('sensor accuracy: resolved paths, identity after exec, credentials', { skip }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'kr-adv-acc-'));
  const etc = join(dir, 'etc');
  const collector = new EventCollector();
  let sensor: BpftraceSensor;
  const written = (path: string) => (e: RuntimeEvent) => e.behavior === 'file-write' && e.file?.path === path;

  before(async () => {
    mkdirSync(etc);
    mkdirSync(join(dir, 'tmp'));
    symlinkSync(etc, join(dir, 'link-to-etc'));
    // No process-exec: identities are still learnt from exec.
    sensor = await startTestSensor(['file-write', 'privilege-escalation'], [`${etc}/kr-ev`], collector);
  });

  after(async () => {
    await sensor.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const evasions: [string, (target: string) => Promise<unknown>][] = [
    ['a symlink to the directory', () => sh(`echo x > ${dir}/link-to-etc/kr-ev-symlink`)],
    ['a doubled slash', () => sh(`echo x > /${dir}//etc//kr-ev-double`)],
    ['a /./ component', () => sh(`echo x > ${dir}/./etc/./kr-ev-dot`)],
    ['a .. component', () => sh(`echo x > ${dir}/tmp/../etc/kr-ev-dotdot`)],
    ['a relative path from cwd', () => sh('echo x > kr-ev-relative', etc)],
    ['./name from cwd', () => sh('echo x > ./kr-ev-dotslash', etc)],
  ];
  const names = ['symlink', 'double', 'dot', 'dotdot', 'relative', 'dotslash'];
  evasions.forEach(([what, run], i) => {
    test(`a write through ${what} is reported under the real directory`, async () => {
      const target = join(etc, `kr-ev-${names[i]}`);
      await run(target);
      const e = await collector.waitFor(written(target), EVENT_DEADLINE_MS, `write of ${target}`);
      assert.equal(e.file?.operation, 'create');
      assert.match(e.process?.binary ?? '', /^\/usr\/bin\/(da|ba)?sh$/, 'named after the shell that wrote');
    });
  });

  test(
    'a write through a dirfd (openat relative to a directory descriptor) is reported by its real path',
    {
      skip: process.arch === 'x64' ? undefined : 'openat is syscall 257 on x86-64 only',
    },
    async () => {
      const target = join(etc, 'kr-ev-dirfd');
      await execFileP('perl', [
        '-e',
        // perl's syscall() writes into string arguments: the name must be a variable, not a literal.
        'sysopen(my $d, $ARGV[0], 0x10000) or die "open dir: $!"; my $n = "kr-ev-dirfd"; my $fd = syscall(257, fileno($d), $n, 0x41, 0644); die "openat: $!" if $fd < 0;',
        join(dir, 'link-to-etc'),
      ]);
      await collector.waitFor(written(target), EVENT_DEADLINE_MS, 'dirfd write');
    },
  );

  test('a hard link is reported by the name used to open it', async () => {
    // The link is in the watched directory, the original elsewhere: writing through the link is
    // a write under the watched name.
    const original = join(dir, 'tmp', 'original');
    writeFileSync(original, 'x');
    await sh(`ln ${original} ${etc}/kr-ev-hardlink && echo y >> ${etc}/kr-ev-hardlink`);
    const e = await collector.waitFor(written(join(etc, 'kr-ev-hardlink')), EVENT_DEADLINE_MS, 'hard link');
    assert.equal(e.file?.operation, 'write');
  });

  test('file names of every length and in UTF-8 are reported exactly (short ones travel in the head)', async () => {
    // 24 bytes is the longest name the head carries; 25 goes as a component.
    const names = ['kr-ev-24-bytes-name-xxxx', 'kr-ev-25-bytes-name-xxxxx', 'kr-ev-é日本', 'kr-ev-"q"\\'];
    assert.equal(Buffer.byteLength(names[0]!), 24);
    await execFileP(
      '/usr/bin/touch',
      names.map((name) => join(etc, name)),
    );
    for (const name of names) {
      await collector.waitFor(written(join(etc, name)), EVENT_DEADLINE_MS, `write of ${name}`);
    }
  });

  test('a file bind-mounted under the watched directory is reported by its mount point, not its own name', async () => {
    const original = join(dir, 'tmp', 'bind-original');
    const target = join(etc, 'kr-ev-bind-target');
    writeFileSync(original, 'x');
    writeFileSync(target, '');
    await execFileP('mount', ['--bind', original, target]);
    try {
      await sh(`echo y >> ${target}`);
      const e = await collector.waitFor(written(target), EVENT_DEADLINE_MS, 'write through the bind mount');
      assert.equal(e.file?.operation, 'write');
    } finally {
      await execFileP('umount', [target]);
    }
  });

  test('writes outside the prefix are filtered, whatever name reaches them', async () => {
    await sh(`echo x > ${dir}/link-to-etc/other-file`);
    const marker = join(etc, 'kr-ev-after-other');
    await sh(`echo x > ${marker}`);
    await collector.waitFor(written(marker), EVENT_DEADLINE_MS, 'marker');
    assert.ok(!collector.events.some((e) => e.file?.path?.endsWith('/other-file')));
  });

  test('a program run through runuser is named as itself, not runuser (no process-exec policy)', async () => {
    const target = join(etc, 'kr-ev-runuser');
    await execFileP('runuser', ['-u', 'root', '--', '/usr/bin/touch', target]);
    const e = await collector.waitFor(written(target), EVENT_DEADLINE_MS, 'touch via runuser');
    assert.equal(e.process?.binary, '/usr/bin/touch');
    assert.ok(!collector.events.some((x) => x.behavior === 'process-exec'), 'exec events not emitted');
  });

  test('setuid(0) refused to nobody is reported as a failed attempt, not a change', async () => {
    await execFileP('setpriv', [
      '--reuid=65534',
      '--regid=65534',
      '--clear-groups',
      '--',
      'perl',
      '-e',
      'syscall(105, 0)',
    ]);
    const e = await collector.waitFor(
      (x) => x.privilege?.result === 'failed' && x.process?.uid === 65534,
      EVENT_DEADLINE_MS,
      'failed setuid',
    );
    assert.deepEqual(e.privilege, { fromUid: 65534, toUid: 0, result: 'failed' });
  });

  test('an effective-uid escalation (ruid 0, euid 1000 → 0) reads 1000 → 0, succeeded', async () => {
    await execFileP('perl', [
      '-e',
      'syscall(117, -1, 1000, -1) == 0 or die; syscall(117, -1, 0, -1) == 0 or die',
    ]);
    const e = await collector.waitFor(
      (x) => x.privilege?.fromUid === 1000 && x.privilege.toUid === 0,
      EVENT_DEADLINE_MS,
      'euid escalation',
    );
    assert.equal(e.privilege?.result, 'succeeded');
    assert.deepEqual((e.raw as { ruid?: number[] }).ruid, [0, 0]);
  });

  test('a set-user-id root binary run by nobody is a privilege raise 65534 → 0', async () => {
    const bin = join(dir, 'suid-id');
    copyFileSync('/usr/bin/id', bin);
    chmodSync(bin, 0o4755);
    chmodSync(dir, 0o755);
    const { stdout } = await execFileP('setpriv', [
      '--reuid=65534',
      '--regid=65534',
      '--clear-groups',
      '--',
      bin,
    ]);
    assert.match(stdout, /euid=0/);
    const e = await collector.waitFor(
      (x) => x.behavior === 'privilege-escalation' && x.process?.binary === bin,
      EVENT_DEADLINE_MS,
      'setuid exec',
    );
    assert.deepEqual(e.privilege, { fromUid: 65534, toUid: 0, result: 'succeeded' });
    assert.equal((e.raw as { reason?: string }).reason, 'setuid-exec');
  });
});

describe('sensor accuracy with a process-exec policy', { skip }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'kr-adv-acc2-'));
  const collector = new EventCollector();
  let sensor: BpftraceSensor;

  before(async () => {
    sensor = await startTestSensor(['file-write', 'process-exec'], [`${dir}/`], collector);
  });
  after(async () => {
    await sensor.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('exec events name the resolved executable; a write after runuser names the program', async () => {
    const link = join(dir, 'touch-link');
    symlinkSync('/usr/bin/touch', link);
    const target = join(dir, 'x');
    await execFileP('runuser', ['-u', 'root', '--', link, target]);
    const w = await collector.waitFor(
      (e) => e.behavior === 'file-write' && e.file?.path === target,
      EVENT_DEADLINE_MS,
      'write',
    );
    assert.equal(w.process?.binary, '/usr/bin/touch');
    const x = await collector.waitFor(
      (e) => e.behavior === 'process-exec' && (e.raw as { filename?: string }).filename === link,
      EVENT_DEADLINE_MS,
      'exec through the symlink',
    );
    assert.equal(x.process?.binary, '/usr/bin/touch');
  });
});

describe('identity of an exec no policy watches', { skip }, () => {
  // file-read on a private prefix: nothing else on the host reaches user space during these tests.
  const dir = mkdtempSync(join(tmpdir(), 'kr-adv-acc3-'));
  const file = join(dir, 'read-me');
  const collector = new EventCollector();
  let sensor: BpftraceSensor;

  before(async () => {
    writeFileSync(file, 'x\n');
    sensor = await startTestSensor(['file-read'], [`${dir}/`], collector);
  });
  after(async () => {
    await sensor.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('is sent with the first report of its process, however long after the exec', async () => {
    // dash reads the file itself (a builtin), 300 ms after it was exec'd.
    await sh(`sleep 0.3; read line < ${file}; exit 0`);
    const e = await collector.waitFor(
      (x) => x.behavior === 'file-read' && x.file?.path === file,
      EVENT_DEADLINE_MS,
      'read by the shell',
    );
    assert.match(e.process?.binary ?? '', /^\/usr\/bin\/(da|ba)?sh$/);
    assert.deepEqual(e.process?.args?.slice(0, 1), ['-c']);
  });

  test('an exec whose process reports nothing sends nothing to user space', async () => {
    const before = sensor.details().lines;
    // 1000 execs: sent as they happen, each would be six lines (three path components, head, name,
    // argv). The sensor sees the whole host: other processes' reports (a concurrent test's deep
    // paths, say) are in the count too, hence a bound of one line per exec, not zero.
    await sh('i=0; while [ $i -lt 1000 ]; do /usr/bin/true; i=$((i+1)); done');
    // One report afterwards: every line before it has been read once it arrives.
    await sh(`read line < ${file}; exit 0`);
    await collector.waitFor(
      (x) =>
        x.behavior === 'file-read' &&
        x.file?.path === file &&
        x.process?.args?.[1]?.startsWith('read') === true,
      EVENT_DEADLINE_MS,
      'the marker read',
    );
    const sent = sensor.details().lines - before;
    assert.ok(sent < 1000, `${sent} lines for 1000 unwatched execs and one read`);
  });
});

const CGROUP_ROOT = '/sys/fs/cgroup/unified';
const podSkip =
  skip ?? (existsSync(`${CGROUP_ROOT}/cgroup.procs`) ? undefined : 'no writable cgroup v2 hierarchy');

describe('a kubepods-cgroup process without a cluster', { skip: podSkip }, () => {
  const uid = 'd3adb33f-0000-4000-8000-00000000c0de';
  const id = 'c'.repeat(64);
  const podDir = `${CGROUP_ROOT}/kubepods.slice/kubepods-pod${uid.replace(/-/g, '_')}.slice`;
  const scope = `${podDir}/cri-containerd-${id}.scope`;
  const collector = new EventCollector();
  let sensor: BpftraceSensor;

  before(async () => {
    mkdirSync(scope, { recursive: true });
    sensor = await startTestSensor(['process-exec'], [], collector);
  });
  after(async () => {
    await sensor.stop();
    for (const d of [scope, podDir, `${CGROUP_ROOT}/kubepods.slice`]) {
      try {
        rmdirSync(d);
      } catch {
        // still in use by an exiting process: left for the next run
      }
    }
  });

  test('a shell started in the pod cgroup is attributed to a Pod and fires shell-in-container', async () => {
    // The child moves itself into the container's cgroup, then execs a shell.
    const child = spawn('/bin/sh', ['-c', `echo $$ > ${scope}/cgroup.procs && exec /bin/sh -c 'exit 0'`], {
      stdio: 'ignore',
    });
    await once(child, 'close');
    const e = await collector.waitFor(
      (x) => x.behavior === 'process-exec' && x.pod?.uid === uid,
      EVENT_DEADLINE_MS,
      'exec in the pod cgroup',
    );
    assert.equal(e.container?.id, id);
    const { policies } = await loadPolicies([
      join(import.meta.dirname, '../../policies/shell-in-container.yaml'),
    ]);
    const engine = createRuntimeEngine(policies, { nodeName: 'test-node' });
    const verdicts = engine.evaluate(e);
    assert.ok(verdicts.length > 0, 'the shipped shell-in-container policy fires');
    assert.equal(verdicts[0]?.resource.kind, 'Pod');
    assert.equal(verdicts[0]?.resource.uid, uid);
  });
});
