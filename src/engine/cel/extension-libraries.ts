/**
 * cel-go's extension libraries that Kubernetes and Kyverno enable, beyond what cel-js ships and
 * kubernetes-library.ts adds: the Kubernetes semver library, strings `format` and `strings.quote`, lists
 * (`slice`, `flatten`, `sort`, `first`, `last`), `math.*` and `base64.*`. Written here because no JS CEL engine
 * ships them; `semver` compares with the npm semver package after a strict SemVer 2.0 check (npm's parser
 * accepts a leading `v` and spaces, which Kubernetes' semver() refuses unless asked to normalize).
 */
import { compare as compareSemverText } from 'semver';
import { Optional, type Environment } from '@marcbachmann/cel-js';
import { MAX_DECODE_INPUT, MAX_GENERATED_LENGTH, expressionLimitError } from '../expression-limits.js';
import { CelQuantity } from './kubernetes-library.js';
import { boundedMemo } from './values.js';

// ---------------------------------------------------------------------------------------------------------------
// semver (k8s.io/apiserver/pkg/cel/library/semverlib.go)

/** A CEL `Semver` value. */
export class CelSemver {
  toCelText(): string {
    return this.toString();
  }
  constructor(
    readonly major: bigint,
    readonly minor: bigint,
    readonly patch: bigint,
    /** The canonical text (what compare and `string()` use). */
    readonly text: string,
  ) {}
  toString(): string {
    return this.text;
  }
}

// semver.org's grammar: no leading zeros in numeric parts, identifiers of [0-9A-Za-z-].
const NUM = '(?:0|[1-9][0-9]*)';
const PRE_ID = `(?:${NUM}|[0-9]*[A-Za-z-][0-9A-Za-z-]*)`;
const STRICT_SEMVER = new RegExp(
  `^(${NUM})\\.(${NUM})\\.(${NUM})(?:-(${PRE_ID}(?:\\.${PRE_ID})*))?(?:\\+([0-9A-Za-z-]+(?:\\.[0-9A-Za-z-]+)*))?$`,
);
const MAX_SEMVER_LENGTH = 256;

/** Kubernetes' normalizeVersion: drop a leading `v`, fill a missing minor/patch with 0, drop leading zeros. */
function normalizeSemver(s: string): string {
  let v = s.startsWith('v') ? s.slice(1) : s;
  const cut = v.search(/[-+]/);
  const core = cut < 0 ? v : v.slice(0, cut);
  const rest = cut < 0 ? '' : v.slice(cut);
  const parts = core.split('.');
  while (parts.length < 3) parts.push('0');
  v = parts.map((p) => (/^[0-9]+$/.test(p) ? p.replace(/^0+(?=[0-9])/, '') : p)).join('.') + rest;
  return v;
}

function parseSemver(s: string, normalize: boolean): CelSemver | string {
  if (s.length > MAX_SEMVER_LENGTH) return `semver: version of ${s.length} characters is too long`;
  const text = normalize ? normalizeSemver(s) : s;
  const m = STRICT_SEMVER.exec(text);
  if (m === null) return `Invalid Semver: ${JSON.stringify(s)}`;
  return new CelSemver(BigInt(m[1]!), BigInt(m[2]!), BigInt(m[3]!), text);
}

const parseStrict = boundedMemo((s) => parseSemver(s, false));
const parseNormalized = boundedMemo((s) => parseSemver(s, true));

function semverOf(s: string, normalize: boolean): CelSemver {
  const r = normalize ? parseNormalized(s) : parseStrict(s);
  if (typeof r === 'string') throw new Error(r);
  return r;
}

const semverCompare = (a: CelSemver, b: CelSemver): number => compareSemverText(a.text, b.text);

