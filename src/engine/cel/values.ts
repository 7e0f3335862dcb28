/**
 * JSON ↔ CEL values. Kubernetes CEL types JSON integers as `int` (and cel-js represents `int` as BigInt), so an
 * integral JS number becomes a BigInt; everything else maps directly. Conversions of objects are memoised per
 * source object (a WeakMap), so the Pod shared by many events and rules is converted once. Callers must treat
 * evaluated objects as immutable (the engine builds new objects rather than mutating cached ones).
 */

import { Optional } from '@marcbachmann/cel-js';
import { formatQuantity } from '../quantity.js';
import { CelQuantity, CelUrl } from './kubernetes-library.js';

/** A library value whose plain-JSON form is its text (see fromCel). */
export interface CelTextValue {
  toCelText(): string;
}

const converted = new WeakMap<object, unknown>();

export function toCel(value: unknown): unknown {
  switch (typeof value) {
    case 'number':
      return Number.isInteger(value) && Number.isSafeInteger(value) ? BigInt(value) : value;
    case 'object': {
      if (value === null) return null;
      const hit = converted.get(value);
      if (hit !== undefined) return hit;
      let out: unknown;
      if (Array.isArray(value)) {
        out = value.map(toCel);
      } else if (value instanceof Map || value instanceof Date || value instanceof Uint8Array) {
        out = value;
      } else {
        const obj: Record<string, unknown> = {};
        for (const [k, v] of Object.entries(value)) obj[k] = toCel(v);
        out = obj;
      }
      converted.set(value, out);
      return out;
    }
    case 'bigint':
    case 'boolean':
    case 'function':
    case 'string':
    case 'symbol':
    case 'undefined':
      return value;
  }
}

/** Plain JSON from a CEL result: BigInt → number, Map → object, Set → array, Date → RFC 3339. */
export function fromCel(value: unknown): unknown {
  switch (typeof value) {
    case 'bigint':
      return Number(value);
    case 'object': {
      if (value === null) return null;
      if (Array.isArray(value)) return value.map(fromCel);
      if (value instanceof Set) return [...value].map(fromCel);
      if (value instanceof Map) {
        const out: Record<string, unknown> = {};
        for (const [k, v] of value) out[String(k)] = fromCel(v);
        return out;
      }
      if (value instanceof Date) return value.toISOString();
      if (value instanceof CelQuantity) return formatQuantity(value.q);
      if (value instanceof CelUrl) return value.url.href;
      if (value instanceof Optional) return value.hasValue() ? fromCel(value.value()) : null;
      if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
      // Library values with a text form (ip, cidr, semver, image references) read as that text.
      if (typeof (value as Partial<CelTextValue>).toCelText === 'function')
        return (value as CelTextValue).toCelText();
      const proto: unknown = Object.getPrototypeOf(value);
      if (proto === Object.prototype || proto === null) {
        const out: Record<string, unknown> = {};
        for (const [k, v] of Object.entries(value)) out[k] = fromCel(v);
        return out;
      }
      // Other engine-internal values (types, durations) have no JSON form.
      return null;
    }
    case 'boolean':
    case 'function':
    case 'number':
    case 'string':
    case 'symbol':
    case 'undefined':
      return value;
  }
}

/**
 * A bounded memo for library parsers (`cidr('10.0.0.0/8')`, `image(…)`, `semver(…)`) whose argument is usually
 * a constant or a value repeated across events. Results are immutable; when full, the memo starts over, so
 * memory stays bounded whatever the input.
 */
export function boundedMemo<T>(parse: (s: string) => T, max = 4096, maxKeyLength = 256): (s: string) => T {
  const memo = new Map<string, T>();
  return (s) => {
    if (s.length > maxKeyLength) return parse(s);
    const hit = memo.get(s);
    if (hit !== undefined) return hit;
    const value = parse(s);
    if (memo.size >= max) memo.clear();
    memo.set(s, value);
    return value;
  };
}
