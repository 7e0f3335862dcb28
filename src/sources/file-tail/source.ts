/** EventSource over FileTailer: Tetragon's export file (or any JSON-lines file) → RuntimeEvents. */
import type { Logger } from '../../observability/logger.js';
import { fileTailResumes } from '../../observability/metrics.js';
import { RecordReader } from '../record-reader.js';
import { SourceCounters, type InputFormat } from '../records.js';
import type { EmitFn, EventSource, SourceStats } from '../types.js';
import { FileTailer, type TailerOptions } from './tailer.js';

export interface FileTailSourceOptions extends TailerOptions {
  name?: string;
  /** Record format; default "tetragon" (the export file). "auto" detects per line. */
  format?: InputFormat;
  logger?: Logger;
}

export interface FileTailSource extends EventSource {
  /** Resolves once every line currently in the file has been handed to the pipeline. */
  settle(): Promise<void>;
  readonly tailer: FileTailer;
}

export function createFileTailSource(options: FileTailSourceOptions): FileTailSource {
  const name = options.name ?? `file:${options.path}`;
  const format = options.format ?? 'tetragon';
  const counters = new SourceCounters(name, 'file-tail');
  const log = options.logger;
  const reader = new RecordReader({ counters, format, ...(log ? { logger: log } : {}) });
  let emit: EmitFn | undefined;

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
    },
    async stop() {
      await tailer.stop();
      counters.status = 'stopped';
    },
    settle: () => tailer.settle(),
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