function registerSemver(env: Environment): void {
  env.registerType('Semver', CelSemver);
  env.registerFunction('isSemver(string): bool', (s: string) => typeof parseSemver(s, false) !== 'string');
  env.registerFunction(
    'isSemver(string, bool): bool',
    (s: string, n: boolean) => typeof parseSemver(s, n) !== 'string',
  );
  env.registerFunction('semver(string): Semver', (s: string) => semverOf(s, false));
  env.registerFunction('semver(string, bool): Semver', (s: string, n: boolean) => semverOf(s, n));
  env.registerFunction('Semver.major(): int', (v: CelSemver) => v.major);
  env.registerFunction('Semver.minor(): int', (v: CelSemver) => v.minor);
  env.registerFunction('Semver.patch(): int', (v: CelSemver) => v.patch);
  env.registerFunction('Semver.compareTo(Semver): int', (a: CelSemver, b: CelSemver) =>
    BigInt(semverCompare(a, b)),
  );
  env.registerFunction(
    'Semver.isGreaterThan(Semver): bool',
    (a: CelSemver, b: CelSemver) => semverCompare(a, b) > 0,
  );
  env.registerFunction(
    'Semver.isLessThan(Semver): bool',
    (a: CelSemver, b: CelSemver) => semverCompare(a, b) < 0,
  );
  env.registerFunction('string(Semver): string', (v: CelSemver) => v.text);
  env.registerOperator('Semver == Semver', (a: CelSemver, b: CelSemver) => semverCompare(a, b) === 0);
}

// ---------------------------------------------------------------------------------------------------------------
// strings: format and strings.quote (cel-go ext/strings.go)

class StringsNamespace {}

