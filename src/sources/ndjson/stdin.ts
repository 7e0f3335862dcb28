/** NDJSON on standard input (e.g. `tetra getevents -o json | kyverno-runtime run --stdin`). */
import type { Readable } from 'node:stream';
import type { Logger } from '../../observability/logger.js';
import { RecordReader } from '../record-reader.js';
import { SourceCounters, type InputFormat } from '../records.js';
import type { EventSource, SourceStats } from '../types.js';
import { readNdjsonStream } from './stream-reader.js';

export interface StdinSourceOptions {
  name?: string;
  /** Default process.stdin. */
  stream?: Readable;
  format?: InputFormat;
  /** Default 1 MiB. */
  maxLineBytes?: number;
  logger?: Logger;
}

export interface StdinSource extends EventSource {
  /** Resolves when the stream has ended and every line was handed over. */
  readonly done: Promise<void>;
}

export function createStdinSource(options: StdinSourceOptions = {}): StdinSource {
  const stream = options.stream ?? process.stdin;
  const counters = new SourceCounters(options.name ?? 'stdin', 'ndjson-stdin');
  const reader = new RecordReader({
    counters,
    format: options.format ?? 'auto',
    ...(options.logger ? { logger: options.logger } : {}),
  });
  let resolveDone!: () => void;
  const done = new Promise<void>((r) => (resolveDone = r));
  let reading: Promise<void> | undefined;

  return {
    name: counters.name,
    canWait: true,
    done,
    start(emit) {
      counters.status = 'running';
      reading = readNdjsonStream(stream, emit, {
        reader,
        maxLineBytes: options.maxLineBytes ?? 1024 * 1024,
        origin: 'stdin',
      })
        .catch((err: unknown) => {
          counters.status = 'failed';
          counters.lastError = err instanceof Error ? err.message : String(err);
          options.logger?.error({ err }, 'stdin reader failed');
        })
        .finally(() => {
          if (counters.status === 'running') counters.status = 'stopped';
          resolveDone();
        });
      return Promise.resolve();
    },
    async stop() {
      stream.destroy();
      await reading;
    },
    stats(): SourceStats {
      return counters.snapshot();
    },
  };
}
