/**
 * The sensor sends an open below a watched prefix without the prefix's directories (the kernel
 * compared them; user space puts them back). Replayed with real files and real processes: the
 * reported path must be exactly the one the kernel opened, whatever name was used, and a directory
 * that only looks like the prefix (same name at another depth, a longer name) must not pass.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RuntimeEvent } from '../../src/events/types.js';
import { BpftraceSensor } from '../../src/sources/sensor/sensor.js';
import { EventCollector, execFileP, sensorSkipReason, startTestSensor } from '../e2e/sensor/helpers.js';

const skip = sensorSkipReason();
const sh = (script: string, cwd?: string) => execFileP('/bin/sh', ['-c', script], cwd ? { cwd } : {});

describe('sensor: opens sent without the matched prefix directories', { skip }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'kr-adv-elide-'));
  const watched = join(dir, 'watched');
  const deep = join(watched, 'a', 'b', 'c');
  const collector = new EventCollector();
  let sensor: BpftraceSensor;
  const writes = () => collector.events.filter((e: RuntimeEvent) => e.behavior === 'file-write');

  before(async () => {
    mkdirSync(deep, { recursive: true });
    mkdirSync(join(dir, 'other', 'watched'), { recursive: true });
    mkdirSync(join(dir, 'watchedX'));
    symlinkSync(deep, join(dir, 'shortcut'));
    // Two prefixes: the record must name which one matched, not just how many directories.
    sensor = await startTestSensor(['file-write'], [`${watched}/`, `${dir}/other/x`], collector);
    assert.deepEqual(sensor.program?.prefixDirs, [
      [...dir.slice(1).split('/'), 'watched'],
      [...dir.slice(1).split('/'), 'other'],
    ]);
  });

  after(async () => {
    await sensor.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('a write deep below the prefix, through a symlink and "..", reads as the full real path', async () => {
    await sh(`echo x > ${dir}/shortcut/../c/f1`);
    const e = await collector.waitFor((ev) => ev.file?.path === join(deep, 'f1'), undefined, 'deep write');
    assert.equal(e.raw && (e.raw as { pathTruncated?: boolean }).pathTruncated, undefined);
  });

  test('a write directly below the prefix from a relative name reads as the full real path', async () => {
    await sh('echo x > ./f2', watched);
    await collector.waitFor((ev) => ev.file?.path === join(watched, 'f2'), undefined, 'direct write');
  });

  test('the second prefix matched is put back as the second prefix, not the first', async () => {
    await sh(`echo x > ${dir}/other/xfile`);
    await collector.waitFor((ev) => ev.file?.path === join(dir, 'other', 'xfile'), undefined, 'other write');
  });

  test('a directory named like the prefix at another depth, or a longer name, is not taken for it', async () => {
    await sh(`echo x > ${dir}/other/watched/f3; echo x > ${dir}/watchedX/f4; echo x > ${watched}/sentinel`);
    // The sentinel was written last by the same shell: once it is in, the others had their chance.
    await collector.waitFor((ev) => ev.file?.path === join(watched, 'sentinel'), undefined, 'sentinel');
    await new Promise((r) => setTimeout(r, 300));
    const paths = writes().map((e) => e.file?.path ?? '');
    assert.ok(!paths.some((p) => p.endsWith('/f3') || p.endsWith('/f4')), paths.join('\n'));
    assert.ok(
      paths.every((p) => p.startsWith(`${watched}/`) || p.startsWith(`${dir}/other/x`)),
      paths.join('\n'),
    );
  });
});
