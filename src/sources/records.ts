/**
 * The edge between raw input and RuntimeEvents: every reader hands its records to the events
 * adapters through here, so skipped records are counted the same way everywhere (metric
 * kyverno_runtime_events_dropped_total{source,reason} plus the source's own stats).
 */
import { adaptLine, adaptRecord, type AdaptOutcome, type SourceFormat } from '../events/adapters/index.js';
import type { RuntimeEvent } from '../events/types.js';
import { eventsDropped, eventsTruncated } from '../observability/metrics.js';
import type { SourceStats } from './types.js';

export type InputFormat = SourceFormat | 'auto';

/** Drop reasons the readers themselves produce (adapters add theirs, e.g. "malformed-json"). */
export const READER_DROP_REASONS = {
  tooLarge: 'too-large',
  adapterError: 'adapter-error',
  rateLimited: 'rate-limited',
  unauthorized: 'unauthorized',
  badPayload: 'bad-payload',
  truncatedPartialLine: 'truncated-partial-line',
} as const;

/** Never throws: an adapter bug becomes a counted "adapter-error", not a crashed reader. */
export function decodeLine(line: string, format: InputFormat): AdaptOutcome {
  try {
    return countTruncations(adaptLine(line, format));
  } catch (err) {
    return { kind: 'skipped', reason: READER_DROP_REASONS.adapterError, detail: errorText(err) };
  }
}

export function decodeRecord(record: unknown, format: InputFormat): AdaptOutcome {
  try {
    return countTruncations(adaptRecord(record, format));
  } catch (err) {
    return { kind: 'skipped', reason: READER_DROP_REASONS.adapterError, detail: errorText(err) };
  }
}

/** Counts what the adapters' ingest guard cut (kyverno_runtime_events_truncated_total{reason}). */
export function countTruncations(outcome: AdaptOutcome): AdaptOutcome {
  if (outcome.kind === 'events' && outcome.truncated !== undefined) {
    for (const [reason, n] of Object.entries(outcome.truncated)) eventsTruncated.inc({ reason }, n);
  }
  return outcome;
}

export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Per-source counters behind `EventSource.stats()`, mirrored into the Prometheus drop counter. */
export class SourceCounters {
  status: SourceStats['status'] = 'starting';
  eventsIn = 0;
  lastError: string | undefined;
  readonly dropped: Record<string, number> = {};

  constructor(
    readonly name: string,
    readonly kind: string,
  ) {}

  drop(reason: string, n = 1): void {
    this.dropped[reason] = (this.dropped[reason] ?? 0) + n;
    eventsDropped.inc({ source: this.name, reason }, n);
  }

  /** Count the outcome; returns the events to emit (empty when skipped). */
  accept(outcome: AdaptOutcome): RuntimeEvent[] {
    if (outcome.kind === 'skipped') {
      this.drop(outcome.reason);
      return [];
    }
    this.eventsIn += outcome.events.length;
    return outcome.events;
  }

  snapshot(): SourceStats {
    const s: SourceStats = {
      name: this.name,
      kind: this.kind,
      status: this.status,
      eventsIn: this.eventsIn,
      dropped: { ...this.dropped },
    };
    if (this.lastError !== undefined) s.lastError = this.lastError;
    return s;
  }
}
