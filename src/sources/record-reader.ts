/**
 * The one ingest path of every input: a line or a decoded record → the events adapters (which pass
 * every event through the ingest guard) → counted → handed to the pipeline. File tail, stdin, TCP and
 * HTTP feed it lines or records; the gRPC client feeds it the records it decoded; the built-in sensor
 * feeds it the events its record mapping built (they get the same guard, once). So a skipped record
 * or a cut field is counted the same way whichever input it came through.
 */
import { guardEvent } from '../events/adapters/guard.js';
import type { AdaptOutcome } from '../events/adapters/index.js';
import type { RuntimeEvent } from '../events/types.js';
import type { Logger } from '../observability/logger.js';
import { eventsTruncated } from '../observability/metrics.js';
import {
  decodeLine,
  decodeRecord,
  READER_DROP_REASONS,
  type InputFormat,
  type SourceCounters,
} from './records.js';
import type { EmitFn } from './types.js';

/** Log fields saying where a record came from ({ path, line }, { origin, line }, …). */
export type RecordPlace = Record<string, unknown>;

export interface RecordReaderOptions {
  counters: SourceCounters;
  /** Record format of lines and records; "auto" detects per record. */
  format: InputFormat;
  logger?: Logger;
}

export class RecordReader {
  readonly counters: SourceCounters;
  readonly format: InputFormat;
  private readonly log: Logger | undefined;

  constructor(opts: RecordReaderOptions) {
    this.counters = opts.counters;
    this.format = opts.format;
    this.log = opts.logger;
  }

  /** Adapts one line (JSON text) without counting it: never throws. */
  adaptLine(text: string, format: InputFormat = this.format): AdaptOutcome {
    return decodeLine(text, format);
  }

  /** Adapts one decoded record without counting it: never throws. */
  adaptRecord(record: unknown, format: InputFormat = this.format): AdaptOutcome {
    return decodeRecord(record, format);
  }

  /** Counts an outcome (a skip as a drop, logged at debug); returns the events to emit. */
  accept(outcome: AdaptOutcome, place?: RecordPlace): RuntimeEvent[] {
    if (outcome.kind === 'skipped')
      this.log?.debug({ ...place, reason: outcome.reason, detail: outcome.detail }, 'record skipped');
    return this.counters.accept(outcome);
  }

  /**
   * An event an input built itself (the built-in sensor's mapping): the adapters' ingest guard, counted
   * the same way. Returns the event, or nothing when it is too deep to evaluate.
   */
  acceptBuilt(event: RuntimeEvent): RuntimeEvent[] {
    const guarded = guardEvent(event);
    if (!guarded.ok) {
      this.counters.drop('too-deep');
      return [];
    }
    for (const [reason, n] of Object.entries(guarded.truncations ?? {})) eventsTruncated.inc({ reason }, n);
    this.counters.eventsIn++;
    return [event];
  }

  /** A line over the size limit, skipped before it was read whole. */
  tooLarge(place: RecordPlace): void {
    this.counters.drop(READER_DROP_REASONS.tooLarge);
    this.log?.warn(place, 'line exceeds the size limit; skipped');
  }

  /** One line: adapt, count, emit (waiting while the pipeline asks the input to wait). */
  line(text: string, emit: EmitFn | undefined, place?: RecordPlace): Promise<void> | undefined {
    return emitAll(this.accept(this.adaptLine(text), place), emit);
  }

  /** One decoded record: adapt, count, emit (waiting while the pipeline asks the input to wait). */
  record(record: unknown, emit: EmitFn | undefined, place?: RecordPlace): Promise<void> | undefined {
    return emitAll(this.accept(this.adaptRecord(record), place), emit);
  }
}

/**
 * Hands events over in order; awaits each emit that returns a promise (backpressure for inputs that
 * can wait). Synchronous when no emit asks to wait, so a fast path costs no promise per event.
 */
export function emitAll(
  events: readonly RuntimeEvent[],
  emit: EmitFn | undefined,
): Promise<void> | undefined {
  if (emit === undefined) return undefined;
  for (let i = 0; i < events.length; i++) {
    const wait = emit(events[i]!);
    if (wait) return wait.then(() => emitAll(events.slice(i + 1), emit));
  }
  return undefined;
}
