/**
 * Kubernetes `resource.Quantity` (k8s.io/apimachinery/pkg/api/resource): parse, exact compare, add/subtract
 * and canonical formatting, as Kyverno uses them in patterns ("1Gi" == "1024Mi", "500m" < "1") and in
 * JMESPath arithmetic.
 *
 * Hand-written because no npm package reproduces apimachinery exactly: its grammar quirks (`"-"`, `"."`,
 * `"k"` all parse as 0; `1.G` is accepted; the `e`-exponent is truncated to int32), its rounding (values
 * are rounded up, away from zero, to 1n) and its BinarySI cap (|x| <= 2^63-1). @kubernetes/client-node
 * only offers lossy float conversions. Values are kept exact as sign * digits * 10^exponent with a
 * BigInt mantissa, so comparisons never suffer float rounding and huge exponents ("1e999999") stay cheap.
 */

export type QuantityFormat = 'DecimalSI' | 'BinarySI' | 'DecimalExponent';

/** An exact quantity: value = sign * mantissa * 10^exponent, mantissa without trailing zeros. */
export interface Quantity {
  readonly sign: -1 | 0 | 1;
  /** Non-negative; 0n only when sign is 0. */
  readonly mantissa: bigint;
  /** Power of ten; always >= -9 after parsing (values are rounded to nano precision). */
  readonly exponent: number;
  /** The suffix family it was written with; drives canonical formatting. */
  readonly format: QuantityFormat;
}

/** Why a string is not a quantity (apimachinery's error values). */
export type QuantityParseError = 'ErrFormatWrong' | 'ErrSuffix' | 'ErrNumeric';

const DECIMAL_SUFFIXES: ReadonlyMap<string, number> = new Map([
  ['n', -9],
  ['u', -6],
  ['m', -3],
  ['', 0],
  ['k', 3],
  ['M', 6],
  ['G', 9],
  ['T', 12],
  ['P', 15],
  ['E', 18],
]);
const BINARY_SUFFIXES: ReadonlyMap<string, number> = new Map([
  ['Ki', 10],
  ['Mi', 20],
  ['Gi', 30],
  ['Ti', 40],
  ['Pi', 50],
  ['Ei', 60],
]);
const SUFFIX_CHARS = 'eEinumkKMGTP';
const MAX_INT64 = (1n << 63n) - 1n;
const MIN_INT64 = -(1n << 63n);
const NANO = -9;
const ZERO: Quantity = { sign: 0, mantissa: 0n, exponent: 0, format: 'DecimalSI' };

/** Parses like `resource.ParseQuantity`; undefined when apimachinery returns an error. */
export function parseQuantity(s: string): Quantity | undefined {
  const r = parseQuantityDetailed(s);
  return 'error' in r ? undefined : r.quantity;
}

/** Like `parseQuantity` but says why parsing failed. */
export function parseQuantityDetailed(s: string): { quantity: Quantity } | { error: QuantityParseError } {
  if (s.length === 0) return { error: 'ErrFormatWrong' };
  if (s === '0') return { quantity: ZERO };
  const parts = splitQuantityString(s);
  if ('error' in parts) return parts;
  const { positive, value, num, denom, suffix } = parts;

  const interpreted = interpretSuffix(suffix);
  if (interpreted === undefined) return { error: 'ErrSuffix' };
  const { base, exponent, format } = interpreted;

  // apimachinery has a fast int64 path and a slow inf.Dec path. They agree on the value except that the
  // slow path rejects a numeric part without digits (".", "-") and rounds/caps; mirror which path runs.
  let precision: number;
  if (base === 10) {
    precision = 18 - (num.length + denom.length);
  } else if (exponent >= 0 && denom.length === 0) {
    precision = 15 - num.length - Math.trunc(Math.fround((exponent * 3) / 10)) - 1;
  } else {
    precision = -1;
  }
  if (precision >= 0) {
    const scale = (base === 10 ? exponent : 0) - denom.length;
    if (scale >= NANO) {
      const shifted = BigInt(num + denom);
      const mantissa = base === 2 ? shifted << BigInt(exponent) : shifted;
      if (shifted <= MAX_INT64 && mantissa <= MAX_INT64) {
        return { quantity: normalize(positive ? 1 : -1, mantissa, scale, format) };
      }
    }
  }

  // Slow path: inf.Dec.SetString(value) needs at least one digit.
  if (!/[0-9]/.test(value)) return { error: 'ErrNumeric' };
  const digits = BigInt(num + denom);
  let mantissa = digits;
  let scale = -denom.length;
  if (base === 10) scale += exponent;
  else mantissa = digits << BigInt(exponent);
  let q = normalize(positive ? 1 : -1, mantissa, scale, format);
  q = roundUpToNano(q);
  if (format === 'BinarySI' && compareMagnitude(q, fromBigInt(MAX_INT64, format)) > 0) {
    q = { ...fromBigInt(MAX_INT64, format), sign: q.sign };
  }
  return { quantity: q };
}

