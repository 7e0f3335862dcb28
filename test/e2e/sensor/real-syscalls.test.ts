/**
 * The sensor against real syscalls: one bpftrace per file (it takes seconds to compile), child
 * processes doing each watched thing, and assertions on the RuntimeEvents it produces.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { checkSameProcess } from '../../../src/actions/kill.js';
import { BEHAVIORS } from '../../../src/events/types.js';
import { BpftraceSensor } from '../../../src/sources/sensor/sensor.js';
import { ensureSensorPrerequisites } from '../../../src/sources/sensor/prerequisites.js';
import {
  ATTACH_DEADLINE_MS,
  childrenOf,
  EVENT_DEADLINE_MS,
  EventCollector,
  execFileP,
  isAlive,
  nodeChild,
  sensorSkipReason,
  whileCompilingBpftrace,
} from './helpers.js';

const skip = sensorSkipReason();

describe('bpftrace sensor on real syscalls', { skip }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'kr-sensor-'));
  const watched = join(dir, 'watched') + '/';
  const collector = new EventCollector();
  let sensor: BpftraceSensor;
  let server: Server;
  let port = 0;

  before(async () => {
    mkdirSync(watched, { recursive: true });
    const host = await ensureSensorPrerequisites({ install: false });
    sensor = new BpftraceSensor({
      bpftrace: host.bpftrace,
      tracepointExists: host.tracepointExists,
      hints: { behaviors: new Set(BEHAVIORS), filePathPrefixes: [watched] },
      node: 'test-node',
      restartDelayMs: 100,
      attachTimeoutMs: ATTACH_DEADLINE_MS,
    });
    await whileCompilingBpftrace(() => sensor.start(collector.emit));
    server = createServer((s) => s.end());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as { port: number }).port;
  });

  after(async () => {
    await sensor.stop();
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('exec of a shell: process-exec with the resolved executable, args, ppid, start time', async () => {
    const marker = `kr-exec-${process.pid}`;
    // The binary is what the kernel loaded: /bin/sh through every symlink (dash on Debian).
    const shell = realpathSync('/bin/sh');
    const execStartedAt = Date.now();
    const { stdout } = await execFileP('/bin/sh', ['-c', `echo ${marker}`, 'arg-with\nnewline']);
    assert.equal(stdout.trim(), marker);
    const e = await collector.waitFor(
      (x) =>
        x.behavior === 'process-exec' &&
        x.process?.binary === shell &&
        x.process.args?.[1] === `echo ${marker}`,
      EVENT_DEADLINE_MS,
      `exec of /bin/sh (${shell})`,
    );
    assert.equal((e.raw as { filename?: unknown } | undefined)?.filename, '/bin/sh');
    assert.deepEqual(e.process?.args, ['-c', `echo ${marker}`, 'arg-with\nnewline']);
    assert.equal(e.parent?.pid, process.pid);
    assert.equal(e.source, 'bpftrace');
    assert.equal(e.node, 'test-node');
    assert.equal(e.process?.uid, 0);
    assert.match(e.process?.startTime ?? '', /^\d+$/);
    assert.match(e.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
    // Kernel timestamp converted to wall time: between starting the shell and receiving its event.
    // Bounded by causality rather than "close to now", so a slow machine cannot break it; the 1 s
    // slack covers the ms rounding of Date.now() and the monotonic→wall offset taken at start.
    const receivedAt = Date.now();
    const at = Date.parse(e.time);
    assert.ok(
      at >= execStartedAt - 1000 && at <= receivedAt + 1000,
      `time ${e.time} is outside [${new Date(execStartedAt).toISOString()}, ${new Date(receivedAt).toISOString()}]`,
    );
  });

  test("the event's start time identifies the process as /proc sees it (kill safety)", async () => {
    const child = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      const e = await collector.waitFor(
        (x) => x.behavior === 'process-exec' && x.process?.pid === child.pid,
        EVENT_DEADLINE_MS,
        'exec of sleep',
      );
      assert.deepEqual(checkSameProcess(child.pid!, e.process?.startTime ?? ''), { same: true });
    } finally {
      child.kill();
    }
  });

  test('mount of a tmpfs: volume-mount with target, fstype and source', async () => {
    const target = join(dir, 'mnt');
    mkdirSync(target);
    await execFileP('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'kr-test-tmpfs', target]);
    await execFileP('umount', [target]);
    const e = await collector.waitFor(
      (x) => x.behavior === 'volume-mount' && x.mount?.target === target,
      EVENT_DEADLINE_MS,
      'mount event',
    );
    assert.equal(e.mount?.fstype, 'tmpfs');
    assert.equal(e.mount?.source, 'kr-test-tmpfs');
    assert.match(e.process?.binary ?? '', /mount$/);
  });

  test('connect to loopback over IPv4 and IPv6: network-connect with address and port', async () => {
    const v6 = createServer((s) => s.end());
    await new Promise<void>((r) => v6.listen(0, '::1', r));
    const port6 = (v6.address() as { port: number }).port;
    const { pid } = await nodeChild(
      `const net=require('net');let n=0;const done=()=>{if(++n===2)process.exit(0)};` +
        `net.connect(${port},'127.0.0.1').on('close',done).on('error',done);` +
        `net.connect(${port6},'::1').on('close',done).on('error',done);`,
    );
    v6.close();
    const e4 = await collector.waitFor(
      (x) => x.behavior === 'network-connect' && x.process?.pid === pid && x.network?.family === 'ipv4',
      EVENT_DEADLINE_MS,
      'IPv4 connect',
    );
    assert.equal(e4.network?.daddr, '127.0.0.1');
    assert.equal(e4.network?.protocol, 'tcp');
    assert.equal(e4.network?.dport, port);
    const e6 = await collector.waitFor(
      (x) => x.behavior === 'network-connect' && x.process?.pid === pid && x.network?.family === 'ipv6',
      EVENT_DEADLINE_MS,
      'IPv6 connect',
    );
    assert.equal(e6.network?.daddr, '::1');
    assert.equal(e6.network?.dport, port6);
  });

  test('listen on a port: network-listen with the bound address', async () => {
    const { pid, stdout } = await nodeChild(
      `const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close();});`,
    );
    const e = await collector.waitFor(
      (x) => x.behavior === 'network-listen' && x.process?.pid === pid,
      EVENT_DEADLINE_MS,
      'listen event',
    );
    assert.equal(e.network?.saddr, '127.0.0.1');
    // node binds port 0 and the kernel picks one: the bound port is what bind(2) asked for.
    assert.ok(e.network?.sport === Number(stdout.trim()) || e.network?.sport === 0);
  });

  test('an accepted connection: network-accept with the server local and the client as the peer', async () => {
    const { pid, stdout } = await nodeChild(
      `const net=require('net');const s=net.createServer((c)=>{c.destroy();s.close();});` +
        `s.listen(0,'127.0.0.1',()=>{const p=s.address().port;const c=net.connect(p,'127.0.0.1',()=>{` +
        `console.log(p+' '+c.localPort);c.destroy();});});`,
    );
    const [serverPort, clientPort] = stdout.trim().split(' ').map(Number);
    const e = await collector.waitFor(
      (x) => x.behavior === 'network-accept' && x.process?.pid === pid,
      EVENT_DEADLINE_MS,
      'accept event',
    );
    assert.deepEqual(e.network, {
      family: 'ipv4',
      protocol: 'tcp',
      saddr: '127.0.0.1',
      sport: serverPort,
      daddr: '127.0.0.1',
      dport: clientPort,
    });
  });

  test('writes under a watched directory are reported; writes elsewhere are filtered', async () => {
    const inside = join(watched, 'secret.conf');
    const outside = join(dir, 'not-watched.txt');
    const { pid } = await nodeChild(
      `const fs=require('fs');fs.writeFileSync(process.argv[1],'x');fs.writeFileSync(process.argv[2],'y');` +
        `fs.renameSync(process.argv[1],process.argv[1]+'.new');fs.unlinkSync(process.argv[1]+'.new');`,
      [inside, outside],
    );
    const created = await collector.waitFor(
      (x) => x.behavior === 'file-write' && x.process?.pid === pid && x.file?.path === inside,
      EVENT_DEADLINE_MS,
      'write inside',
    );
    assert.equal(created.file?.operation, 'create');
    const renamed = await collector.waitFor(
      (x) => x.process?.pid === pid && x.file?.operation === 'rename',
      EVENT_DEADLINE_MS,
      'rename',
    );
    assert.equal(renamed.file?.path, `${inside}.new`);
    await collector.waitFor(
      (x) => x.process?.pid === pid && x.file?.operation === 'delete',
      EVENT_DEADLINE_MS,
      'unlink',
    );
    // A relative path is resolved against the process's cwd in user space, read from /proc while
    // the process lives: the writer stays until its event is seen (one that exits before the sensor
    // reads its record keeps the relative path, which a loaded machine makes likely).
    const writer = spawn(
      process.execPath,
      [
        '-e',
        `process.chdir(process.argv[1]);require('fs').writeFileSync('relative.txt','z');process.stdin.resume();`,
        watched,
      ],
      { stdio: ['pipe', 'ignore', 'inherit'] },
    );
    try {
      await collector.waitFor(
        (x) => x.process?.pid === writer.pid && x.file?.path === join(watched, 'relative.txt'),
        EVENT_DEADLINE_MS,
        'relative write',
      );
    } finally {
      writer.stdin.end(); // the writer reads stdin until it ends, then exits
      if (writer.exitCode === null && writer.signalCode === null) await once(writer, 'exit');
    }
    assert.ok(
      !collector.events.some((x) => x.file?.path === outside),
      'write outside the prefix was reported',
    );
  });

  test('reads of a watched path are file-read', async () => {
    const file = join(watched, 'read-me');
    await nodeChild(`require('fs').writeFileSync(process.argv[1],'r')`, [file]);
    const { pid } = await nodeChild(`require('fs').readFileSync(process.argv[1])`, [file]);
    const e = await collector.waitFor(
      (x) => x.behavior === 'file-read' && x.process?.pid === pid && x.file?.path === file,
      EVENT_DEADLINE_MS,
      'read',
    );
    assert.equal(e.file?.operation, 'read');
  });

  test('setuid to an unprivileged user: privilege-escalation with from/to uid', async () => {
    const { pid } = await nodeChild(`process.setgid(65534);process.setuid(65534);`);
    const e = await collector.waitFor(
      (x) => x.behavior === 'privilege-escalation' && x.process?.pid === pid && x.privilege?.toUid === 65534,
      EVENT_DEADLINE_MS,
      'setuid',
    );
    assert.equal(e.privilege?.fromUid, 0);
    // glibc makes every thread of node call setuid: still one event.
    await new Promise((r) => setTimeout(r, 300));
    const same = collector.events.filter((x) => x.process?.pid === pid && x.privilege?.toUid === 65534);
    assert.equal(same.length, 1);
  });

  test('unshare of a mount namespace: namespace-change', async () => {
    const { stdout } = await execFileP('unshare', ['--mount', '/bin/sh', '-c', 'echo $$']);
    const unsharePid = Number(stdout.trim());
    const e = await collector.waitFor(
      (x) => x.behavior === 'namespace-change' && x.process?.pid === unsharePid,
      EVENT_DEADLINE_MS,
      'unshare',
    );
    assert.deepEqual((e.raw as { namespaces: string[] }).namespaces, ['mnt']);
  });

  test('the sensor never reports itself or bpftrace', () => {
    const bpftracePid = sensor.pid;
    assert.ok(bpftracePid);
    assert.ok(
      !collector.events.some((e) => e.process?.pid === process.pid || e.process?.pid === bpftracePid),
    );
  });

  test('a killed bpftrace is restarted and events flow again', async () => {
    const first = sensor.pid!;
    await whileCompilingBpftrace(async () => {
      process.kill(first, 'SIGKILL');
      const deadline = Date.now() + ATTACH_DEADLINE_MS;
      while ((sensor.pid === first || sensor.stats().status !== 'running') && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
      }
    });
    assert.notEqual(sensor.pid, first);
    assert.equal(sensor.stats().status, 'running');
    assert.equal(sensor.details().restarts, 1);
    const marker = `kr-after-restart-${Date.now()}`;
    await execFileP('/bin/sh', ['-c', `true ${marker}`]);
    await collector.waitFor(
      (x) => x.process?.args?.includes(`true ${marker}`) ?? false,
      EVENT_DEADLINE_MS,
      'exec after restart',
    );
  });

  test('new hints regenerate the program only when behaviors change; no gap during the swap', async () => {
    const same = await sensor.updateHints({ behaviors: new Set(BEHAVIORS), filePathPrefixes: [watched] });
    assert.equal(same, false);
    const old = sensor.pid!;
    const changed = await whileCompilingBpftrace(() =>
      sensor.updateHints({ behaviors: new Set(['process-exec'] as const), filePathPrefixes: [] }),
    );
    assert.equal(changed, true);
    assert.notEqual(sensor.pid, old);
    assert.ok(!isAlive(old), 'the previous bpftrace is still running');
    assert.deepEqual(sensor.details().probes, ['sched:sched_process_exec']);
    const marker = `kr-after-swap-${Date.now()}`;
    await execFileP('/bin/sh', ['-c', `true ${marker}`]);
    await collector.waitFor(
      (x) => x.process?.args?.includes(`true ${marker}`) ?? false,
      EVENT_DEADLINE_MS,
      'exec after swap',
    );
  });

  test('stop detaches: no bpftrace process is left', async () => {
    const pid = sensor.pid!;
    await sensor.stop();
    assert.ok(!isAlive(pid), 'bpftrace still running after stop');
    assert.equal(sensor.stats().status, 'stopped');
    // No other bpftrace started by us lingers either.
    assert.deepEqual(
      childrenOf(process.pid).filter((c) => c.comm === 'bpftrace'),
      [],
    );
  });
});