/** `%s` text of a CEL value, as cel-go's string formatter writes it. */
function formatPlain(v: unknown): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'bigint' || typeof v === 'boolean') return String(v);
  if (typeof v === 'number') return Number.isInteger(v) ? v.toFixed(0) : String(v);
  if (v === null || v === undefined) return 'null';
  if (v instanceof Uint8Array) return Buffer.from(v).toString('utf8');
  if (v instanceof Date) return v.toISOString().replace('.000Z', 'Z');
  if (Array.isArray(v)) return `[${v.map(formatPlain).join(', ')}]`;
  if (v instanceof Map) {
    const entries = [...v.entries()].map(([k, x]) => [formatPlain(k), formatPlain(x)] as const);
    entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, x]) => `${k}: ${x}`).join(', ')}}`;
  }
  if (v instanceof CelQuantity) return v.toString();
  if (typeof v === 'object') {
    const proto: unknown = Object.getPrototypeOf(v);
    if (proto === Object.prototype || proto === null) {
      const keys = Object.keys(v).sort();
      const o = v as Record<string, unknown>;
      return `{${keys.map((k) => `${k}: ${formatPlain(o[k])}`).join(', ')}}`;
    }
    return (v as { toString(): string }).toString();
  }
  throw new Error(`format: cannot format ${typeof v}`);
}

function asInteger(verb: string, v: unknown): bigint {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number' && Number.isInteger(v)) return BigInt(v);
  throw new Error(`error during formatting: ${verb} verb needs an integer, got ${typeof v}`);
}

function asDouble(verb: string, v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  throw new Error(`error during formatting: ${verb} verb needs a number, got ${typeof v}`);
}

function specialDouble(d: number): string | undefined {
  if (Number.isNaN(d)) return 'NaN';
  if (d === Infinity) return 'Infinity';
  if (d === -Infinity) return '-Infinity';
  return undefined;
}

/** Go's %e: one digit, the fraction, and an exponent of at least two digits. */
function goExponent(d: number, precision: number): string {
  const [mant, exp] = d.toExponential(precision).split('e') as [string, string];
  const sign = exp.startsWith('-') ? '-' : '+';
  const digits = exp.replace(/^[+-]/, '');
  return `${mant}e${sign}${digits.length < 2 ? `0${digits}` : digits}`;
}

function hexOf(v: unknown, upper: boolean): string {
  let out: string;
  if (typeof v === 'string') out = Buffer.from(v, 'utf8').toString('hex');
  else if (v instanceof Uint8Array) out = Buffer.from(v).toString('hex');
  else {
    const n = asInteger('%x', v);
    out = n < 0n ? `-${(-n).toString(16)}` : n.toString(16);
  }
  return upper ? out.toUpperCase() : out;
}

/** cel-go `"…".format([args])`: verbs %s %d %f %e %b %o %x %X and %%, with an optional `.N` precision. */
export function celFormat(template: string, args: readonly unknown[]): string {
  let out = '';
  let next = 0;
  const take = (verb: string): unknown => {
    if (next >= args.length)
      throw new Error(`index ${next} out of range: format needs an argument for ${verb}`);
    return args[next++];
  };
  for (let i = 0; i < template.length; i++) {
    const c = template[i]!;
    if (c !== '%') {
      out += c;
    } else {
      let j = i + 1;
      let precision: number | undefined;
      if (template[j] === '.') {
        const m = /^\.([0-9]{1,3})/.exec(template.slice(j));
        if (m === null) throw new Error('unable to find end of precision specifier');
        precision = Number(m[1]);
        j += m[0].length;
      }
      const verb = template[j] ?? '';
      i = j;
      switch (verb) {
        case '%':
          out += '%';
          break;
        case 's':
          out += formatPlain(take('%s'));
          break;
        case 'd': {
          const v = take('%d');
          const d = typeof v === 'number' ? specialDouble(v) : undefined;
          out += d ?? String(asInteger('%d', v));
          break;
        }
        case 'f': {
          const d = asDouble('%f', take('%f'));
          out += specialDouble(d) ?? d.toFixed(precision ?? 6);
          break;
        }
        case 'e': {
          const d = asDouble('%e', take('%e'));
          out += specialDouble(d) ?? goExponent(d, precision ?? 6);
          break;
        }
        case 'b': {
          const v = take('%b');
          if (typeof v === 'boolean') out += v ? '1' : '0';
          else {
            const n = asInteger('%b', v);
            out += n < 0n ? `-${(-n).toString(2)}` : n.toString(2);
          }
          break;
        }
        case 'o': {
          const n = asInteger('%o', take('%o'));
          out += n < 0n ? `-${(-n).toString(8)}` : n.toString(8);
          break;
        }
        case 'x':
        case 'X':
          out += hexOf(take(`%${verb}`), verb === 'X');
          break;
        default:
          throw new Error(`could not parse formatting clause: unrecognized formatting clause "${verb}"`);
      }
    }
    if (out.length > MAX_GENERATED_LENGTH)
      throw expressionLimitError(
        'format',
        'output-size',
        `result is longer than the ${MAX_GENERATED_LENGTH}-character limit`,
      );
  }
  return out;
}

/** cel-go `strings.quote`: a double-quoted CEL string literal. */
function quote(s: string): string {
  const escapes: Record<string, string> = {
    '\x07': '\\a',
    '\b': '\\b',
    '\f': '\\f',
    '\n': '\\n',
    '\r': '\\r',
    '\t': '\\t',
    '\v': '\\v',
    '\\': '\\\\',
    '"': '\\"',
  };
  let out = '"';
  for (const ch of s) out += escapes[ch] ?? ch;
  return `${out}"`;
}

function registerStrings(env: Environment): void {
  env.registerFunction('string.format(list): string', (s: string, args: unknown) =>
    celFormat(s, Array.isArray(args) ? args : [...(args as Iterable<unknown>)]),
  );
  env.registerType('StringsNamespace', StringsNamespace);
  env.registerConstant('strings', 'StringsNamespace', new StringsNamespace());
  env.registerFunction('StringsNamespace.quote(string): string', (_: unknown, s: string) => quote(s));
}

// ---------------------------------------------------------------------------------------------------------------
// lists (cel-go ext/lists.go)

function list(v: unknown): unknown[] {
  if (Array.isArray(v)) return v;
  throw new Error('expected a list');
}

