/**
 * The Kubernetes CEL libraries (k8s.io/apiserver/pkg/cel/library) and cel-go extensions that Kyverno policies
 * use, registered on a cel-js Environment: quantity, url, lists, extra string functions and sets
 * (the regex library is in regex-library.ts).
 * None ships with a JS CEL engine, so they are written here against our exact Quantity type.
 */
import type { Environment } from '@marcbachmann/cel-js';
import {
  addQuantity,
  compareQuantity,
  formatQuantity,
  parseQuantity,
  quantityFromInteger,
  quantityToDecimalString,
  quantityToNumber,
  subtractQuantity,
  type Quantity,
} from '../quantity.js';

/** A CEL `Quantity` value. */
export class CelQuantity {
  constructor(readonly q: Quantity) {}
  toString(): string {
    return formatQuantity(this.q);
  }
}

/** A CEL `URL` value. */
export class CelUrl {
  constructor(readonly url: URL) {}
}

/** The receiver of `sets.*` functions. */
export class CelSetsNamespace {}

function celError(message: string): Error {
  return new Error(message);
}

function quantityOf(s: string): CelQuantity {
  const q = parseQuantity(s);
  if (q === undefined)
    throw celError(`quantities must match the regular expression; invalid quantity ${JSON.stringify(s)}`);
  return new CelQuantity(q);
}

function asInt64(q: Quantity): bigint {
  const text = quantityToDecimalString(q);
  if (!/^-?\d+$/.test(text)) throw celError('cannot convert value to integer');
  const v = BigInt(text);
  if (v > 9223372036854775807n || v < -9223372036854775808n)
    throw celError('cannot convert value to integer');
  return v;
}

function compareCel(a: unknown, b: unknown): number {
  if (typeof a === 'string' && typeof b === 'string') return a < b ? -1 : a > b ? 1 : 0;
  if ((typeof a === 'bigint' || typeof a === 'number') && (typeof b === 'bigint' || typeof b === 'number')) {
    return a < b ? -1 : a > b ? 1 : 0;
  }
  if (a instanceof CelQuantity && b instanceof CelQuantity) return compareQuantity(a.q, b.q);
  if (a instanceof Date && b instanceof Date) return a.getTime() - b.getTime();
  throw celError('list elements are not comparable');
}

function celEqual(a: unknown, b: unknown): boolean {
  if (a instanceof CelQuantity && b instanceof CelQuantity) return compareQuantity(a.q, b.q) === 0;
  if (Array.isArray(a) && Array.isArray(b))
    return a.length === b.length && a.every((x, i) => celEqual(x, b[i]));
  // CEL heterogeneous numeric equality: 1 == 1.0 (bigint vs number).
  if ((typeof a === 'bigint' || typeof a === 'number') && (typeof b === 'bigint' || typeof b === 'number')) {
    return Number(a) === Number(b);
  }
  return a === b;
}

function toList(v: unknown): unknown[] {
  if (Array.isArray(v)) return v;
  if (v instanceof Set) return [...(v as Set<unknown>)];
  throw celError('expected a list');
}

function goReplaceN(s: string, from: string, to: string, n: bigint): string {
  if (n < 0n) return s.split(from).join(to);
  let out = '';
  let rest = s;
  for (let i = 0n; i < n; i++) {
    const idx = rest.indexOf(from);
    if (idx < 0 || from === '') break;
    out += rest.slice(0, idx) + to;
    rest = rest.slice(idx + from.length);
  }
  return out + rest;
}

