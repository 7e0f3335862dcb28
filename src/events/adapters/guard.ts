/**
 * The one bound on what an event keeps, applied at the ingest edge to every adapter's output
 * (adaptRecord) and to the built-in sensor's events. Input is hostile: a record nested 100 000 deep
 * parses fine (V8's JSON.parse is iterative) but makes every later recursive walk — JSON.stringify
 * in the store, the live stream, the logger — throw RangeError, and a multi-megabyte string would be
 * copied into every row, log line and stream frame. So:
 * - `raw` deeper than `maxDepth` or larger than `maxRawBytes` (approximate JSON size) is replaced by
 *   a marker `{ truncated: <reason>, limit }` (boundRaw, when the event is kept: it has a verdict);
 *   the event itself is still evaluated;
 * - every string of the event longer than `maxStringLength` is cut and marked
 *   (`…[N more characters]`): policies then see the cut value;
 * - an event (raw aside) nested deeper than `maxDepth` is not evaluated: skipped as "too-deep".
 * Every walk stops at the first limit; its recursion is bounded by `maxDepth`, never by the input.
 * Pure: the caller counts what is reported back.
 */
import type { RuntimeEvent } from '../types.js';

export interface EventLimits {
  /** Deepest object/array nesting kept in `raw` and accepted in the event. Default 64. */
  maxDepth: number;
  /** Largest `raw` kept, in approximate JSON characters. Default 64 KiB. */
  maxRawBytes: number;
  /** Longest string kept in an event field, in characters. Default 16 KiB. */
  maxStringLength: number;
}

export const DEFAULT_EVENT_LIMITS: Readonly<EventLimits> = Object.freeze({
  maxDepth: 64,
  maxRawBytes: 64 * 1024,
  maxStringLength: 16 * 1024,
});

/** What the guard changed, by reason (metric label of kyverno_runtime_events_truncated_total). */
export type TruncationReason = 'raw-too-deep' | 'raw-too-large' | 'string-too-long';
export type Truncations = Partial<Record<TruncationReason, number>>;

export type GuardResult = { ok: true; truncations: Truncations | undefined } | { ok: false; detail: string };

/** The marker that stands in for a `raw` that was not kept. */
export interface RawMarker {
  truncated: 'too-deep' | 'too-large';
  limit: number;
}

/**
 * Bounds one event's own fields in place (events are fresh objects per record): over-long strings are
 * cut, and an event nested too deep cannot be evaluated. `raw` is left alone here: it is read by no
 * policy and serialised only when the event is kept, so `boundRaw` bounds it then (the pipeline does,
 * before any sink sees a verdict's event). Returns what was cut, or why the event cannot be evaluated.
 */
export function guardEvent(event: RuntimeEvent, limits: EventLimits = DEFAULT_EVENT_LIMITS): GuardResult {
  noted = undefined;
  const deep = cutStrings(event as unknown as Record<string, unknown>, limits);
  const truncations = noted;
  noted = undefined;
  if (deep) return { ok: false, detail: `event nested deeper than ${limits.maxDepth} levels` };
  return truncations === undefined ? UNCHANGED : { ok: true, truncations };
}

/**
 * Replaces an event's `raw` by a marker when it is deeper than `maxDepth` or larger than `maxRawBytes`
 * (approximate JSON size), before anything serialises it. Returns the reason, or undefined when it fits.
 */
export function boundRaw(
  event: RuntimeEvent,
  limits: EventLimits = DEFAULT_EVENT_LIMITS,
): 'raw-too-deep' | 'raw-too-large' | undefined {
  const raw = event.raw;
  if (raw !== undefined && raw !== null && typeof raw === 'object') {
    const over = measure(raw, limits.maxDepth, limits.maxRawBytes);
    if (over === undefined) return undefined;
    event.raw = {
      truncated: over,
      limit: over === 'too-deep' ? limits.maxDepth : limits.maxRawBytes,
    } satisfies RawMarker;
    return over === 'too-deep' ? 'raw-too-deep' : 'raw-too-large';
  }
  if (typeof raw === 'string' && raw.length > limits.maxRawBytes) {
    event.raw = { truncated: 'too-large', limit: limits.maxRawBytes } satisfies RawMarker;
    return 'raw-too-large';
  }
  return undefined;
}

/** The result of almost every event: shared, so the guard allocates nothing when nothing is cut. */
const UNCHANGED: GuardResult = Object.freeze({ ok: true, truncations: undefined });

/** What the current guardEvent call cut (the guard is never re-entered). */
let noted: Truncations | undefined;

function note(reason: TruncationReason): void {
  noted ??= {};
  noted[reason] = (noted[reason] ?? 0) + 1;
}