function sortKey(a: unknown, b: unknown): number {
  if (typeof a === 'string' && typeof b === 'string') return a < b ? -1 : a > b ? 1 : 0;
  if ((typeof a === 'bigint' || typeof a === 'number') && (typeof b === 'bigint' || typeof b === 'number'))
    return a < b ? -1 : a > b ? 1 : 0;
  if (typeof a === 'boolean' && typeof b === 'boolean') return Number(a) - Number(b);
  if (a instanceof Date && b instanceof Date) return a.getTime() - b.getTime();
  throw new Error('sort: list elements must be comparable and of one type');
}

function flatten(l: unknown[], depth: bigint): unknown[] {
  if (depth < 0n) throw new Error('level must be non-negative');
  let cur = l;
  for (let d = 0n; d < depth; d++) {
    if (!cur.some(Array.isArray)) break;
    cur = cur.flatMap((x) => (Array.isArray(x) ? (x as unknown[]) : [x]));
  }
  return cur;
}

function registerLists(env: Environment): void {
  env.registerFunction('list.slice(int, int): list', (l: unknown, start: bigint, end: bigint) => {
    const a = list(l);
    if (start < 0n || end < 0n)
      throw new Error(`cannot slice(${start}, ${end}), negative indexes not supported`);
    if (start > end)
      throw new Error(`cannot slice(${start}, ${end}), start index must be less than or equal to end index`);
    if (end > BigInt(a.length)) throw new Error(`cannot slice(${start}, ${end}), list is length ${a.length}`);
    return a.slice(Number(start), Number(end));
  });
  env.registerFunction('list.flatten(): list', (l: unknown) => flatten(list(l), 1n));
  env.registerFunction('list.flatten(int): list', (l: unknown, d: bigint) => flatten(list(l), d));
  env.registerFunction('list.sort(): list', (l: unknown) => [...list(l)].sort(sortKey));
  env.registerFunction('list.first(): optional', (l: unknown) => {
    const a = list(l);
    return a.length === 0 ? Optional.none() : Optional.of(a[0]);
  });
  env.registerFunction('list.last(): optional', (l: unknown) => {
    const a = list(l);
    return a.length === 0 ? Optional.none() : Optional.of(a[a.length - 1]);
  });
}

// ---------------------------------------------------------------------------------------------------------------
// math (cel-go ext/math.go)

class MathNamespace {}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

function numbers(args: readonly unknown[], fn: string): (bigint | number)[] {
  if (args.length === 0) throw new Error(`${fn}(list) argument must not be empty`);
  return args.map((x) => {
    if (typeof x === 'bigint' || typeof x === 'number') return x;
    throw new Error(`${fn}: no such overload for a ${typeof x} argument`);
  });
}

function extreme(args: readonly unknown[], fn: string, sign: 1 | -1): bigint | number {
  const xs = numbers(args, fn);
  let best = xs[0]!;
  for (const x of xs) if ((x > best ? 1 : x < best ? -1 : 0) * sign > 0) best = x;
  return best;
}

function toInt(v: bigint): bigint {
  if (v < INT64_MIN || v > INT64_MAX) throw new Error('integer overflow');
  return BigInt.asIntN(64, v);
}

