/**
 * Go's `time.ParseDuration` and `time.Duration.String()`, as Kyverno uses them to compare durations in
 * patterns ("<=1h") and in the Duration* condition operators.
 *
 * Hand-written because JavaScript duration libraries (ms, parse-duration, luxon) accept other grammars
 * (days, spaces, words, "1.5 hours") while Kyverno must reject exactly what Go rejects and round exactly
 * as Go does (fractions are computed in float64 and truncated to whole nanoseconds). Values are int64
 * nanoseconds, carried as BigInt to stay exact beyond 2^53 ns (~104 days).
 */

const NS = 1n;
const US = 1000n;
const MS = 1_000_000n;
const SEC = 1_000_000_000n;
const MIN = 60n * SEC;
const HOUR = 60n * MIN;

const UNITS: ReadonlyMap<string, bigint> = new Map([
  ['ns', NS],
  ['us', US],
  ['\u00b5s', US], // micro sign
  ['\u03bcs', US], // Greek small letter mu
  ['ms', MS],
  ['s', SEC],
  ['m', MIN],
  ['h', HOUR],
]);

const TWO_63 = 1n << 63n;
const MAX_INT64 = TWO_63 - 1n;

export type DurationParseResult = { ns: bigint } | { error: string };

/** `time.ParseDuration`: int64 nanoseconds, or undefined when Go returns an error. */
export function parseGoDurationBig(s: string): bigint | undefined {
  const r = parseGoDurationDetailed(s);
  return 'error' in r ? undefined : r.ns;
}

/** `time.ParseDuration` as a JS number of nanoseconds (exact up to 2^53 ns; use the BigInt form to compare). */
export function parseGoDuration(s: string): number | undefined {
  const ns = parseGoDurationBig(s);
  return ns === undefined ? undefined : Number(ns);
}

/** Like `parseGoDurationBig`, with Go's error message. */
export function parseGoDurationDetailed(orig: string): DurationParseResult {
  const invalid = { error: `time: invalid duration ${goQuote(orig)}` };
  let s = orig;
  let neg = false;
  if (s !== '' && (s[0] === '-' || s[0] === '+')) {
    neg = s[0] === '-';
    s = s.slice(1);
  }
  if (s === '0') return { ns: 0n };
  if (s === '') return invalid;
  let total = 0n;
  while (s !== '') {
    const c0 = s.charCodeAt(0);
    if (!(c0 === 0x2e || isDigit(c0))) return invalid;
    // Integer part [0-9]*.
    let i = 0;
    let v = 0n;
    while (i < s.length && isDigit(s.charCodeAt(i))) {
      if (v > TWO_63 / 10n) return invalid;
      v = v * 10n + BigInt(s.charCodeAt(i) - 0x30);
      if (v > TWO_63) return invalid;
      i++;
    }
    const pre = i > 0;
    s = s.slice(i);
    // Fraction (\.[0-9]*)?: accumulates until it would overflow, then ignores further digits.
    let f = 0n;
    let scale = 1;
    let post = false;
    if (s !== '' && s[0] === '.') {
      s = s.slice(1);
      let j = 0;
      let overflow = false;
      while (j < s.length && isDigit(s.charCodeAt(j))) {
        j++;
        if (overflow) continue;
        if (f > MAX_INT64 / 10n) {
          overflow = true;
          continue;
        }
        const y = f * 10n + BigInt(s.charCodeAt(j - 1) - 0x30);
        if (y > TWO_63) {
          overflow = true;
          continue;
        }
        f = y;
        scale *= 10;
      }
      post = j > 0;
      s = s.slice(j);
    }
    if (!pre && !post) return invalid;
    // Unit: everything up to the next '.' or digit.
    let u = 0;
    while (u < s.length && !(s.charCodeAt(u) === 0x2e || isDigit(s.charCodeAt(u)))) u++;
    if (u === 0) return { error: `time: missing unit in duration ${goQuote(orig)}` };
    const unitName = s.slice(0, u);
    s = s.slice(u);
    const unit = UNITS.get(unitName);
    if (unit === undefined) {
      return { error: `time: unknown unit ${goQuote(unitName)} in duration ${goQuote(orig)}` };
    }
    if (v > TWO_63 / unit) return invalid;
    v *= unit;
    if (f > 0n) {
      // Go computes the fraction in float64 ("nanosecond accurate for fractions of hours") and truncates.
      v += BigInt(Math.trunc(Number(f) * (Number(unit) / scale)));
      if (v > TWO_63) return invalid;
    }
    total += v;
    if (total > TWO_63) return invalid;
  }
  if (neg) return { ns: -total };
  if (total > MAX_INT64) return invalid;
  return { ns: total };
}

/** `time.Duration.String()`: "1h2m3.5s", "1.5µs", "0s". */
export function formatGoDuration(ns: bigint | number): string {
  let u = typeof ns === 'bigint' ? ns : BigInt(Math.trunc(ns));
  const neg = u < 0n;
  if (neg) u = -u;
  let out: string;
  if (u < SEC) {
    if (u === 0n) return '0s';
    if (u < US) out = `${u}ns`;
    else if (u < MS) out = `${fmtFrac(u, 3)}\u00b5s`;
    else out = `${fmtFrac(u, 6)}ms`;
  } else {
    const secs = fmtFrac(u, 9);
    const wholeSeconds = u / SEC;
    const sec = wholeSeconds % 60n;
    const minutesTotal = wholeSeconds / 60n;
    const fractional = secs.includes('.') ? secs.slice(secs.indexOf('.')) : '';
    out = `${sec}${fractional}s`;
    if (minutesTotal > 0n) {
      out = `${minutesTotal % 60n}m${out}`;
      const hours = minutesTotal / 60n;
      if (hours > 0n) out = `${hours}h${out}`;
    }
  }
  return neg ? `-${out}` : out;
}

/** v / 10^prec with trailing fractional zeros (and a bare '.') removed. */
function fmtFrac(v: bigint, prec: number): string {
  const div = 10n ** BigInt(prec);
  const whole = v / div;
  const frac = (v % div).toString().padStart(prec, '0').replace(/0+$/, '');
  return frac === '' ? whole.toString() : `${whole}.${frac}`;
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/** Go's strconv.Quote for the printable ASCII texts that appear in error messages. */
function goQuote(s: string): string {
  return JSON.stringify(s);
}