export function registerKubernetesLibrary(env: Environment): void {
  // --- quantity ---------------------------------------------------------------------------------------------
  env.registerType('Quantity', CelQuantity);
  env.registerFunction('quantity(string): Quantity', (s: string) => quantityOf(s));
  env.registerFunction('isQuantity(string): bool', (s: string) => parseQuantity(s) !== undefined);
  env.registerFunction('Quantity.isInteger(): bool', (q: CelQuantity) =>
    /^-?\d+$/.test(quantityToDecimalString(q.q)),
  );
  env.registerFunction('Quantity.asInteger(): int', (q: CelQuantity) => asInt64(q.q));
  env.registerFunction('Quantity.asApproximateFloat(): double', (q: CelQuantity) => quantityToNumber(q.q));
  env.registerFunction('Quantity.sign(): int', (q: CelQuantity) => BigInt(q.q.sign));
  env.registerFunction('Quantity.compareTo(Quantity): int', (a: CelQuantity, b: CelQuantity) =>
    BigInt(compareQuantity(a.q, b.q)),
  );
  env.registerFunction(
    'Quantity.isGreaterThan(Quantity): bool',
    (a: CelQuantity, b: CelQuantity) => compareQuantity(a.q, b.q) > 0,
  );
  env.registerFunction(
    'Quantity.isLessThan(Quantity): bool',
    (a: CelQuantity, b: CelQuantity) => compareQuantity(a.q, b.q) < 0,
  );
  env.registerFunction(
    'Quantity.add(Quantity): Quantity',
    (a: CelQuantity, b: CelQuantity) => new CelQuantity(addQuantity(a.q, b.q)),
  );
  env.registerFunction(
    'Quantity.add(int): Quantity',
    (a: CelQuantity, b: bigint) => new CelQuantity(addQuantity(a.q, quantityFromInteger(b))),
  );
  env.registerFunction(
    'Quantity.sub(Quantity): Quantity',
    (a: CelQuantity, b: CelQuantity) => new CelQuantity(subtractQuantity(a.q, b.q)),
  );
  env.registerFunction(
    'Quantity.sub(int): Quantity',
    (a: CelQuantity, b: bigint) => new CelQuantity(subtractQuantity(a.q, quantityFromInteger(b))),
  );
  env.registerOperator(
    'Quantity == Quantity',
    (a: CelQuantity, b: CelQuantity) => compareQuantity(a.q, b.q) === 0,
  );

  // --- url --------------------------------------------------------------------------------------------------
  env.registerType('URL', CelUrl);
  const parseUrl = (s: string): URL | undefined => {
    try {
      return new URL(s);
    } catch {
      return undefined;
    }
  };
  env.registerFunction('url(string): URL', (s: string) => {
    const u = parseUrl(s);
    if (u === undefined) throw celError(`URL parse error during conversion from string: ${s}`);
    return new CelUrl(u);
  });
  env.registerFunction('isURL(string): bool', (s: string) => parseUrl(s) !== undefined);
  env.registerFunction('URL.getScheme(): string', (u: CelUrl) => u.url.protocol.replace(/:$/, ''));
  env.registerFunction('URL.getHost(): string', (u: CelUrl) => u.url.host);
  env.registerFunction('URL.getHostname(): string', (u: CelUrl) => u.url.hostname.replace(/^\[|\]$/g, ''));
  env.registerFunction('URL.getPort(): string', (u: CelUrl) => u.url.port);
  env.registerFunction('URL.getEscapedPath(): string', (u: CelUrl) => u.url.pathname);
  env.registerFunction('URL.getQuery(): map', (u: CelUrl) => {
    const out: Record<string, string[]> = {};
    for (const [k, v] of u.url.searchParams) (out[k] ??= []).push(v);
    return out;
  });

  // --- lists ------------------------------------------------------------------------------------------------
  env.registerFunction('list.isSorted(): bool', (l: unknown) => {
    const a = toList(l);
    for (let i = 1; i < a.length; i++) if (compareCel(a[i - 1], a[i]) > 0) return false;
    return true;
  });
  env.registerFunction('list.sum(): dyn', (l: unknown) => {
    const a = toList(l);
    if (a.length === 0) return 0n;
    let acc: unknown = a[0];
    for (let i = 1; i < a.length; i++) {
      const x = a[i];
      if (typeof acc === 'bigint' && typeof x === 'bigint') acc = acc + x;
      else if (typeof acc === 'number' && typeof x === 'number') acc = acc + x;
      else if (acc instanceof CelQuantity && x instanceof CelQuantity)
        acc = new CelQuantity(addQuantity(acc.q, x.q));
      else throw celError('sum: list elements must be numbers of one type');
    }
    return acc;
  });
  const extreme = (sign: 1 | -1) => (l: unknown) => {
    const a = toList(l);
    if (a.length === 0) throw celError(`${sign > 0 ? 'max' : 'min'}: list is empty`);
    let best = a[0];
    for (const x of a) if (compareCel(x, best) * sign > 0) best = x;
    return best;
  };
  env.registerFunction('list.max(): dyn', extreme(1));
  env.registerFunction('list.min(): dyn', extreme(-1));
  env.registerFunction('list.indexOf(dyn): int', (l: unknown, x: unknown) =>
    BigInt(toList(l).findIndex((e) => celEqual(e, x))),
  );
  env.registerFunction('list.lastIndexOf(dyn): int', (l: unknown, x: unknown) => {
    const a = toList(l);
    for (let i = a.length - 1; i >= 0; i--) if (celEqual(a[i], x)) return BigInt(i);
    return -1n;
  });
  env.registerFunction('list.reverse(): list', (l: unknown) => [...toList(l)].reverse());
  env.registerFunction('list.distinct(): list', (l: unknown) => {
    const out: unknown[] = [];
    for (const x of toList(l)) if (!out.some((y) => celEqual(x, y))) out.push(x);
    return out;
  });

  // --- strings (cel-go ext) beyond what cel-js provides ---------------------------------------------------------
  env.registerFunction('string.charAt(int): string', (s: string, i: bigint) => {
    const chars = Array.from(s);
    if (i < 0n || i > BigInt(chars.length)) throw celError(`index out of range: ${i}`);
    return chars[Number(i)] ?? '';
  });
  env.registerFunction('string.replace(string, string): string', (s: string, a: string, b: string) =>
    goReplaceN(s, a, b, -1n),
  );
  env.registerFunction(
    'string.replace(string, string, int): string',
    (s: string, a: string, b: string, n: bigint) => goReplaceN(s, a, b, n),
  );
  env.registerFunction('string.reverse(): string', (s: string) => Array.from(s).reverse().join(''));

  // --- sets -------------------------------------------------------------------------------------------------
  env.registerType('SetsNamespace', CelSetsNamespace);
  env.registerConstant('sets', 'SetsNamespace', new CelSetsNamespace());
  const has = (list: unknown[], x: unknown) => list.some((y) => celEqual(x, y));
  env.registerFunction('SetsNamespace.contains(list, list): bool', (_: unknown, a: unknown, b: unknown) =>
    toList(b).every((x) => has(toList(a), x)),
  );
  env.registerFunction('SetsNamespace.equivalent(list, list): bool', (_: unknown, a: unknown, b: unknown) => {
    const x = toList(a);
    const y = toList(b);
    return x.every((e) => has(y, e)) && y.every((e) => has(x, e));
  });
  env.registerFunction('SetsNamespace.intersects(list, list): bool', (_: unknown, a: unknown, b: unknown) =>
    toList(a).some((e) => has(toList(b), e)),
  );
}
