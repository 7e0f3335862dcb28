/**
 * Which rule parts read nothing but the event. The runtime view is the attributed resource plus
 * `behavior` and `event`, and the variable context holds `request` (with the resource) beside `event`
 * and `behavior`; building those per event means building the resource too (a pod synthesised from
 * the event when there is no cluster). Most runtime rules look only at the event, so for them the
 * engine evaluates the same part against `{ behavior, event }` alone: a pattern reads only the keys
 * it names, and a plain `{{ event.… }}` path only the `event` entry, so the outcome — result, error
 * and message — is the same (test/unit/engine/runtime-event-only.test.ts checks it against the full
 * view and context).
 */
import { parseAnchor } from '../pattern/index.js';
import { everyVariableIs } from './variable-scan.js';

const EVENT_KEYS: ReadonlySet<string> = new Set(['event', 'behavior']);

/** True when every top-level key of a static pattern (anchors stripped) is `event` or `behavior`. */
export function patternReadsOnlyEvent(pattern: unknown): boolean {
  if (typeof pattern !== 'object' || pattern === null || Array.isArray(pattern)) return false;
  const keys = Object.keys(pattern);
  if (keys.length === 0) return false;
  return keys.every((key) => !key.includes('{{') && EVENT_KEYS.has(parseAnchor(key)?.key ?? key));
}

/** `{{ event.a.b }}` or `{{ behavior }}` (optionally `{{- … }}`): a plain path from an event key. */
const EVENT_VARIABLE = /^\{\{-?\s*(?:event|behavior)(?:\.[A-Za-z_][A-Za-z0-9_]*)*\s*\}\}$/;

/**
 * True when every `{{ }}` in the part is a plain path from `event` or `behavior`, and it holds no
 * `$( )` reference or unpaired braces (anything else may read `request`, `container` or a function).
 */
export function variablesReadOnlyEvent(part: unknown): boolean {
  if (part === undefined) return false;
  return everyVariableIs(JSON.stringify(part), EVENT_VARIABLE);
}