function registerMath(env: Environment): void {
  env.registerType('MathNamespace', MathNamespace);
  env.registerConstant('math', 'MathNamespace', new MathNamespace());
  const fns: [string, (...a: never[]) => unknown][] = [
    ['greatest(list): dyn', (_: unknown, l: unknown[]) => extreme(list(l), 'math.greatest', 1)],
    ['least(list): dyn', (_: unknown, l: unknown[]) => extreme(list(l), 'math.least', -1)],
    ['greatest(dyn, dyn): dyn', (_: unknown, a: unknown, b: unknown) => extreme([a, b], 'math.greatest', 1)],
    ['least(dyn, dyn): dyn', (_: unknown, a: unknown, b: unknown) => extreme([a, b], 'math.least', -1)],
    [
      'greatest(dyn, dyn, dyn): dyn',
      (_: unknown, a: unknown, b: unknown, c: unknown) => extreme([a, b, c], 'math.greatest', 1),
    ],
    [
      'least(dyn, dyn, dyn): dyn',
      (_: unknown, a: unknown, b: unknown, c: unknown) => extreme([a, b, c], 'math.least', -1),
    ],
    ['ceil(double): double', (_: unknown, d: number) => Math.ceil(d)],
    ['floor(double): double', (_: unknown, d: number) => Math.floor(d)],
    // Go's math.Round: half away from zero.
    ['round(double): double', (_: unknown, d: number) => Math.sign(d) * Math.round(Math.abs(d))],
    ['trunc(double): double', (_: unknown, d: number) => Math.trunc(d)],
    ['sqrt(double): double', (_: unknown, d: number) => Math.sqrt(d)],
    ['sqrt(int): double', (_: unknown, d: bigint) => Math.sqrt(Number(d))],
    ['abs(double): double', (_: unknown, d: number) => Math.abs(d)],
    ['abs(int): int', (_: unknown, d: bigint) => toInt(d < 0n ? -d : d)],
    ['sign(double): double', (_: unknown, d: number) => (Number.isNaN(d) ? d : Math.sign(d))],
    ['sign(int): int', (_: unknown, d: bigint) => (d > 0n ? 1n : d < 0n ? -1n : 0n)],
    ['isNaN(double): bool', (_: unknown, d: number) => Number.isNaN(d)],
    ['isInf(double): bool', (_: unknown, d: number) => d === Infinity || d === -Infinity],
    ['isFinite(double): bool', (_: unknown, d: number) => Number.isFinite(d)],
    ['bitAnd(int, int): int', (_: unknown, a: bigint, b: bigint) => a & b],
    ['bitOr(int, int): int', (_: unknown, a: bigint, b: bigint) => a | b],
    ['bitXor(int, int): int', (_: unknown, a: bigint, b: bigint) => a ^ b],
    ['bitNot(int): int', (_: unknown, a: bigint) => ~a],
    [
      'bitShiftLeft(int, int): int',
      (_: unknown, a: bigint, n: bigint) => {
        if (n < 0n) throw new Error('math.bitShiftLeft() negative offset');
        return n > 63n ? 0n : BigInt.asIntN(64, a << n);
      },
    ],
    [
      'bitShiftRight(int, int): int',
      (_: unknown, a: bigint, n: bigint) => {
        if (n < 0n) throw new Error('math.bitShiftRight() negative offset');
        // cel-go shifts int right logically (as uint64).
        return n > 63n ? 0n : BigInt.asIntN(64, BigInt.asUintN(64, a) >> n);
      },
    ],
  ];
  for (const [sig, fn] of fns) env.registerFunction(`MathNamespace.${sig}`, fn as never);
}

// ---------------------------------------------------------------------------------------------------------------
// base64 (cel-go ext/encoders.go)

class Base64Namespace {}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Go's base64.StdEncoding, falling back to RawStdEncoding as cel-go does; invalid text is an error. */
function base64Decode(s: string): Uint8Array {
  if (s.length > MAX_DECODE_INPUT)
    throw expressionLimitError(
      'base64.decode',
      'input-size',
      `input of ${s.length} characters is over the ${MAX_DECODE_INPUT}-character limit`,
    );
  const padded = s.endsWith('=');
  const ok = BASE64.test(s) && (padded ? s.length % 4 === 0 : s.length % 4 !== 1);
  if (!ok) throw new Error('base64.decode: illegal base64 data');
  return new Uint8Array(Buffer.from(s, 'base64'));
}

function registerBase64(env: Environment): void {
  env.registerType('Base64Namespace', Base64Namespace);
  env.registerConstant('base64', 'Base64Namespace', new Base64Namespace());
  env.registerFunction('Base64Namespace.encode(bytes): string', (_: unknown, b: Uint8Array) =>
    Buffer.from(b).toString('base64'),
  );
  env.registerFunction('Base64Namespace.decode(string): bytes', (_: unknown, s: string) => base64Decode(s));
}

export function registerExtensionLibraries(env: Environment): void {
  registerSemver(env);
  registerStrings(env);
  registerLists(env);
  registerMath(env);
  registerBase64(env);
}