/** Adds `b` into `a` (either may be undefined). */
export function mergeTruncations(
  a: Truncations | undefined,
  b: Truncations | undefined,
): Truncations | undefined {
  if (b === undefined) return a;
  if (a === undefined) return { ...b };
  for (const [k, n] of Object.entries(b) as [TruncationReason, number][]) a[k] = (a[k] ?? 0) + n;
  return a;
}

// The walks recurse, one frame per nesting level, and stop the moment a level passes `maxDepth`: the
// stack they use is bounded by the limit, never by the input. (Recursion measured several times faster
// here than an explicit stack, and this runs on every event.)
const MAX_DEPTH_LIMIT = 1000;

/** Bytes still allowed in the current measure (one measure at a time: the walks are never re-entered). */
let bytesLeft = 0;
const FITS = 0;
const TOO_DEEP = 1;
const TOO_LARGE = 2;

/** 'too-deep' | 'too-large' at the first limit crossed, undefined when `value` fits. */
function measure(value: object, maxDepth: number, maxBytes: number): 'too-deep' | 'too-large' | undefined {
  bytesLeft = maxBytes;
  const r = measureLevel(value, Math.min(maxDepth, MAX_DEPTH_LIMIT));
  return r === FITS ? undefined : r === TOO_DEEP ? 'too-deep' : 'too-large';
}

/** Approximate JSON size of `v` charged to bytesLeft; `levelsLeft` counts the nesting still allowed. */
function measureLevel(v: object, levelsLeft: number): number {
  if (levelsLeft === 0) return TOO_DEEP;
  bytesLeft -= 2; // brackets
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const r = measureEntry(v[i], 1, levelsLeft); // comma
      if (r !== FITS) return r;
    }
  } else {
    const o = v as Record<string, unknown>;
    for (const key in o) {
      const r = measureEntry(o[key], key.length + 4, levelsLeft); // "key": and comma
      if (r !== FITS) return r;
    }
  }
  return bytesLeft < 0 ? TOO_LARGE : FITS;
}

function measureEntry(item: unknown, overhead: number, levelsLeft: number): number {
  bytesLeft -= overhead;
  if (typeof item === 'object' && item !== null) return measureLevel(item, levelsLeft - 1);
  bytesLeft -= scalarSize(item);
  return FITS;
}

function scalarSize(v: unknown): number {
  switch (typeof v) {
    case 'string':
      return v.length + 2;
    case 'number':
    case 'bigint':
      return 8;
    case 'boolean':
      return 5;
    case 'object':
      return v === null ? 4 : 0; // containers are measured on their own level
    case 'undefined':
    case 'function':
    case 'symbol':
      return 0; // not JSON: JSON.stringify leaves them out
  }
}

/**
 * Cuts over-long strings in the event's own fields (not `raw`, measured apart). Returns true when
 * the event is nested deeper than the limit (only hand-built RuntimeEvent JSON can be: the adapters
 * build fixed shapes).
 */
function cutStrings(event: Record<string, unknown>, limits: EventLimits): boolean {
  return cutLevel(event, Math.min(limits.maxDepth, MAX_DEPTH_LIMIT), limits.maxStringLength, true);
}

function cutLevel(
  v: Record<string, unknown> | unknown[],
  levelsLeft: number,
  maxLength: number,
  top: boolean,
): boolean {
  if (levelsLeft === 0) return true;
  if (Array.isArray(v)) {
    const list = v as unknown as Record<string, unknown>;
    for (let i = 0; i < v.length; i++) if (cutEntry(list, i, levelsLeft, maxLength)) return true;
    return false;
  }
  for (const key in v) {
    if (top && key === 'raw') continue;
    if (cutEntry(v, key, levelsLeft, maxLength)) return true;
  }
  return false;
}

/** Cuts `holder[key]` if it is an over-long string, or walks it if it is a container. */
function cutEntry(
  holder: Record<string, unknown>,
  key: string | number,
  levelsLeft: number,
  maxLength: number,
): boolean {
  const item = holder[key];
  if (typeof item === 'string') {
    if (item.length > maxLength) {
      holder[key] = cut(item, maxLength);
      note('string-too-long');
    }
    return false;
  }
  return (
    typeof item === 'object' &&
    item !== null &&
    cutLevel(item as Record<string, unknown>, levelsLeft - 1, maxLength, false)
  );
}

function cut(s: string, max: number): string {
  // Never leave half a surrogate pair at the cut.
  let end = max;
  const c = s.charCodeAt(end - 1);
  if (c >= 0xd800 && c <= 0xdbff) end--;
  return `${s.slice(0, end)}…[${s.length - end} more characters]`;
}