/** `Quantity.Cmp`: exact three-way comparison. */
export function compareQuantity(a: Quantity, b: Quantity): -1 | 0 | 1 {
  if (a.sign !== b.sign) return a.sign < b.sign ? -1 : 1;
  if (a.sign === 0) return 0;
  const m = compareMagnitude(a, b);
  if (m === 0) return 0;
  return a.sign === 1 ? m : m === 1 ? -1 : 1;
}

/** Compares two strings as quantities; undefined when either does not parse. */
export function compareQuantityStrings(a: string, b: string): -1 | 0 | 1 | undefined {
  const qa = parseQuantity(a);
  const qb = parseQuantity(b);
  return qa && qb ? compareQuantity(qa, qb) : undefined;
}

/** Exact sum. Like apimachinery's `Add`, the result keeps the left format unless the left operand is 0. */
export function addQuantity(a: Quantity, b: Quantity): Quantity {
  if (a.sign === 0) return b;
  if (b.sign === 0) return a;
  const e = Math.min(a.exponent, b.exponent);
  const va = BigInt(a.sign) * a.mantissa * 10n ** BigInt(a.exponent - e);
  const vb = BigInt(b.sign) * b.mantissa * 10n ** BigInt(b.exponent - e);
  const sum = va + vb;
  return normalize(sum < 0n ? -1 : 1, sum < 0n ? -sum : sum, e, a.format);
}

/** Exact difference a - b, keeping the left operand's format. */
export function subtractQuantity(a: Quantity, b: Quantity): Quantity {
  return addQuantity(a, negateQuantity(b));
}

export function negateQuantity(q: Quantity): Quantity {
  return { ...q, sign: (q.sign === 0 ? 0 : -q.sign) as -1 | 0 | 1 };
}

/** The exact value as a decimal string ("1073741824", "-0.5", "0.000000001"). */
export function quantityToDecimalString(q: Quantity): string {
  if (q.sign === 0) return '0';
  const digits = q.mantissa.toString();
  const neg = q.sign < 0 ? '-' : '';
  if (q.exponent >= 0) return neg + digits + '0'.repeat(q.exponent);
  const point = digits.length + q.exponent;
  if (point > 0) return `${neg}${digits.slice(0, point)}.${digits.slice(point)}`;
  return `${neg}0.${'0'.repeat(-point)}${digits}`;
}

/** A float approximation, for display or float arithmetic only; never compare with it. */
export function quantityToNumber(q: Quantity): number {
  return Number(quantityToDecimalString(q));
}

/**
 * `Quantity.String()`: apimachinery's canonical form ("1Gi", "1500m", "1e3", "1.5Gi" -> "1536Mi").
 * BinarySI values that are not whole multiples of 1024 fall back to DecimalSI, as apimachinery does.
 */
export function formatQuantity(q: Quantity): string {
  if (q.sign === 0) return '0';
  let format = q.format;
  if (format === 'BinarySI') {
    // apimachinery: BinarySI only for integers >= 1024 in magnitude (or exact int64 < 1024), else DecimalSI.
    const abs = q.exponent >= 0 ? q.mantissa * 10n ** BigInt(q.exponent) : undefined;
    if (abs === undefined) {
      format = 'DecimalSI';
    } else if (abs < 1024n) {
      return (q.sign < 0 ? '-' : '') + abs.toString();
    } else if (abs <= MAX_INT64) {
      let value = abs;
      let exp = 0;
      while (exp < 60 && value % 1024n === 0n) {
        value /= 1024n;
        exp += 10;
      }
      const suffix = exp === 0 ? '' : [...BINARY_SUFFIXES].find(([, e]) => e === exp)![0];
      return (q.sign < 0 ? '-' : '') + value.toString() + suffix;
    } else {
      format = 'DecimalSI';
    }
  }
  // Decimal: pick exponent multiple of 3 so the mantissa is an integer (rounded up at nano precision).
  let mantissa = q.mantissa;
  let exponent = q.exponent;
  while (exponent % 3 !== 0) {
    mantissa *= 10n;
    exponent -= 1;
  }
  while (exponent < 18 && mantissa % 1000n === 0n && mantissa !== 0n) {
    mantissa /= 1000n;
    exponent += 3;
  }
  const sign = q.sign < 0 ? '-' : '';
  if (format === 'DecimalExponent') {
    return `${sign}${mantissa.toString()}${exponent === 0 ? '' : `e${exponent}`}`;
  }
  if (exponent > 18) {
    mantissa *= 10n ** BigInt(exponent - 18);
    exponent = 18;
  }
  const suffix = [...DECIMAL_SUFFIXES].find(([, e]) => e === exponent)![0];
  return `${sign}${mantissa.toString()}${suffix}`;
}

/** Converts an int64 to a quantity ("resource.NewQuantity"); throws outside int64. */
export function quantityFromInteger(n: bigint, format: QuantityFormat = 'DecimalSI'): Quantity {
  if (n > MAX_INT64 || n < MIN_INT64) throw new RangeError('quantity integer out of int64 range');
  return fromBigInt(n, format);
}

