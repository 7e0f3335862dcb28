/**
 * JSON ↔ CEL values. Kubernetes CEL types JSON integers as `int` (and cel-js represents `int` as BigInt), so an
 * integral JS number becomes a BigInt; everything else maps directly. Conversions of objects are memoised per
 * source object (a WeakMap), so the Pod shared by many events and rules is converted once. Callers must treat
 * evaluated objects as immutable (the engine builds new objects rather than mutating cached ones).
 */

import { Optional } from '@marcbachmann/cel-js';
import { formatQuantity } from '../quantity.js';
import { CelQuantity, CelUrl } from './kubernetes-library.js';

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

/**
 * Converts a value built for one evaluation (a RuntimeEvent) without memoising its parts: the WeakMap
 * entries would outlive nothing worth reusing and cost more than the conversion. Keys in `lazyKeys`
 * (the tool's raw payload, often the largest part) become own getters converted on first read, so
 * `has()` still sees them and an expression that never reads them never pays for them. With `only`,
 * just those keys are converted: the caller knows no expression reads any other.
 */
export function toCelOnce(
  value: Record<string, unknown>,
  lazyKeys?: ReadonlySet<string>,
  only?: readonly string[],
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  // `only`: the keys some expression reads; the others are left out (as if absent).
  for (const k of only ?? Object.keys(value)) {
    if (only && !Object.hasOwn(value, k)) continue;
    const v = value[k];
    if (lazyKeys?.has(k) && v !== null && typeof v === 'object') {
      let done = false;
      let converted: unknown;
      Object.defineProperty(out, k, {
        enumerable: true,
        get() {
          if (!done) {
            converted = toCel(v);
            done = true;
          }
          return converted;
        },
      });
    } else out[k] = fresh(v);
  }
  return out;
}

function fresh(value: unknown): unknown {
  if (typeof value === 'number')
    return Number.isInteger(value) && Number.isSafeInteger(value) ? BigInt(value) : value;
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map(fresh);
  if (value instanceof Map || value instanceof Date || value instanceof Uint8Array) return value;
  const obj: Record<string, unknown> = {};
  for (const k of Object.keys(value)) obj[k] = fresh((value as Record<string, unknown>)[k]);
  return obj;
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
