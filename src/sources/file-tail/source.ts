/** EventSource over FileTailer: Tetragon's export file (or any JSON-lines file) → RuntimeEvents. */
import type { Logger } from '../../observability/logger.js';
import { fileTailResumes, sourceStale, sourceStaleEpisodes } from '../../observability/metrics.js';
import { RecordReader } from '../record-reader.js';
import { SourceCounters, type InputFormat } from '../records.js';
import type { EmitFn, EventSource, SourceStats } from '../types.js';
import { FileTailer, type TailerOptions } from './tailer.js';

export interface FileTailSourceOptions extends TailerOptions {
  name?: string;
  /** Record format; default "tetragon" (the export file). "auto" detects per line. */
  format?: InputFormat;
  /**
   * No new line for this long while the tail runs = stale (gauge, counter, one log line per
   * episode, `staleFor()`). Undefined or 0: never.
   */
  staleAfterMs?: number;
  logger?: Logger;
}

export interface FileTailSource extends EventSource {
  /** Resolves once every line currently in the file has been handed to the pipeline. */
  settle(): Promise<void>;
  readonly tailer: FileTailer;
  /** Milliseconds without new data while stale; undefined while fresh (or with no limit). */
  staleFor(): number | undefined;
}

export function createFileTailSource(options: FileTailSourceOptions): FileTailSource {
  const name = options.name ?? `file:${options.path}`;
  const format = options.format ?? 'tetragon';
  const counters = new SourceCounters(name, 'file-tail');
  const log = options.logger;
  const reader = new RecordReader({ counters, format, ...(log ? { logger: log } : {}) });
  let emit: EmitFn | undefined;
  let lastData = Date.now();
  let stale = false;
  let staleTimer: NodeJS.Timeout | undefined;
  const staleAfter = options.staleAfterMs ?? 0;
  const checkStale = (): void => {
    const idle = Date.now() - lastData;
    if (!stale && counters.status === 'running' && idle > staleAfter) {
      stale = true;
      sourceStale.set({ source: name }, 1);
      sourceStaleEpisodes.inc({ source: name });
      log?.warn(
        { path: options.path, idleSeconds: Math.round(idle / 1000) },
        'no new data from the tailed file while the source runs: is this the file the tool writes?',
      );
    }
  };

  const tailer = new FileTailer(
    {
      ...options,
      onResume: (outcome) => {
        fileTailResumes.inc({ outcome });
        options.onResume?.(outcome);
      },
    },
    {
      async onLine(text, lineNo) {
        if (counters.status === 'degraded') counters.status = 'running'; // reading again after an error
        lastData = Date.now();
        if (stale) {
          stale = false;
          sourceStale.set({ source: name }, 0);
          log?.info({ path: options.path }, 'the tailed file delivers data again');
        }
        // Backpressure: awaiting the emit stops reading until the queue has room.
        await reader.line(text, emit, { path: options.path, line: lineNo });
      },
      onSkip(reason, lineNo, bytes) {
        counters.drop(reason);
        log?.warn({ path: options.path, line: lineNo, bytes, reason }, 'line skipped');
      },
      onError(err) {
        counters.status = 'degraded';
        counters.lastError = err instanceof Error ? err.message : String(err);
      },
    },
  );

  return {
    name,
    canWait: true,
    tailer,
    async start(emitFn) {
      emit = emitFn;
      await tailer.start();
      counters.status = 'running';
      lastData = Date.now();
      if (staleAfter > 0) {
        sourceStale.set({ source: name }, 0);
        staleTimer = setInterval(checkStale, Math.max(10, Math.min(staleAfter / 4, 30_000)));
        staleTimer.unref();
      }
    },
    async stop() {
      clearInterval(staleTimer);
      await tailer.stop();
      counters.status = 'stopped';
    },
    settle: () => tailer.settle(),
    staleFor: () => (stale ? Date.now() - lastData : undefined),
    stats(): SourceStats {
      return counters.snapshot();
    },
  };
}

/**
 * A commit gate for the tail: resolves true once `drain` (the pipeline's "everything queued has been
 * evaluated and written") resolves, false when it takes longer than `timeoutMs` (the save is skipped,
 * never made early: a skipped save costs re-reading, a premature one could lose lines).
 */
export function drainGate(drain: () => Promise<void>, timeoutMs = 5_000): () => Promise<boolean> {
  return async () => {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
      timer.unref();
    });
    try {
      return await Promise.race([drain().then(() => true), timedOut]);
    } finally {
      clearTimeout(timer);
    }
  };
}