interface QuantityParts {
  positive: boolean;
  value: string;
  num: string;
  denom: string;
  suffix: string;
}

/** Port of apimachinery's `parseQuantityString` (byte-wise state machine). */
function splitQuantityString(str: string): QuantityParts | { error: QuantityParseError } {
  let positive = true;
  let pos = 0;
  const end = str.length;
  if (str[0] === '-') {
    positive = false;
    pos++;
  } else if (str[0] === '+') {
    pos++;
  }
  // Strip leading zeros; a string of only sign/zeros is 0.
  while (pos < end && str[pos] === '0') pos++;
  if (pos >= end) return { positive, value: '0', num: '0', denom: '', suffix: '' };
  const numStart = pos;
  while (pos < end && isDigit(str.charCodeAt(pos))) pos++;
  if (pos >= end) return { positive, value: str, num: str.slice(numStart), denom: '', suffix: '' };
  let num = str.slice(numStart, pos);
  if (num.length === 0) num = '0';
  let denom = '';
  if (str[pos] === '.') {
    pos++;
    const denomStart = pos;
    while (pos < end && isDigit(str.charCodeAt(pos))) pos++;
    denom = str.slice(denomStart, pos);
    if (pos >= end) return { positive, value: str, num, denom, suffix: '' };
  }
  const value = str.slice(0, pos);
  const suffixStart = pos;
  while (pos < end && SUFFIX_CHARS.includes(str[pos]!)) pos++;
  if (pos >= end) return { positive, value, num, denom, suffix: str.slice(suffixStart) };
  if (str[pos] === '-' || str[pos] === '+') pos++;
  while (pos < end && isDigit(str.charCodeAt(pos))) pos++;
  if (pos >= end) return { positive, value, num, denom, suffix: str.slice(suffixStart) };
  return { error: 'ErrFormatWrong' };
}

function interpretSuffix(
  suffix: string,
): { base: 2 | 10; exponent: number; format: QuantityFormat } | undefined {
  const dec = DECIMAL_SUFFIXES.get(suffix);
  if (dec !== undefined) return { base: 10, exponent: dec, format: 'DecimalSI' };
  const bin = BINARY_SUFFIXES.get(suffix);
  if (bin !== undefined) return { base: 2, exponent: bin, format: 'BinarySI' };
  if (suffix.length > 1 && (suffix[0] === 'e' || suffix[0] === 'E')) {
    // strconv.ParseInt(s, 10, 64) then int32(...) truncation, as apimachinery does.
    const text = suffix.slice(1);
    if (!/^[+-]?[0-9]+$/.test(text)) return undefined;
    const parsed = BigInt(text);
    if (parsed > MAX_INT64 || parsed < MIN_INT64) return undefined;
    return { base: 10, exponent: Number(BigInt.asIntN(32, parsed)), format: 'DecimalExponent' };
  }
  return undefined;
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

function normalize(sign: -1 | 1, mantissa: bigint, exponent: number, format: QuantityFormat): Quantity {
  if (mantissa === 0n) return { ...ZERO, format };
  let m = mantissa;
  let e = exponent;
  while (m % 10n === 0n) {
    m /= 10n;
    e++;
  }
  return { sign, mantissa: m, exponent: e, format };
}

function fromBigInt(n: bigint, format: QuantityFormat): Quantity {
  if (n === 0n) return { ...ZERO, format };
  return normalize(n < 0n ? -1 : 1, n < 0n ? -n : n, 0, format);
}

/** inf.RoundUp at scale 9 on the magnitude: anything below 1n becomes 1n, fractions of 1n go up. */
function roundUpToNano(q: Quantity): Quantity {
  if (q.sign === 0 || q.exponent >= NANO) return q;
  const drop = NANO - q.exponent; // digits below nano precision
  const digits = q.mantissa.toString();
  if (drop >= digits.length) return normalize(q.sign, 1n, NANO, q.format);
  const kept = BigInt(digits.slice(0, digits.length - drop));
  const droppedNonZero = /[1-9]/.test(digits.slice(digits.length - drop));
  return normalize(q.sign, droppedNonZero ? kept + 1n : kept, NANO, q.format);
}

/** Compares |a| and |b| without materialising huge powers of ten. */
function compareMagnitude(a: Quantity, b: Quantity): -1 | 0 | 1 {
  if (a.mantissa === 0n || b.mantissa === 0n) {
    if (a.mantissa === b.mantissa) return 0;
    return a.mantissa === 0n ? -1 : 1;
  }
  const da = a.mantissa.toString();
  const db = b.mantissa.toString();
  const orderA = da.length + a.exponent;
  const orderB = db.length + b.exponent;
  if (orderA !== orderB) return orderA < orderB ? -1 : 1;
  // Same order of magnitude: compare the digit strings left-aligned.
  const len = Math.max(da.length, db.length);
  const pa = da.padEnd(len, '0');
  const pb = db.padEnd(len, '0');
  if (pa === pb) return 0;
  return pa < pb ? -1 : 1;
}
