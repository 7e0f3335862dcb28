/**
 * JSON ↔ CEL values. Kubernetes CEL types JSON integers as `int` (and cel-js represents `int` as BigInt), so an
 * integral JS number becomes a BigInt; everything else maps directly. Conversions of objects are memoised per
 * source object (a WeakMap), so the Pod shared by many events and rules is converted once. Callers must treat
 * evaluated objects as immutable (the engine builds new objects rather than mutating cached ones).
 */

import { Optional } from '@marcbachmann/cel-js';
import { formatQuantity } from '../quantity.js';
import { CelQuantity, CelUrl } from './kubernetes-library.js';
import type { FieldTree } from './references.js';

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

/**
 * Converts a value built for one evaluation (a RuntimeEvent) without memoising its parts: the WeakMap
 * entries would outlive nothing worth reusing and cost more than the conversion. Keys in `lazyKeys`
 * (the tool's raw payload, often the largest part) become own getters converted on first read, so
 * `has()` still sees them and an expression that never reads them never pays for them.
 */
export function toCelOnce(
  value: Record<string, unknown>,
  lazyKeys?: ReadonlySet<string>,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(value)) {
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

/**
 * A part that holds nothing to convert (strings, booleans, null, and plain objects and arrays of
 * them: the labels, the arguments) is already a CEL value and is returned as is; a copy is made only
 * from the first child that changes.
 */
function fresh(value: unknown): unknown {
  if (typeof value === 'number')
    return Number.isInteger(value) && Number.isSafeInteger(value) ? BigInt(value) : value;
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      const c = fresh(item);
      if (c !== item && out === undefined) out = value.slice(0, i) as unknown[];
      if (out !== undefined) out.push(c);
    }
    return out ?? value;
  }
  if (value instanceof Map || value instanceof Date || value instanceof Uint8Array) return value;
  const source = value as Record<string, unknown>;
  const proto: unknown = Object.getPrototypeOf(source);
  // Another class would not be a CEL map as it is: copied into a plain object, as toCel does.
  let out: Record<string, unknown> | undefined =
    proto === Object.prototype || proto === null ? undefined : {};
  const keys = Object.keys(source);
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]!;
    const item = source[k];
    const c = fresh(item);
    if (c !== item && out === undefined) {
      out = {};
      for (let j = 0; j < i; j++) out[keys[j]!] = source[keys[j]!];
    }
    if (out !== undefined) out[k] = c;
  }
  return out ?? source;
}

/**
 * A converter of only the paths of a value that `tree` selects, for CEL (as toCelOnce, no
 * memoising): the other parts are left out, which no expression can tell since none reads them. A
 * selected part that is not a plain object is kept whole, so selecting a field of it fails as it
 * would on the whole value. Compiled once from the tree: the event path only walks arrays.
 */
export function compileProjection(tree: FieldTree): (value: unknown) => unknown {
  if (tree.whole) return fresh;
  const names: string[] = [];
  const parts: ((value: unknown) => unknown)[] = [];
  for (const [name, child] of tree.children) {
    names.push(name);
    parts.push(compileProjection(child));
  }
  return (value) => {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return fresh(value);
    const proto: unknown = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) return fresh(value);
    const source = value as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    for (let i = 0; i < names.length; i++) {
      const name = names[i]!;
      if (Object.hasOwn(source, name)) out[name] = parts[i]!(source[name]);
    }
    return out;
  };
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
