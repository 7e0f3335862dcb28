/**
 * Follows a JSON-lines file the way Tetragon writes its export (lumberjack: rename + create on
 * rotation), delivering each complete line exactly once across rotation, truncation and restarts:
 *
 * - Low latency: fs.watch (inotify) on the directory wakes the reader; a periodic poll is the safety
 *   net (and the only mechanism with `usePolling`, e.g. on NFS where inotify sees nothing).
 * - Partial last line: held until its newline arrives (LineSplitter).
 * - Rotation: when the path's inode changes, the old file is read to its end first, then the new one
 *   from 0. Truncation (size < our offset): restart at 0.
 * - Resume: {dev, inode, offset, fingerprint of the first bytes} is persisted atomically after lines
 *   are handed over (and, with `commitGate`, after the pipeline has evaluated them: at-least-once).
 *   On start, the same inode with the same first bytes resumes at the offset; if the file rotated
 *   while we were down, the rotated file is found by inode in the same directory and finished first.
 *   A reused inode (different first bytes) is read from the start.
 * - Backpressure: `onLine` may return a promise; reading stops until it settles.
 */
import { watch, type FSWatcher } from 'node:fs';
import { open, readdir, stat, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Logger } from '../../observability/logger.js';
import { LineSplitter, type LinePiece } from '../lines.js';
import {
  HEAD_FINGERPRINT_BYTES,
  headFingerprint,
  loadTailState,
  sameHead,
  saveTailState,
  type HeadFingerprint,
} from './state.js';

export interface TailerOptions {
  path: string;
  /** Where to persist the resume offset. Without it, a restart starts at `startAt`. */
  statePath?: string;
  /** Where to start when there is no saved state. Default "end" (like tail -f). */
  startAt?: 'beginning' | 'end';
  maxLineBytes?: number;
  /** Poll period when polling is the only mechanism. Default 250 ms. */
  pollIntervalMs?: number;
  /** Safety-net poll while fs.watch works. Default 1000 ms. */
  watchSafetyPollMs?: number;
  usePolling?: boolean;
  /** Minimum time between state writes. Default 500 ms (always written on stop). */
  stateFlushMs?: number;
  readChunkBytes?: number;
  /**
   * Awaited before a position is persisted; false skips this save (tried again later). The agent
   * passes "the pipeline has evaluated everything queued", so a saved offset never covers a line
   * whose event could still be lost in the queue.
   */
  commitGate?: () => Promise<boolean>;
  /** How a start resumed (for the resume metric and tests). */
  onResume?: (outcome: TailResumeOutcome) => void;
  logger?: Logger;
}

/**
 * resumed: same file, at the saved offset. rotated: the rotated file was finished first.
 * rotated-missing: the saved file is gone, current read from 0. reused-inode: same inode, other
 * content, read from 0. truncated: shrank below the offset, read from 0. fresh: no saved state.
 */
export type TailResumeOutcome =
  'resumed' | 'rotated' | 'rotated-missing' | 'reused-inode' | 'truncated' | 'fresh';

export interface TailerEvents {
  onLine(text: string, lineNo: number): void | Promise<void>;
  onSkip(reason: 'too-large' | 'truncated-partial-line', lineNo: number, bytes: number): void;
  onError?(err: unknown): void;
}

interface OpenFile {
  fh: FileHandle;
  dev: number;
  ino: number;
  /** Next byte to read. */
  readPos: number;
  /** Offset after the last fully handled line (what gets persisted). */
  committed: number;
  /** Line number of the line starting at `committed`. */
  committedLineNo: number;
  splitter: LineSplitter;
  /** Fingerprint of the first HEAD_FINGERPRINT_BYTES, once the file is that long (it never changes). */
  head?: HeadFingerprint;
}

export class FileTailer {
  private file: OpenFile | undefined;
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private pumping: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  private lastSave = 0;
  private readonly buf: Buffer;
  private readonly maxLineBytes: number;
  /** True when fs.watch is active (reported in stats/docs). */
  watching = false;

  constructor(
    private readonly opts: TailerOptions,
    private readonly events: TailerEvents,
  ) {
    this.maxLineBytes = opts.maxLineBytes ?? 1024 * 1024;
    this.buf = Buffer.allocUnsafe(opts.readChunkBytes ?? 64 * 1024);
  }

