/**
 * Raw tool output → RuntimeEvent. Pure, no I/O, one record at
 * a time, never throws on bad input: every record yields an AdaptOutcome, either events or a skip
 * with a stable reason token (SKIP_REASONS, documented in docs/events.md).
 */
import { adaptFalco, looksLikeFalco, looksLikeFalcoText } from './falco.js';
import {
  DEFAULT_EVENT_LIMITS,
  guardEvent,
  mergeTruncations,
  type EventLimits,
  type Truncations,
} from './guard.js';
import { adaptKubeArmor, looksLikeKubeArmor } from './kubearmor.js';
import {
  DEFAULT_MAX_LINE_LENGTH,
  skip,
  type AdaptOptions,
  type AdaptOutcome,
  type SourceFormat,
} from './outcome.js';
import { isObject, type JsonObject } from './read.js';
import { adaptCloudEvent, adaptRuntimeEvent, looksLikeCloudEvent, looksLikeRuntimeEvent } from './runtime.js';
import { adaptTetragon, looksLikeTetragon } from './tetragon.js';
import { adaptTracee, looksLikeTracee } from './tracee.js';

export type { AdaptOptions, AdaptOutcome, SkipReason, SourceFormat } from './outcome.js';
export { SKIP_REASONS, SOURCE_FORMATS, DEFAULT_MAX_LINE_LENGTH } from './outcome.js';
export { FALCO_CLOUDEVENT_TYPE, RUNTIME_EVENT_CLOUDEVENT_TYPE } from './runtime.js';
export {
  DEFAULT_EVENT_LIMITS,
  guardEvent,
  type EventLimits,
  type TruncationReason,
  type Truncations,
} from './guard.js';

/** Which adapter an object's shape belongs to, or undefined. Cheap key checks, most specific first. */
export function detectFormat(record: unknown): SourceFormat | undefined {
  if (!isObject(record)) return undefined;
  if (looksLikeCloudEvent(record)) return 'cloudevents';
  if (looksLikeRuntimeEvent(record)) return 'runtime';
  if (looksLikeFalco(record)) return 'falco';
  if (looksLikeTetragon(record)) return 'tetragon';
  if (looksLikeKubeArmor(record)) return 'kubearmor';
  if (looksLikeTracee(record)) return 'tracee';
  return undefined;
}

export function adaptRecord(
  record: unknown,
  format: SourceFormat | 'auto',
  options: AdaptOptions = {},
  /** Length of the text the record was parsed from, when known (adaptLine): lets the guard skip work. */
  sourceLength?: number,
): AdaptOutcome {
  try {
    return guarded(dispatch(record, format, options), options, sourceLength);
  } catch (err) {
    // Defence in depth: adapters are written not to throw; if one does, count it, never crash.
    return skip('adapter-error', err instanceof Error ? err.message : String(err));
  }
}

/**
 * Room for text an adapter adds to what it copies from the record (a joined path, a rule name); the
 * adapters never build a string longer than the record's text plus this.
 */
const ADAPTER_SLACK = 1024;

/** Every adapter's events pass the one ingest guard (depth and size bounds), whatever the format. */
function guarded(outcome: AdaptOutcome, options: AdaptOptions, sourceLength?: number): AdaptOutcome {
  // Kept small, the walk out of line: this is inlined into adaptLine on every event, and a larger body
  // there took the inlining room the adapters' own helpers had.
  if (outcome.kind !== 'events') return outcome;
  // The tool adapters build fixed, shallow shapes from substrings of the record: from a short enough
  // line no string can reach the cap, so the walk is skipped. A RuntimeEvent (bare or in a
  // CloudEvent) is the record itself, of any depth, and is always walked.
  const format = outcome.format;
  if (
    sourceLength !== undefined &&
    format !== 'runtime' &&
    format !== 'cloudevents' &&
    sourceLength + ADAPTER_SLACK <= (options.limits ?? DEFAULT_EVENT_LIMITS).maxStringLength
  )
    return outcome;
  return guardEvents(outcome, options.limits ?? DEFAULT_EVENT_LIMITS);
}

function guardEvents(outcome: AdaptOutcome & { kind: 'events' }, limits: EventLimits): AdaptOutcome {
  let truncated: Truncations | undefined;
  for (const event of outcome.events) {
    const result = guardEvent(event, limits);
    if (!result.ok) return skip('too-deep', result.detail);
    truncated = mergeTruncations(truncated, result.truncations);
  }
  return truncated === undefined ? outcome : { ...outcome, truncated };
}

function dispatch(record: unknown, format: SourceFormat | 'auto', options: AdaptOptions): AdaptOutcome {
  const resolved = format === 'auto' ? detectFormat(record) : format;
  if (resolved === undefined) {
    return skip(
      'unknown-format',
      isObject(record)
        ? `unrecognised object keys: ${keyList(record)}`
        : `not a JSON object (${kindOf(record)})`,
    );
  }
  if (resolved === 'runtime') return adaptRuntimeEvent(record, options);
  if (!isObject(record))
    return skip('invalid-event', `${resolved}: expected a JSON object, got ${kindOf(record)}`);
  switch (resolved) {
    case 'tetragon':
      return adaptTetragon(record, options);
    case 'falco':
      return adaptFalco(record, options);
    case 'kubearmor':
      return adaptKubeArmor(record, options);
    case 'tracee':
      return adaptTracee(record, options);
    case 'cloudevents':
      return adaptCloudEvent(record, options);
  }
}

/**
 * JSON.parse + adaptRecord; malformed JSON gives reason "malformed-json". A blank line yields an
 * empty event list (nothing to count: not an event, not a drop).
 */
export function adaptLine(
  line: string,
  format: SourceFormat | 'auto',
  options: AdaptOptions = {},
): AdaptOutcome {
  if (isBlankLine(line))
    return { kind: 'events', format: format === 'auto' ? 'runtime' : format, events: [] };
  const max = options.maxLineLength ?? DEFAULT_MAX_LINE_LENGTH;
  if (line.length > max) return skip('too-large', `line of ${line.length} characters exceeds ${max}`);
  let parsed: unknown;
  try {
    // A byte-order mark (first line of a file saved by some editors) is not JSON whitespace.
    parsed = JSON.parse(line.charCodeAt(0) === 0xfeff ? line.slice(1) : line);
  } catch (err) {
    if ((format === 'auto' || format === 'falco') && looksLikeFalcoText(line)) {
      return skip('text-format', 'Falco text output; configure json_output: true');
    }
    return skip('malformed-json', err instanceof Error ? err.message : 'invalid JSON');
  }
  return adaptRecord(parsed, format, options, line.length);
}

/** True for lines a reader should ignore without counting (blank or whitespace only). */
export function isBlankLine(line: string): boolean {
  for (let i = 0; i < line.length; i++) {
    const c = line.charCodeAt(i);
    if (c !== 32 && c !== 9 && c !== 13 && c !== 10) return false;
  }
  return true;
}

function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

function keyList(record: JsonObject): string {
  const keys = Object.keys(record);
  const shown = keys.slice(0, 6).join(', ');
  return keys.length > 6 ? `${shown}, … (${keys.length} keys)` : shown || '(none)';
}
