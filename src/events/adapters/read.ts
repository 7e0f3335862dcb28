/**
 * Defensive readers for untrusted JSON: every adapter reads fields through these, so a wrong type
 * anywhere yields `undefined` (the field is treated as absent) instead of a throw. Hand-written
 * rather than a zod schema per tool because tool payloads are wide, loosely typed and versioned;
 * reading only the fields we map, once, is both faster and more tolerant (unknown keys ignored).
 */
import { blankRecord } from '../../util/blank-record.js';

export type JsonObject = Record<string, unknown>;

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function obj(value: unknown): JsonObject | undefined {
  return isObject(value) ? value : undefined;
}

/** Non-empty string; Falco's "<NA>"/"N/A" placeholders count as absent. */
export function str(value: unknown): string | undefined {
  if (typeof value !== 'string' || value.length === 0) return undefined;
  if (value === '<NA>' || value === 'N/A') return undefined;
  return value;
}

/** A non-negative safe integer from a number or a decimal string (protojson 64-bit ints are strings). */
export function uint(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value >= 0 ? value : undefined;
  if (typeof value === 'string' && value.length > 0 && value.length <= 16 && isDigits(value)) {
    return Number(value);
  }
  return undefined;
}

/** A 32-bit unsigned id (uid, pid): anything else is absent. */
export function uint32(value: unknown): number | undefined {
  const n = uint(value);
  return n !== undefined && n <= 0xffffffff ? n : undefined;
}

export function port(value: unknown): number | undefined {
  const n = uint(value);
  return n !== undefined && n <= 65535 ? n : undefined;
}

/** Any safe integer, negative included (Tetragon int_arg, flags). */
export function int(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isSafeInteger(value) ? value : undefined;
  if (typeof value === 'string' && value.length > 0 && value.length <= 17) {
    const body = value.startsWith('-') ? value.slice(1) : value;
    if (body.length > 0 && isDigits(body)) return Number(value);
  }
  return undefined;
}

function isDigits(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

export function strArray(value: unknown): string[] | undefined {
  if (!Array.isArray(value)) return undefined;
  const out: string[] = [];
  for (const item of value) if (typeof item === 'string') out.push(item);
  return out;
}

/**
 * A map of string values (labels); non-string values are dropped. When every value is already a
 * string (nearly always) the parsed object itself is returned, not a copy: adapters read freshly
 * parsed input that nothing else holds, and events are never mutated after adaptation.
 */
export function stringMap(value: unknown): Record<string, string> | undefined {
  if (!isObject(value)) return undefined;
  let size = 0;
  for (const key in value) {
    if (typeof value[key] !== 'string') return copyStrings(value);
    size++;
  }
  return size > 0 ? (value as Record<string, string>) : undefined;
}

function copyStrings(value: JsonObject): Record<string, string> | undefined {
  let out: Record<string, string> | undefined;
  for (const key of Object.keys(value)) {
    const v = value[key];
    if (typeof v === 'string') out = withLabel(out, key, v);
  }
  return out;
}

/**
 * Adds one label to a map read from input, creating the map on first use. defineProperty, not
 * assignment: a "__proto__" key from the input must stay a plain key, not replace the prototype.
 */
function withLabel(
  map: Record<string, string> | undefined,
  key: string,
  value: string,
): Record<string, string> {
  const out = map ?? {};
  Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
  return out;
}

/**
 * Parses "k=v,k2=v2" (KubeArmor Labels) or "k:v,k2:v2" (Falco k8s.pod.labels) into a map. Commas and
 * spaces both separate entries (label keys and values cannot contain either); entries without the
 * separator are ignored.
 */
export function parseLabelList(value: string, separator: '=' | ':'): Record<string, string> | undefined {
  let out: Record<string, string> | undefined;
  let start = 0;
  for (let i = 0; i <= value.length; i++) {
    const c = i < value.length ? value.charCodeAt(i) : 44;
    if (c !== 44 && c !== 32) continue; // comma, space
    const part = value.slice(start, i);
    start = i + 1;
    const at = part.indexOf(separator);
    if (at <= 0) continue;
    out = withLabel(out, part.slice(0, at), part.slice(at + 1));
  }
  return out;
}

/**
 * Drops undefined values so events stay small and JSON output stays clean; undefined when nothing
 * is left. Copies into a fresh literal rather than deleting keys: deletes push V8 objects into slow
 * dictionary mode, which showed as the adapters' top cost in a profile.
 */
export function compact<T extends object>(value: T): T | undefined {
  let out: Record<string, unknown> | undefined;
  const source = value as Record<string, unknown>;
  for (const key in source) {
    const v = source[key];
    if (v === undefined) continue;
    out ??= blankRecord();
    out[key] = v;
  }
  return out as T | undefined;
}

/** True when the object has no own enumerable key (used after building an info block field by field). */
export function isEmpty(value: object): boolean {
  for (const key in value) if (Object.hasOwn(value, key)) return false;
  return true;
}
