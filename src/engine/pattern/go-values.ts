/**
 * Go's view of decoded JSON values, which Kyverno's pattern and condition code switch on (`int64` vs `float64`,
 * `map[string]interface{}`, `[]interface{}`), plus the few `strconv`/`fmt` conversions it applies.
 *
 * JSON numbers reach Kyverno through apimachinery's decoder, which yields int64 for integral numbers and
 * float64 otherwise. JavaScript has one number type, so an integral number in int64 range is an int here
 * and any other number a float. `GoFloat64` lets a caller (tests porting Go cases that use `7.0`) force
 * float64 semantics for an integral value.
 */

/** A number that must behave as Go float64 even when integral (e.g. Go's `7.0`). */
export class GoFloat64 {
  constructor(readonly value: number) {}
}

export type GoKind = 'nil' | 'bool' | 'int' | 'float' | 'string' | 'map' | 'array' | 'unknown';

const TWO_63 = 2 ** 63;

export function goKind(v: unknown): GoKind {
  if (v === null || v === undefined) return 'nil';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'string') return 'string';
  if (typeof v === 'number') return Number.isInteger(v) && v >= -TWO_63 && v < TWO_63 ? 'int' : 'float';
  if (typeof v === 'bigint') return 'int';
  if (Array.isArray(v)) return 'array';
  if (v instanceof GoFloat64) return 'float';
  return isPlainObject(v) ? 'map' : 'unknown';
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

/** The numeric value of an int/float kind value. */
export function numberOf(v: unknown): number {
  if (v instanceof GoFloat64) return v.value;
  if (typeof v === 'bigint') return Number(v);
  return v as number;
}

/** An int kind value as BigInt (exact). */
export function bigIntOf(v: unknown): bigint {
  return typeof v === 'bigint' ? v : BigInt(v as number);
}

const INT64_MAX = (1n << 63n) - 1n;
const INT64_MIN = -(1n << 63n);

/** `strconv.ParseInt(s, 10, 64)`: optional sign, ASCII digits, int64 range; undefined on error. */
export function goParseInt(s: string): bigint | undefined {
  if (!/^[+-]?[0-9]+$/.test(s)) return undefined;
  const n = BigInt(s);
  return n > INT64_MAX || n < INT64_MIN ? undefined : n;
}

// Both patterns are unambiguous (each digit can be matched one way only), so they run in linear time on
// event data; `\d+\.?\d*` would backtrack quadratically on a long run of digits with a bad tail.
const DECIMAL_FLOAT = /^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$/;
const HEX_FLOAT = /^([+-]?)0[xX]([0-9a-fA-F_]*)(?:\.([0-9a-fA-F_]*))?[pP]([+-]?[0-9]+)$/;
const SPECIAL_FLOAT = /^([+-]?)(inf|infinity|nan)$/i;

/**
 * `strconv.ParseFloat(s, 64)`; undefined on error (including out of range, where Go returns ±Inf and an
 * error). Accepts decimal, hexadecimal (`0x1p-2`) and `inf`/`infinity`/`nan`, as Go does. Underscores are
 * only legal with a base prefix in Go, so the decimal form has none.
 */
export function goParseFloat(s: string): number | undefined {
  const special = SPECIAL_FLOAT.exec(s);
  if (special) {
    if (special[2]!.toLowerCase() === 'nan') return NaN;
    return special[1] === '-' ? -Infinity : Infinity;
  }
  if (DECIMAL_FLOAT.test(s)) {
    const n = Number(s);
    return Number.isFinite(n) ? n : undefined;
  }
  const hex = HEX_FLOAT.exec(s);
  if (hex) {
    const [, sign, intPart = '', fracPart = '', exp] = hex;
    const digits = (intPart + fracPart).replace(/_/g, '');
    if (digits === '') return undefined;
    const mantissa = Number.parseInt(digits, 16);
    const n = mantissa * 2 ** (Number(exp) - 4 * fracPart.replace(/_/g, '').length);
    if (!Number.isFinite(n)) return undefined;
    return sign === '-' ? -n : n;
  }
  return undefined;
}

/** Go `fmt.Sprintf("%f", x)`: fixed notation, 6 decimals, round half to even on the exact binary value. */
export function goFormatFloatF(x: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (!Number.isFinite(x)) return x > 0 ? '+Inf' : '-Inf';
  const negative = x < 0 || Object.is(x, -0);
  const { mantissa, exponent } = decomposeDouble(Math.abs(x));
  // |x| = mantissa * 2^exponent exactly; scale by 10^6 and round half to even.
  let scaled: bigint;
  if (exponent >= 0) {
    scaled = (mantissa << BigInt(exponent)) * 1_000_000n;
  } else {
    const num = mantissa * 1_000_000n;
    const den = 1n << BigInt(-exponent);
    const q = num / den;
    const r = num % den;
    const twice = r * 2n;
    scaled = twice > den || (twice === den && q % 2n === 1n) ? q + 1n : q;
  }
  const digits = scaled.toString().padStart(7, '0');
  return `${negative ? '-' : ''}${digits.slice(0, -6)}.${digits.slice(-6)}`;
}

/** Go `strconv.FormatFloat(x, 'E', -1, 64)`: shortest round-trip digits, "1.5E+00" form. */
export function goFormatFloatE(x: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (!Number.isFinite(x)) return x > 0 ? '+Inf' : '-Inf';
  const [mant, exp] = x.toExponential().split('e') as [string, string];
  const expNum = Number(exp);
  const expAbs = Math.abs(expNum).toString().padStart(2, '0');
  const sign = Object.is(x, -0) ? '-' : '';
  return `${sign}${mant}E${expNum < 0 ? '-' : '+'}${expAbs}`;
}

