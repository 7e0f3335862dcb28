/**
 * Adapter outcomes and the stable skip reasons. A reason is a short token used as a metric label
 * (kyverno_runtime_events_dropped_total{reason}); the detail is free text for logs. docs/events.md
 * "Skip reasons" lists them; keep both in sync.
 */
import { blankRecord } from '../../util/blank-record.js';
import type { RuntimeEvent } from '../types.js';
import type { EventLimits, Truncations } from './guard.js';

export type SourceFormat = 'tetragon' | 'falco' | 'kubearmor' | 'tracee' | 'runtime' | 'cloudevents';

export const SOURCE_FORMATS: readonly SourceFormat[] = [
  'tetragon',
  'falco',
  'kubearmor',
  'tracee',
  'runtime',
  'cloudevents',
];

export type AdaptOutcome =
  | {
      kind: 'events';
      format: SourceFormat;
      events: RuntimeEvent[];
      /** What the ingest guard cut from these events (absent when nothing); the reader counts it. */
      truncated?: Truncations;
    }
  /** Counted and skipped; `reason` is a short stable token used as a metric label. */
  | { kind: 'skipped'; reason: string; detail: string };

export const SKIP_REASONS = {
  /** The line is not valid JSON. */
  malformedJson: 'malformed-json',
  /** Valid JSON, but not an object any adapter recognises (auto-detection failed). */
  unknownFormat: 'unknown-format',
  /** A known tool, but an event type this version does not read (e.g. a future Tetragon event). */
  unsupportedType: 'unsupported-type',
  /** The record claims a format but a required field is missing or has the wrong type. */
  invalidEvent: 'invalid-event',
  /** A well-formed event that carries no behavior of the vocabulary (process_exit, clone, packets). */
  noBehavior: 'no-behavior',
  /** The tool's own housekeeping (Falco internal metrics/drops, Tetragon throttle/rate-limit notices). */
  toolInternal: 'tool-internal',
  /** Neither the event nor the caller gives a time. */
  missingTime: 'missing-time',
  /** Plain-text tool output (Falco without json_output). */
  textFormat: 'text-format',
  /** The line exceeds the configured maximum length. */
  tooLarge: 'too-large',
  /** An adapter threw (a bug): caught, counted, never crashes the reader. */
  adapterError: 'adapter-error',
  /** A RuntimeEvent (raw aside) nested deeper than the ingest guard's depth limit. */
  tooDeep: 'too-deep',
} as const;

export type SkipReason = (typeof SKIP_REASONS)[keyof typeof SKIP_REASONS];

export type Skipped = Extract<AdaptOutcome, { kind: 'skipped' }>;

export function skip(reason: SkipReason, detail: string): Skipped {
  return { kind: 'skipped', reason, detail };
}

/** Wraps one event; top-level keys left undefined by the mapping are removed (clean JSON, small objects). */
export function emitted(format: SourceFormat, event: RuntimeEvent): AdaptOutcome {
  const record = event as unknown as Record<string, unknown>;
  for (const key in record) {
    if (record[key] === undefined) return { kind: 'events', format, events: [withoutUndefined(record)] };
  }
  return { kind: 'events', format, events: [event] };
}

function withoutUndefined(record: Record<string, unknown>): RuntimeEvent {
  const out: Record<string, unknown> = blankRecord();
  for (const key in record) if (record[key] !== undefined) out[key] = record[key];
  return out as unknown as RuntimeEvent;
}

/** Options every adapter understands. */
export interface AdaptOptions {
  /**
   * Time to use when the record has none (RFC 3339), e.g. the receive time stamped by the reader.
   * Without it such records are skipped with reason "missing-time" (adapters are pure: no clock).
   */
  fallbackTime?: string;
  /** Keep the original record as `raw` (by reference, never copied). Default true. */
  keepRaw?: boolean;
  /** adaptLine only: longer lines are skipped with reason "too-large". Default 4 MiB of characters. */
  maxLineLength?: number;
  /** Depth and size bounds of what an event keeps (DEFAULT_EVENT_LIMITS when absent). */
  limits?: EventLimits;
}

export const DEFAULT_MAX_LINE_LENGTH = 4 * 1024 * 1024;