  async start(): Promise<void> {
    await this.openInitial();
    if (!this.opts.usePolling) {
      try {
        const name = basename(this.opts.path);
        this.watcher = watch(dirname(this.opts.path), (_event, filename) => {
          if (filename === null || filename === name) this.kick();
        });
        this.watcher.on('error', (err) => {
          this.opts.logger?.warn({ err, path: this.opts.path }, 'fs.watch failed; falling back to polling');
          this.watching = false;
          this.watcher?.close();
          this.watcher = undefined;
          this.schedulePoll(this.opts.pollIntervalMs ?? 250);
        });
        this.watching = true;
      } catch (err) {
        this.opts.logger?.warn({ err, path: this.opts.path }, 'fs.watch unavailable; polling');
      }
    }
    this.schedulePoll(
      this.watching ? (this.opts.watchSafetyPollMs ?? 1000) : (this.opts.pollIntervalMs ?? 250),
    );
    this.kick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.watcher?.close();
    if (this.timer) clearInterval(this.timer);
    await this.pumping;
    await this.persist(true);
    await this.file?.fh.close();
    this.file = undefined;
  }

  /** Current resume point (for tests and stats). */
  position(): { ino: number; offset: number } | undefined {
    return this.file ? { ino: this.file.ino, offset: this.file.committed } : undefined;
  }

  /** Resolves when everything currently in the file has been handed over. */
  async settle(): Promise<void> {
    this.kick();
    while (this.pumping) await this.pumping;
  }