/**
 * Go `%v` of a float64 (`strconv.FormatFloat(x, 'g', -1, 64)`): shortest digits, `%e` form when the
 * decimal exponent is < -4 or >= 6 (Go uses precision 6 for that decision): "1.5", "1e+06", "1e-05".
 */
export function goFormatFloatG(x: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (!Number.isFinite(x)) return x > 0 ? '+Inf' : '-Inf';
  if (x === 0) return Object.is(x, -0) ? '-0' : '0';
  const [mant, exp] = x.toExponential().split('e') as [string, string];
  const e = Number(exp);
  if (e < -4 || e >= 6) return `${mant}e${e < 0 ? '-' : '+'}${Math.abs(e).toString().padStart(2, '0')}`;
  return x.toString();
}

/** Bounds for printing resource values into messages (untrusted input: depth and size are capped). */
export const MAX_FORMAT_DEPTH = 32;
export const MAX_FORMAT_LENGTH = 16 * 1024;

/**
 * Go `%v` for decoded JSON values, as Kyverno's error messages print them. Unlike Go, output is capped
 * (nesting deeper than MAX_FORMAT_DEPTH prints `...`, text beyond MAX_FORMAT_LENGTH is cut with `...`)
 * so a hostile event cannot blow the stack or produce megabyte messages.
 */
export function goFormatValue(v: unknown): string {
  const out = formatValue(v, 0);
  return out.length > MAX_FORMAT_LENGTH ? `${out.slice(0, MAX_FORMAT_LENGTH)}...` : out;
}

function formatValue(v: unknown, depth: number): string {
  switch (goKind(v)) {
    case 'nil':
      return '<nil>';
    case 'bool':
      return (v as boolean) ? 'true' : 'false';
    case 'int':
      // A safe integer prints exactly as a number; beyond 2^53 only the BigInt has every digit.
      return typeof v === 'number' && Number.isSafeInteger(v) ? String(v) : bigIntOf(v).toString();
    case 'float':
      return goFormatFloatG(numberOf(v));
    case 'string':
      return v as string;
    case 'array': {
      if (depth >= MAX_FORMAT_DEPTH) return '[...]';
      return `[${joinCapped((v as unknown[]).map((e) => () => formatValue(e, depth + 1)))}]`;
    }
    case 'map': {
      if (depth >= MAX_FORMAT_DEPTH) return 'map[...]';
      const m = v as Record<string, unknown>;
      const keys = Object.keys(m).sort();
      return `map[${joinCapped(keys.map((k) => () => `${k}:${formatValue(m[k], depth + 1)}`))}]`;
    }
    case 'unknown':
      return String(v);
  }
}

/** Joins lazily formatted parts with spaces, stopping once the output exceeds the length cap. */
function joinCapped(parts: readonly (() => string)[]): string {
  let out = '';
  for (let i = 0; i < parts.length; i++) {
    if (out.length > MAX_FORMAT_LENGTH) return `${out} ...`;
    out += (i === 0 ? '' : ' ') + parts[i]!();
  }
  return out;
}

/** Go `%T` for decoded JSON values. */
export function goTypeName(v: unknown): string {
  switch (goKind(v)) {
    case 'nil':
      return '<nil>';
    case 'bool':
      return 'bool';
    case 'int':
      return 'int64';
    case 'float':
      return 'float64';
    case 'string':
      return 'string';
    case 'array':
      return '[]interface {}';
    case 'map':
      return 'map[string]interface {}';
    case 'unknown':
      return typeof v;
  }
}

function decomposeDouble(x: number): { mantissa: bigint; exponent: number } {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const hi = view.getUint32(0);
  const lo = view.getUint32(4);
  const biased = (hi >>> 20) & 0x7ff;
  const fraction = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo);
  if (biased === 0) return { mantissa: fraction, exponent: -1074 };
  return { mantissa: fraction | (1n << 52n), exponent: biased - 1075 };
}

// ---- Condition operators (Kyverno's operator package) ----------------------------------------------------

/** `strconv.ParseFloat(s, 64)` as the condition operators use it. */
export const parseGoFloat = goParseFloat;

/** `strconv.ParseInt(s, 10, 64)` as a JS number; undefined on a syntax or range error. */
export function parseGoInt(s: string): number | undefined {
  const n = goParseInt(s);
  return n === undefined ? undefined : Number(n);
}

/**
 * `fmt.Sprint(v)` for JSON values (maps print with sorted keys, as Go does), capped like goFormatValue:
 * operators stringify event values with it, and the output must stay bounded.
 */
export const goSprint = goFormatValue;

/** `reflect.DeepEqual` over JSON values. */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) {
    return false;
  }
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!deepEqual(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  const ak = Object.keys(ao);
  if (ak.length !== Object.keys(bo).length) return false;
  for (const k of ak) {
    if (!Object.hasOwn(bo, k) || !deepEqual(ao[k], bo[k])) return false;
  }
  return true;
}

/** `json.Valid` + `json.Unmarshal` into `[]string`, with the reason when it fails. */
export function parseJsonStringArray(s: string): string[] | 'not-json' | 'not-string-array' {
  let parsed: unknown;
  try {
    parsed = JSON.parse(s);
  } catch {
    return 'not-json';
  }
  if (!Array.isArray(parsed) || !parsed.every((x) => typeof x === 'string')) {
    // Go's Unmarshal into []string accepts `null` as an empty slice.
    return parsed === null ? [] : 'not-string-array';
  }
  return parsed;
}
