/**
 * A write to a file deeper than the sensor's bounded dentry walk: the kernel sends only the deepest
 * components, and the file is closed at once, so /proc cannot name it either. Such a path cannot be
 * proved outside the watched prefixes, so it must be reported (fail closed), never dropped as
 * "outside prefixes"; and a policy on the prefix must still match it. Replayed with a real directory
 * chain, real processes and the real sensor, including an attacker who reuses the file descriptor
 * for a file outside the prefixes so that /proc's fd link names the wrong file.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createRuntimeEngine } from '../../src/engine/runtime/index.js';
import type { RuntimeEvent } from '../../src/events/types.js';
import { loadPolicyText } from '../../src/policy/index.js';
import { MAX_WALK_STEPS } from '../../src/sources/sensor/program.js';
import { BpftraceSensor } from '../../src/sources/sensor/sensor.js';
import { EventCollector, nodeChild, sensorSkipReason, startTestSensor } from '../e2e/sensor/helpers.js';

const skip = sensorSkipReason();
const DEPTH = MAX_WALK_STEPS + 8;

const raw = (e: RuntimeEvent): { pathTruncated?: boolean; pathUnresolved?: boolean } => e.raw ?? {};

describe('sensor: a write deeper than the path walk fails closed', { skip }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'kr-adv-deep-'));
  const watched = join(dir, 'watched');
  const other = join(dir, 'other');
  // Names unique to this test, so the tail the kernel sends identifies the file.
  const chain = Array.from({ length: DEPTH }, (_, i) => `d${i}`);
  const deepDir = join(watched, ...chain);
  const deepest = `/${chain[chain.length - 1]!}/`;
  const collector = new EventCollector();
  let sensor: BpftraceSensor;

  before(async () => {
    mkdirSync(deepDir, { recursive: true });
    mkdirSync(other);
    writeFileSync(join(dir, 'innocent'), 'x');
    // A second prefix: an unresolved path could be below either, so each policy must see it.
    sensor = await startTestSensor(['file-write'], [`${watched}/`, `${other}/`], collector);
  });

  after(async () => {
    await sensor.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('an open-write-close by a process that exits at once is reported below each watched prefix', async () => {
    // spawnSync blocks this process, which is the sensor's consumer: the record is read only once
    // the writer has exited, so /proc cannot name the file (the attacker's best case, every time).
    const child = spawnSync(process.execPath, [
      '-e',
      "require('fs').writeFileSync(process.argv[1] + '/evil1', 'x')",
      deepDir,
    ]);
    assert.equal(child.status, 0, String(child.stderr));
    const pid = child.pid;
    const mine = (e: RuntimeEvent): boolean =>
      e.process?.pid === pid &&
      e.behavior === 'file-write' &&
      (e.file?.path ?? '').endsWith(`${deepest}evil1`);
    const first = await collector.waitFor(mine, undefined, 'deep write (watched)');
    await collector.waitFor(
      (e) => mine(e) && (e.file?.path ?? '').startsWith(`${other}/`),
      undefined,
      'deep write (other prefix)',
    );
    const events = collector.events.filter(mine);
    const paths = events.map((e) => e.file?.path ?? '').sort();
    // The known tail, below an unknown middle ("…"), below each prefix it may be under.
    assert.equal(paths.length, 2, paths.join('\n'));
    assert.ok(paths[0]!.startsWith(`${other}/…/`), paths[0]);
    assert.ok(paths[1]!.startsWith(`${watched}/…/`), paths[1]);
    for (const e of events) {
      assert.equal(raw(e).pathTruncated, true);
      assert.equal(raw(e).pathUnresolved, true);
    }
    assert.notEqual(events[0]!.id, events[1]!.id);

    // A policy on the prefix matches the reported event.
    const loaded = loadPolicyText(
      `apiVersion: runtime.kyverno.io/v1alpha1
kind: ClusterRuntimePolicy
metadata: { name: below-watched }
spec:
  failureAction: Audit
  rules:
    - name: writes
      match: { any: [{ resources: { kinds: [Node] } }] }
      restrict: { message: write below watched, behaviors: [file-write], pattern: { event: { file: { path: '${watched}/*' } } } }
`,
      'deep.yaml',
    );
    assert.deepEqual(loaded.errors, []);
    const engine = createRuntimeEngine(loaded.policies, { nodeName: 'test-node' });
    const underWatched = events.find((e) => (e.file?.path ?? '').startsWith(`${watched}/`))!;
    assert.equal(first.behavior, 'file-write');
    assert.ok(engine.evaluate(underWatched).length > 0, 'the prefix policy must fire');
  });

  test('a descriptor reused for a file outside the prefixes does not make /proc name the deep file', async () => {
    // Close the deep file, open an unwatched one (it gets the same fd number), and stay alive so
    // /proc/<pid>/fd/<n> resolves, to the wrong file.
    // The writer runs in the background of a shell this process waits for synchronously (the sensor's
    // consumer is blocked meanwhile); the shell returns once the writer has reused the descriptor,
    // and the writer stays alive (its stdio detached, or spawnSync would wait for it), so the record
    // is read while the link names the wrong file.
    const marker = join(dir, 'reused.pid');
    const code = `const fs = require('fs');
      const fd = fs.openSync(process.argv[1] + '/evil2', 'w'); fs.writeSync(fd, 'x'); fs.closeSync(fd);
      const again = fs.openSync(process.argv[2] + '/innocent', 'r');
      fs.writeFileSync(process.argv[3], again === fd ? String(process.pid) : 'not reused');
      setTimeout(() => {}, 3000);`;
    const shell = spawnSync(
      '/bin/sh',
      [
        '-c',
        'node -e "$0" "$1" "$2" "$3" </dev/null >/dev/null 2>&1 & while [ ! -s "$3" ]; do sleep 0.05; done',
        code,
        deepDir,
        dir,
        marker,
      ],
      { env: { ...process.env, PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ''}` } },
    );
    assert.equal(shell.status, 0, String(shell.stderr));
    const pid = Number(readFileSync(marker, 'utf8'));
    assert.ok(pid > 0, 'the writer must reuse the descriptor');
    const e = await collector.waitFor(
      (ev) => ev.process?.pid === pid && (ev.file?.path ?? '').endsWith(`${deepest}evil2`),
      undefined,
      'deep write with reused fd',
    );
    assert.equal(raw(e).pathUnresolved, true);
    assert.ok(
      !collector.events.some((ev) => ev.process?.pid === pid && ev.file?.path?.endsWith('/innocent')),
    );
  });

  test('a deep write that /proc can still name is reported once, by its full path', async () => {
    const { pid } = await nodeChild(
      `const fs = require('fs');
       const fd = fs.openSync(process.argv[1] + '/kept', 'w'); fs.writeSync(fd, 'x');
       setTimeout(() => fs.closeSync(fd), 4000);`,
      [deepDir],
    );
    const e = await collector.waitFor(
      (ev) => ev.process?.pid === pid && (ev.file?.path ?? '').endsWith('/kept'),
      undefined,
      'deep write, fd open',
    );
    assert.equal(e.file?.path, join(deepDir, 'kept'));
    assert.equal(raw(e).pathUnresolved, undefined);
    assert.equal(collector.events.filter((ev) => ev.process?.pid === pid).length, 1);
  });
});