  private schedulePoll(ms: number): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = setInterval(() => this.kick(), ms);
    this.timer.unref();
  }

  /** Run the pump, or ask the running one to go around again. */
  private kick(): void {
    if (this.stopped) return;
    if (this.pumping) {
      this.again = true;
      return;
    }
    this.pumping = this.pump().finally(() => {
      this.pumping = undefined;
    });
  }

  private async pump(): Promise<void> {
    try {
      do {
        this.again = false;
        if (!this.file) await this.openCurrent(0, 1);
        if (this.file) {
          await this.readToEnd(this.file);
          await this.checkRotation();
        }
        await this.persist(false);
      } while (this.again && !this.stopped);
    } catch (err) {
      this.events.onError?.(err);
      this.opts.logger?.error({ err, path: this.opts.path }, 'file tail error');
    }
  }

  private async openInitial(): Promise<void> {
    const saved = this.opts.statePath ? await loadTailState(this.opts.statePath) : undefined;
    let cur: { dev: number; ino: number; size: number } | undefined;
    try {
      const s = await stat(this.opts.path);
      cur = { dev: s.dev, ino: s.ino, size: s.size };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    const resumed = (outcome: TailResumeOutcome): void => this.opts.onResume?.(outcome);
    if (saved && saved.path === this.opts.path) {
      if (cur && saved.ino === cur.ino && saved.dev === cur.dev) {
        // Same file: resume, unless it shrank below our offset (truncated while we were down).
        const fits = saved.offset <= cur.size;
        await this.openCurrent(fits ? saved.offset : 0, fits ? saved.lineNo : 1);
        const f = this.file;
        if (f && fits && f.committed > 0 && !(await sameHead(f.fh, saved.head))) {
          // The inode was reused by another file (or rewritten in place): its bytes are all new.
          this.opts.logger?.warn(
            { path: this.opts.path, inode: saved.ino },
            'file at the saved inode has other content; reading it from the start',
          );
          f.readPos = f.committed = 0;
          f.committedLineNo = 1;
          f.splitter = new LineSplitter(this.maxLineBytes, 1);
          resumed('reused-inode');
          return;
        }
        resumed(fits ? 'resumed' : 'truncated');
        return;
      }
      // Rotated while we were down: finish the old file (found by inode) before the new one.
      const rotated = await this.findByInode(saved.dev, saved.ino);
      const fh = rotated ? await open(rotated, 'r') : undefined;
      if (fh && !(await sameHead(fh, saved.head))) {
        await fh.close();
        this.opts.logger?.warn({ rotated }, 'rotated file has other content than saved; not resuming it');
        resumed('rotated-missing');
      } else if (fh) {
        this.opts.logger?.info({ rotated, offset: saved.offset }, 'resuming rotated export file');
        const old: OpenFile = {
          fh,
          dev: saved.dev,
          ino: saved.ino,
          readPos: saved.offset,
          committed: saved.offset,
          committedLineNo: saved.lineNo,
          splitter: new LineSplitter(this.maxLineBytes, saved.lineNo),
        };
        await this.readToEnd(old);
        await this.finishFile(old);
        resumed('rotated');
      } else {
        resumed('rotated-missing');
        this.opts.logger?.warn(
          { path: this.opts.path, savedInode: saved.ino },
          'saved tail position refers to a file that no longer exists; reading the current file from the start',
        );
      }
      await this.openCurrent(0, 1);
      return;
    }
    resumed('fresh');
    const startAt = this.opts.startAt ?? 'end';
    await this.openCurrent(startAt === 'end' && cur ? cur.size : 0, 1);
  }

  private async findByInode(dev: number, ino: number): Promise<string | undefined> {
    const dir = dirname(this.opts.path);
    for (const name of await readdir(dir)) {
      const p = join(dir, name);
      try {
        const s = await stat(p);
        if (s.isFile() && s.ino === ino && s.dev === dev) return p;
      } catch {
        // vanished while listing: not ours
      }
    }
    return undefined;
  }

  private async openCurrent(offset: number, lineNo: number): Promise<void> {
    let fh: FileHandle;
    try {
      fh = await open(this.opts.path, 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return; // not created yet: wait
      throw err;
    }
    const s = await fh.stat();
    this.file = {
      fh,
      dev: s.dev,
      ino: s.ino,
      readPos: offset,
      committed: offset,
      committedLineNo: lineNo,
      splitter: new LineSplitter(this.maxLineBytes, lineNo),
    };
  }

  private async readToEnd(f: OpenFile): Promise<void> {
    const s = await f.fh.stat();
    if (s.size < f.readPos) {
      // Truncated in place (copytruncate or `> file`): start over; a held partial line is gone.
      const lost = f.splitter.discardPending();
      if (lost > 0) this.events.onSkip('truncated-partial-line', f.splitter.lineNo, lost);
      this.opts.logger?.info(
        { path: this.opts.path, size: s.size, offset: f.readPos },
        'file truncated; reading from the start',
      );
      f.readPos = 0;
      f.committed = 0;
      f.committedLineNo = 1;
      f.splitter = new LineSplitter(this.maxLineBytes, 1);
    }
    while (!this.stopped) {
      const { bytesRead } = await f.fh.read(this.buf, 0, this.buf.length, f.readPos);
      if (bytesRead === 0) return;
      f.readPos += bytesRead;
      const pieces = f.splitter.feed(this.buf.subarray(0, bytesRead));
      if (!(await this.deliver(f, pieces))) return;
    }
  }

  /** Hands pieces over in order; returns false when stopped midway (offsets stay exact). */
  private async deliver(f: OpenFile, pieces: LinePiece[]): Promise<boolean> {
    for (let i = 0; i < pieces.length; i++) {
      const p = pieces[i]!;
      if (p.kind === 'line') await this.events.onLine(p.text, p.lineNo);
      else if (p.kind === 'too-large') this.events.onSkip('too-large', p.lineNo, p.bytes);
      f.committed += p.bytes;
      f.committedLineNo = p.lineNo + 1;
      if (this.stopped && i < pieces.length - 1) {
        // Rewind: the rest of this chunk is re-read after restart from `committed`.
        f.readPos = f.committed;
        f.splitter = new LineSplitter(this.maxLineBytes, f.committedLineNo);
        return false;
      }
    }
    return true;
  }

  private async checkRotation(): Promise<void> {
    const f = this.file;
    if (!f || this.stopped) return;
    let s;
    try {
      s = await stat(this.opts.path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return; // renamed, new one not created yet
      throw err;
    }
    if (s.ino === f.ino && s.dev === f.dev) return;
    // Rotated: drain what the writer appended to the old file before the rename, then switch.
    await this.readToEnd(f);
    if (this.stopped) return;
    await this.finishFile(f);
    this.file = undefined;
    await this.openCurrent(0, 1);
    this.again = true;
  }

  /** The old file will not grow: a final unterminated line is delivered as is, then it is closed. */
  private async finishFile(f: OpenFile): Promise<void> {
    const last = f.splitter.flush();
    if (last) await this.deliver(f, [last]);
    await f.fh.close();
  }

  private async persist(force: boolean): Promise<void> {
    const f = this.file;
    if (!this.opts.statePath || !f) return;
    const now = performance.now();
    if (!force && now - this.lastSave < (this.opts.stateFlushMs ?? 500)) return;
    this.lastSave = now;
    // Snapshot first: what the gate confirms is what was handed over before it was called.
    const snapshot = {
      path: this.opts.path,
      dev: f.dev,
      ino: f.ino,
      offset: f.committed,
      lineNo: f.committedLineNo,
      head: f.head ?? (await headFingerprint(f.fh, f.committed)),
    };
    if (snapshot.head.bytes === HEAD_FINGERPRINT_BYTES) f.head = snapshot.head;
    if (this.opts.commitGate && !(await this.opts.commitGate())) return;
    await saveTailState(this.opts.statePath, snapshot);
  }
}
