/**
 * The one bound on what an event keeps, applied at the ingest edge to every adapter's output
 * (adaptRecord) and to the built-in sensor's events. Input is hostile: a record nested 100 000 deep
 * parses fine (V8's JSON.parse is iterative) but makes every later recursive walk — JSON.stringify
 * in the store, the live stream, the logger — throw RangeError, and a multi-megabyte string would be
 * copied into every row, log line and stream frame. So:
 * - `raw` deeper than `maxDepth` or larger than `maxRawBytes` (approximate JSON size) is replaced by
 *   a marker `{ truncated: <reason>, limit }`; the event itself is still evaluated;
 * - every string of the event longer than `maxStringLength` is cut and marked
 *   (`…[N more characters]`): policies then see the cut value;
 * - an event (raw aside) nested deeper than `maxDepth` is not evaluated: skipped as "too-deep".
 * Every measure is an explicit-stack walk that stops at the first limit, never recursion.
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
 * Bounds one event in place (events are fresh objects per record; `raw` is only re-pointed, never
 * edited). Returns what was truncated, or why the event cannot be evaluated.
 */
export function guardEvent(event: RuntimeEvent, limits: EventLimits = DEFAULT_EVENT_LIMITS): GuardResult {
  let truncations: Truncations | undefined;
  const note = (reason: TruncationReason): void => {
    truncations ??= {};
    truncations[reason] = (truncations[reason] ?? 0) + 1;
  };
  const raw = event.raw;
  if (raw !== undefined && raw !== null && typeof raw === 'object') {
    const over = measure(raw, limits.maxDepth, limits.maxRawBytes);
    if (over !== undefined) {
      event.raw = {
        truncated: over,
        limit: over === 'too-deep' ? limits.maxDepth : limits.maxRawBytes,
      } satisfies RawMarker;
      note(over === 'too-deep' ? 'raw-too-deep' : 'raw-too-large');
    }
  } else if (typeof raw === 'string' && raw.length > limits.maxRawBytes) {
    event.raw = { truncated: 'too-large', limit: limits.maxRawBytes } satisfies RawMarker;
    note('raw-too-large');
  }
  const deep = cutStrings(event as unknown as Record<string, unknown>, limits, note);
  if (deep) return { ok: false, detail: `event nested deeper than ${limits.maxDepth} levels` };
  return { ok: true, truncations };
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

// Reused across calls: the walks run on every event and are never re-entered.
const stack: unknown[] = [];
const depths: number[] = [];

/** 'too-deep' | 'too-large' at the first limit crossed, undefined when `value` fits. */
function measure(value: object, maxDepth: number, maxBytes: number): 'too-deep' | 'too-large' | undefined {
  stack.length = 0;
  depths.length = 0;
  stack.push(value);
  depths.push(1);
  let bytes = 0;
  try {
    while (stack.length > 0) {
      const v = stack.pop();
      const depth = depths.pop()!;
      if (depth > maxDepth) return 'too-deep';
      bytes += 2; // brackets
      if (Array.isArray(v)) {
        for (let i = 0; i < v.length; i++) {
          bytes += 1 + scalarSize(v[i]); // comma
          const item: unknown = v[i];
          if (item !== null && typeof item === 'object') {
            stack.push(item);
            depths.push(depth + 1);
          }
        }
      } else {
        const o = v as Record<string, unknown>;
        for (const key in o) {
          const item = o[key];
          bytes += key.length + 4 + scalarSize(item); // "key": and comma
          if (item !== null && typeof item === 'object') {
            stack.push(item);
            depths.push(depth + 1);
          }
        }
      }
      if (bytes > maxBytes) return 'too-large';
    }
    return undefined;
  } finally {
    stack.length = 0;
    depths.length = 0;
  }
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
      return v === null ? 4 : 0; // containers are measured when popped
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
function cutStrings(
  event: Record<string, unknown>,
  limits: EventLimits,
  note: (reason: TruncationReason) => void,
): boolean {
  stack.length = 0;
  depths.length = 0;
  stack.push(event);
  depths.push(1);
  try {
    while (stack.length > 0) {
      const v = stack.pop() as Record<string, unknown> | unknown[];
      const depth = depths.pop()!;
      if (depth > limits.maxDepth) return true;
      if (Array.isArray(v)) {
        for (let i = 0; i < v.length; i++) {
          const item: unknown = v[i];
          if (typeof item === 'string') {
            if (item.length > limits.maxStringLength) {
              v[i] = cut(item, limits.maxStringLength);
              note('string-too-long');
            }
          } else if (item !== null && typeof item === 'object') {
            stack.push(item);
            depths.push(depth + 1);
          }
        }
        continue;
      }
      for (const key in v) {
        if (depth === 1 && key === 'raw') continue;
        const item = v[key];
        if (typeof item === 'string') {
          if (item.length > limits.maxStringLength) {
            v[key] = cut(item, limits.maxStringLength);
            note('string-too-long');
          }
        } else if (item !== null && typeof item === 'object') {
          stack.push(item);
          depths.push(depth + 1);
        }
      }
    }
    return false;
  } finally {
    stack.length = 0;
    depths.length = 0;
  }
}

function cut(s: string, max: number): string {
  // Never leave half a surrogate pair at the cut.
  let end = max;
  const c = s.charCodeAt(end - 1);
  if (c >= 0xd800 && c <= 0xdbff) end--;
  return `${s.slice(0, end)}…[${s.length - end} more characters]`;
}
