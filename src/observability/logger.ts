/** Structured JSON logs (pino), shaped like Kubernetes component logs: ISO time, string levels, "msg". */
import { chmodSync, mkdirSync, renameSync, statSync, unlinkSync } from 'node:fs';
import { dirname } from 'node:path';
import { pino, type Logger, type DestinationStream } from 'pino';
import { logLinesDropped } from './metrics.js';

export type { Logger };

export function createLogger(options: { level?: string; destination?: DestinationStream } = {}): Logger {
  return pino(
    {
      level: options.level ?? process.env.LOG_LEVEL ?? 'info',
      messageKey: 'msg',
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      base: { component: 'kyverno-runtime' },
    },
    options.destination,
  );
}

/** Characters of log lines waiting for the disk (or pipe) before new lines are dropped and counted. */
export const DEFAULT_LOG_BUFFER = 8 * 1024 * 1024;
/**
 * Largest single write. sonic-boom's default (16 KiB) allows one write per event-loop turn, and a
 * turn that evaluates a 64 KiB stdin chunk logs far more than that: the buffer could only grow.
 */
const MAX_WRITE = 1024 * 1024;
/** Size at which the JSON log file is rotated. */
export const DEFAULT_LOG_MAX_BYTES = 64 * 1024 * 1024;
/** Rotated files kept beside the live one (file.1 … file.N, newest first). */
export const DEFAULT_LOG_MAX_FILES = 3;

export interface LogFileOptions {
  /** A path, or "-" for stderr. */
  path: string;
  level?: string;
  /** Default DEFAULT_LOG_BUFFER. */
  bufferChars?: number;
  /** File only: rotate beyond this many bytes; 0 = never. Default DEFAULT_LOG_MAX_BYTES. */
  maxBytes?: number;
  /** File only: rotated files kept. Default DEFAULT_LOG_MAX_FILES. */
  maxFiles?: number;
}

/**
 * The JSON log of `run`: an asynchronous pino destination whose buffer is bounded (a disk slower
 * than the verdict rate used to grow it without limit until the heap ran out; now the overflow is
 * dropped and counted in kyverno_runtime_log_lines_dropped_total), a file created 0600 (it holds
 * full command lines) and rotated by size.
 *
 * Rotation is hand-written: no vetted rotating stream is among our dependencies, and on top of
 * sonic-boom's own reopen() it is a rename chain when the byte count crosses the limit.
 */
export function createLogFile(options: LogFileOptions): Logger {
  const bufferChars = options.bufferChars ?? DEFAULT_LOG_BUFFER;
  if (options.path === '-') {
    const dest = pino.destination({ dest: 2, sync: false, maxLength: bufferChars, maxWrite: MAX_WRITE });
    dest.on('drop', () => logLinesDropped.inc());
    return createLogger({ level: options.level, destination: dest });
  }
  const path = options.path;
  const maxBytes = options.maxBytes ?? DEFAULT_LOG_MAX_BYTES;
  const maxFiles = options.maxFiles ?? DEFAULT_LOG_MAX_FILES;
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  let written = 0;
  try {
    written = statSync(path).size;
    // A log left by an older version may be world-readable: it holds the same command lines.
    chmodSync(path, 0o600);
  } catch {
    // not there yet: created 0600 below
  }
  const dest = pino.destination({
    dest: path,
    sync: false,
    maxLength: bufferChars,
    maxWrite: MAX_WRITE,
    mode: 0o600,
  });
  dest.on('drop', () => logLinesDropped.inc());
  if (maxBytes > 0) {
    dest.on('write', (n: number) => {
      written += n;
      if (written < maxBytes) return;
      written = 0;
      rotate(path, maxFiles);
      dest.reopen();
    });
  }
  return createLogger({ level: options.level, destination: dest });
}

/** file.(N-1) → file.N … file → file.1; the oldest beyond `maxFiles` is overwritten by the rename. */
function rotate(path: string, maxFiles: number): void {
  try {
    if (maxFiles <= 0) {
      unlinkSync(path); // keep no generation: reopen() starts an empty file
      return;
    }
    for (let i = maxFiles - 1; i >= 1; i--) {
      try {
        renameSync(`${path}.${i}`, `${path}.${i + 1}`);
      } catch {
        // that generation does not exist yet
      }
    }
    renameSync(path, `${path}.1`);
  } catch {
    // The file vanished (removed by hand): reopen() recreates it.
  }
}
