/**
 * Go value semantics that Kyverno's condition operators depend on: how `fmt.Sprint` renders a value, and what
 * `strconv.ParseFloat` / `strconv.ParseInt` accept. Kyverno type-switches on Go types (int, int64, float64, string,
 * bool, map, slice); JSON gives us only `number`, so an integral JS number plays Go `int` and any other finite
 * number plays `float64` (docs/expressions.md, "Deliberate differences").
 */

export type JsonObject = Record<string, unknown>;

export function isPlainObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Go `int`/`int64` stand-in: an integral, finite JS number. */
export function isGoInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v);
}

/** Go `float64` stand-in: a non-integral (or non-finite) JS number. */
export function isGoFloat(v: unknown): v is number {
  return typeof v === 'number' && !Number.isInteger(v);
}

// strconv.ParseFloat (base 10 forms; Go also accepts hex floats and underscores after a base prefix,
// which never occur in policies).
// `\d+(?:\.\d*)?` rather than `\d+\.?\d*`: one way to read a digit run, so no quadratic backtracking.
const GO_FLOAT = /^[+-]?(?:(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?|inf|infinity|nan)$/i;
const GO_INT = /^[+-]?\d+$/;
const INT64_MAX = 9223372036854775807n;
const INT64_MIN = -9223372036854775808n;

/** `strconv.ParseFloat(s, 64)`; undefined on a syntax error. */
export function parseGoFloat(s: string): number | undefined {
  if (!GO_FLOAT.test(s)) return undefined;
  const lower = s.toLowerCase();
  if (lower.endsWith('nan')) return Number.NaN;
  if (lower.endsWith('inf') || lower.endsWith('infinity')) {
    return s.startsWith('-') ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
  }
  return Number(s);
}

/** `strconv.ParseInt(s, 10, 64)`; undefined on a syntax or range error. */
export function parseGoInt(s: string): number | undefined {
  if (!GO_INT.test(s)) return undefined;
  const big = BigInt(s);
  if (big > INT64_MAX || big < INT64_MIN) return undefined;
  return Number(big);
}

/** Go's `%v` for float64: shortest digits, `%e` form when the exponent is < -4 or >= 6 (strconv 'g', -1). */
export function formatGoFloat(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Number.POSITIVE_INFINITY) return '+Inf';
  if (v === Number.NEGATIVE_INFINITY) return '-Inf';
  const [mantissa = '0', expPart = '0'] = v.toExponential().split('e');
  const exp = Number(expPart);
  if (exp < -4 || exp >= 6) {
    const sign = exp < 0 ? '-' : '+';
    const digits = String(Math.abs(exp)).padStart(2, '0');
    return `${mantissa}e${sign}${digits}`;
  }
  return String(v);
}

/** `fmt.Sprint(v)` for JSON values (maps print with sorted keys, as Go does). */
export function goSprint(v: unknown): string {
  switch (typeof v) {
    case 'string':
      return v;
    case 'boolean':
      return v ? 'true' : 'false';
    case 'number':
      return Number.isInteger(v) ? String(v) : formatGoFloat(v);
    case 'bigint':
      return v.toString();
    case 'undefined':
      return '<nil>';
    case 'object': {
      if (v === null) return '<nil>';
      if (Array.isArray(v)) return `[${v.map(goSprint).join(' ')}]`;
      const obj = v as JsonObject;
      const keys = Object.keys(obj).sort();
      return `map[${keys.map((k) => `${k}:${goSprint(obj[k])}`).join(' ')}]`;
    }
    case 'function':
    case 'symbol':
      return String(v);
  }
}

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
  const ao = a as JsonObject;
  const bo = b as JsonObject;
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
