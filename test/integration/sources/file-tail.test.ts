import assert from 'node:assert/strict';
import {
  appendFileSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { adaptLine } from '../../../src/events/adapters/index.js';
import type { RuntimeEvent } from '../../../src/events/types.js';
import {
  createFileTailSource,
  loadTailState,
  type FileTailSourceOptions,
} from '../../../src/sources/file-tail/index.js';
import { collector, sampleLines, waitFor, WAIT_MS } from './helpers.js';

// Real Tetragon export lines that the adapter maps to exactly one event each.
const lines = [
  ...sampleLines('tetragon', 'docs-current.jsonl'),
  ...sampleLines('tetragon', 'runtime-radar-captures.jsonl'),
].filter((l) => {
  const out = adaptLine(l, 'tetragon');
  return out.kind === 'events' && out.events.length === 1;
});
const N = lines.length;

function execIds(events: RuntimeEvent[]): string[] {
  return events.map((e) => e.id);
}

describe('Tetragon export-file tail', () => {
  let dir: string;
  let file: string;
  let statePath: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'kr-tail-'));
    file = join(dir, 'tetragon.log');
    statePath = join(dir, 'state', 'tail.json');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  function source(extra: Partial<FileTailSourceOptions> = {}) {
    return createFileTailSource({ path: file, statePath, startAt: 'beginning', stateFlushMs: 0, ...extra });
  }

  /** The ids the real adapter gives the sample lines, read once without tailing. */
  async function expectedIds(input: string[]): Promise<string[]> {
    const ref = join(dir, 'ref.log');
    writeFileSync(ref, input.join('\n') + '\n');
    const c = collector();
    const s = createFileTailSource({ path: ref, startAt: 'beginning', name: 'ref' });
    await s.start(c.emit);
    await s.settle();
    await s.stop();
    return execIds(c.events);
  }

  it('delivers appended lines with low latency (fs.watch) and holds a partial last line', async () => {
    const want = await expectedIds(lines);
    assert.equal(want.length, N, 'each sample line adapts to one event');
    writeFileSync(file, '');
    const c = collector();
    // The safety poll is pushed beyond the wait deadline, so a delivery proves fs.watch woke us.
    const s = source({ watchSafetyPollMs: 10 * WAIT_MS });
    await s.start(c.emit);
    try {
      assert.equal(s.tailer.watching, true);
      appendFileSync(file, lines[0]! + '\n');
      await waitFor(() => c.events.length === 1, WAIT_MS, 'first line');
      // A line written in two pieces is delivered once, whole, after its newline.
      const half = Math.floor(lines[1]!.length / 2);
      appendFileSync(file, lines[1]!.slice(0, half));
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(c.events.length, 1, 'partial line held');
      appendFileSync(file, lines[1]!.slice(half) + '\n');
      await waitFor(() => c.events.length === 2, WAIT_MS, 'completed line');
      assert.deepEqual(execIds(c.events), want.slice(0, 2));
    } finally {
      await s.stop();
    }
  });

  it('follows rename+create rotation without losing the old file’s tail', async () => {
    const want = await expectedIds(lines);
    writeFileSync(file, lines.slice(0, 3).join('\n') + '\n');
    const c = collector();
    const s = source();
    await s.start(c.emit);
    try {
      await waitFor(() => c.events.length === 3, WAIT_MS, 'initial lines');
      // The writer appends once more to the old file, then rotates (lumberjack style).
      appendFileSync(file, lines[3]! + '\n');
      renameSync(file, join(dir, 'tetragon-2026-11-26T23-00-00.000.log'));
      writeFileSync(file, lines.slice(4, 6).join('\n') + '\n');
      await waitFor(() => c.events.length === 6, WAIT_MS, 'lines after rotation');
      assert.deepEqual(execIds(c.events), want.slice(0, 6));
    } finally {
      await s.stop();
    }
  });

  it('restarts from the beginning after truncation', async () => {
    const want = await expectedIds(lines);
    writeFileSync(file, lines.slice(0, 4).join('\n') + '\n');
    const c = collector();
    const s = source();
    await s.start(c.emit);
    try {
      await waitFor(() => c.events.length === 4, WAIT_MS, 'initial lines');
      truncateSync(file, 0);
      appendFileSync(file, lines[4]! + '\n');
      await waitFor(() => c.events.length === 5, WAIT_MS, 'line after truncation');
      assert.deepEqual(execIds(c.events), [...want.slice(0, 4), want[4]]);
    } finally {
      await s.stop();
    }
  });

  it('resumes from the persisted offset after a restart: no loss, no duplicates', async () => {
    const want = await expectedIds(lines);
    writeFileSync(file, lines.slice(0, 5).join('\n') + '\n');
    const first = collector();
    let s = source();
    await s.start(first.emit);
    await s.settle();
    await s.stop();
    const state = await loadTailState(statePath);
    assert.equal(state?.offset, readFileSync(file).length, 'offset persisted at the end of the last line');
    // Written while we were down, plus a partial line that must not be delivered yet.
    appendFileSync(file, lines.slice(5, 8).join('\n') + '\n' + lines[8]!.slice(0, 40));
    const second = collector();
    s = source();
    await s.start(second.emit);
    try {
      await s.settle();
      assert.deepEqual(execIds(second.events), want.slice(5, 8));
      appendFileSync(file, lines[8]!.slice(40) + '\n');
      await waitFor(() => second.events.length === 4, WAIT_MS, 'completed partial line');
      assert.deepEqual([...execIds(first.events), ...execIds(second.events)], want.slice(0, 9));
    } finally {
      await s.stop();
    }
  });

  it('finishes a file that rotated while it was down (found by inode) before the new one', async () => {
    const want = await expectedIds(lines);
    writeFileSync(file, lines.slice(0, 2).join('\n') + '\n');
    let s = source();
    const first = collector();
    await s.start(first.emit);
    await s.settle();
    await s.stop();
    appendFileSync(file, lines[2]! + '\n');
    renameSync(file, join(dir, 'tetragon.log.1'));
    writeFileSync(file, lines.slice(3, 5).join('\n') + '\n');
    const second = collector();
    s = source();
    await s.start(second.emit);
    try {
      await s.settle();
      assert.deepEqual([...execIds(first.events), ...execIds(second.events)], want.slice(0, 5));
    } finally {
      await s.stop();
    }
  });

  it('skips a line over the size limit with reason "too-large" and keeps going', async () => {
    const huge = JSON.stringify({ process_exec: { process: { arguments: 'A'.repeat(300_000) } } });
    writeFileSync(file, [lines[0], huge, lines[1]].join('\n') + '\n');
    const c = collector();
    const s = source({ maxLineBytes: 64 * 1024 });
    await s.start(c.emit);
    try {
      await s.settle();
      assert.equal(c.events.length, 2);
      assert.equal(s.stats().dropped['too-large'], 1);
    } finally {
      await s.stop();
    }
  });

  it('counts malformed lines by reason and never stops', async () => {
    writeFileSync(
      file,
      ['{"process_exec": {', 'not json at all', '\u0000\u0001\u00ff', lines[0]].join('\n') + '\n',
    );
    const c = collector();
    const s = source();
    await s.start(c.emit);
    try {
      await s.settle();
      assert.equal(c.events.length, 1);
      assert.equal(s.stats().dropped['malformed-json'], 3);
    } finally {
      await s.stop();
    }
  });

  it('works with polling only (e.g. NFS, where inotify sees nothing)', async () => {
    writeFileSync(file, '');
    const c = collector();
    const s = source({ usePolling: true, pollIntervalMs: 20 });
    await s.start(c.emit);
    try {
      assert.equal(s.tailer.watching, false);
      appendFileSync(file, lines.slice(0, 2).join('\n') + '\n');
      await waitFor(() => c.events.length === 2, WAIT_MS, 'polled lines');
    } finally {
      await s.stop();
    }
  });

  it('starts at the end of an existing file when there is no state and startAt is "end"', async () => {
    writeFileSync(file, lines.slice(0, 3).join('\n') + '\n');
    const c = collector();
    const s = source({ startAt: 'end' });
    await s.start(c.emit);
    try {
      await s.settle();
      assert.equal(c.events.length, 0);
      appendFileSync(file, lines[3]! + '\n');
      await waitFor(() => c.events.length === 1, WAIT_MS, 'new line');
    } finally {
      await s.stop();
    }
  });

  it('waits (backpressure) while emit is pending instead of reading ahead', async () => {
    writeFileSync(file, lines.slice(0, 4).join('\n') + '\n');
    const got: RuntimeEvent[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const s = source();
    await s.start(async (e) => {
      got.push(e);
      if (got.length === 1) await gate;
    });
    try {
      // Wait for the first emit to be pending (not a fixed sleep: on a loaded machine the first line
      // may not even be read yet), then give the reader room to misbehave before checking it did not.
      await waitFor(() => got.length === 1, WAIT_MS, 'first line');
      await new Promise((r) => setTimeout(r, 60));
      assert.equal(got.length, 1, 'no further line read while the first emit waits');
      release();
      await s.settle();
      assert.equal(got.length, 4);
    } finally {
      await s.stop();
    }
  });
});
