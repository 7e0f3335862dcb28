/**
 * Kyverno's time functions (pkg/engine/jmespath/time.go). Timestamps are RFC 3339 strings unless a Go layout
 * ("2006-01-02 15:04:05") is given; results keep the input's UTC offset, as Go's time.Time does, and durations
 * come back as Go duration strings ("1h2m3s").
 */
import { formatGoDuration, parseGoDuration } from '../../duration.js';
import { JmesPathFunctionError } from '../errors.js';
import { argString } from './args.js';
import { goRegexp } from './go-regexp.js';
import type { GoRegexp } from '../../regexp.js';
import { kyvernoFunction as fn, type KyvernoFunction } from './types.js';

/** A point in time plus the UTC offset it was written with. */
export interface GoTime {
  readonly ms: number;
  /** Offset east of UTC, in minutes. */
  readonly offset: number;
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

function offsetMinutes(z: string): number {
  if (z === 'Z' || z === 'z') return 0;
  const sign = z.startsWith('-') ? -1 : 1;
  const digits = z.replace(/[^0-9]/g, '');
  return sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4) || '0'));
}

function build(
  fn: string,
  parts: { y: number; mo: number; d: number; h: number; mi: number; s: number; frac: string; offset: number },
): GoTime {
  const { y, mo, d, h, mi, s, frac, offset } = parts;
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 59) {
    throw new JmesPathFunctionError(fn, 'time out of range');
  }
  const ms =
    Date.UTC(y, mo - 1, d, h, mi, s, frac ? Math.trunc(Number(`0${frac}`) * 1000) : 0) - offset * 60_000;
  return { ms, offset };
}

// Go layout tokens we translate, longest first.
const LAYOUT_TOKENS: readonly [string, string, string][] = [
  ['2006', '(\\d{4})', 'y'],
  ['January', '([A-Za-z]+)', 'Month'],
  ['Jan', '([A-Za-z]{3})', 'Mon3'],
  ['Monday', '[A-Za-z]+', ''],
  ['Mon', '[A-Za-z]{3}', ''],
  ['MST', '[A-Z]{3,5}', ''],
  ['Z07:00', '(Z|[+-]\\d{2}:\\d{2})', 'z'],
  ['Z0700', '(Z|[+-]\\d{4})', 'z'],
  ['-07:00', '([+-]\\d{2}:\\d{2})', 'z'],
  ['-0700', '([+-]\\d{4})', 'z'],
  ['01', '(\\d{2})', 'mo'],
  ['02', '(\\d{2})', 'd'],
  ['_2', ' ?(\\d{1,2})', 'd'],
  ['15', '(\\d{2})', 'h'],
  ['03', '(\\d{2})', 'h12'],
  ['04', '(\\d{2})', 'mi'],
  ['05', '(\\d{2})', 's'],
  ['PM', '(AM|PM)', 'ampm'],
  ['pm', '(am|pm)', 'ampm'],
  ['.000000000', '(\\.\\d{9})', 'frac'],
  ['.000000', '(\\.\\d{6})', 'frac'],
  ['.000', '(\\.\\d{3})', 'frac'],
  ['.999999999', '(\\.\\d+)?', 'frac'],
  ['.999999', '(\\.\\d+)?', 'frac'],
  ['.999', '(\\.\\d+)?', 'frac'],
  ['06', '(\\d{2})', 'y2'],
  ['1', '(\\d{1,2})', 'mo'],
  ['2', '(\\d{1,2})', 'd'],
  ['3', '(\\d{1,2})', 'h12'],
  ['4', '(\\d{1,2})', 'mi'],
  ['5', '(\\d{1,2})', 's'],
];
const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];

interface CompiledLayout {
  re: GoRegexp;
  fields: string[];
}
const layoutCache = new Map<string, CompiledLayout>();

function compileLayout(caller: string, layout: string): CompiledLayout {
  let cached = layoutCache.get(layout);
  if (cached) return cached;
  let src = '';
  const fields: string[] = [];
  for (let i = 0; i < layout.length;) {
    const tok = LAYOUT_TOKENS.find(([t]) => layout.startsWith(t, i));
    if (tok) {
      src += tok[1];
      if (tok[2]) fields.push(tok[2]);
      i += tok[0].length;
    } else {
      src += layout[i]!.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      i++;
    }
  }
  // RE2, not RegExp: the layout may come from the event, and `1111…` becomes `(\d{1,2})(\d{1,2})…`, which
  // backtracks exponentially on a near-miss.
  cached = { re: goRegexp(caller, `^${src}$`), fields };
  if (layoutCache.size < 256) layoutCache.set(layout, cached);
  return cached;
}

/** Go `time.Parse(layout, s)`; an empty layout means RFC 3339. */
export function parseGoTime(fn: string, layout: string, s: string): GoTime {
  if (layout === '' || layout === '2006-01-02T15:04:05Z07:00') {
    const m = RFC3339.exec(s);
    if (!m) throw new JmesPathFunctionError(fn, `parsing time ${JSON.stringify(s)} as RFC3339 failed`);
    return build(fn, {
      y: Number(m[1]),
      mo: Number(m[2]),
      d: Number(m[3]),
      h: Number(m[4]),
      mi: Number(m[5]),
      s: Number(m[6]),
      frac: m[7] ?? '',
      offset: offsetMinutes(m[8]!),
    });
  }
  const { re, fields } = compileLayout(fn, layout);
  const m = re.exec(s);
  if (!m)
    throw new JmesPathFunctionError(
      fn,
      `parsing time ${JSON.stringify(s)} as ${JSON.stringify(layout)} failed`,
    );
  const p = { y: 0, mo: 1, d: 1, h: 0, mi: 0, s: 0, frac: '', offset: 0 };
  let pm: boolean | undefined;
  fields.forEach((f, i) => {
    const v = m[i + 1] ?? '';
    switch (f) {
      case 'y':
        p.y = Number(v);
        break;
      case 'y2':
        p.y = Number(v) + (Number(v) >= 69 ? 1900 : 2000);
        break;
      case 'Month':
      case 'Mon3': {
        const idx = MONTHS.indexOf(v.slice(0, 3).toLowerCase());
        if (idx < 0) throw new JmesPathFunctionError(fn, `bad month ${JSON.stringify(v)}`);
        p.mo = idx + 1;
        break;
      }
      case 'mo':
        p.mo = Number(v);
        break;
      case 'd':
        p.d = Number(v);
        break;
      case 'h':
      case 'h12':
        p.h = Number(v);
        break;
      case 'mi':
        p.mi = Number(v);
        break;
      case 's':
        p.s = Number(v);
        break;
      case 'frac':
        p.frac = v;
        break;
      case 'ampm':
        pm = v.toLowerCase() === 'pm';
        break;
      case 'z':
        p.offset = offsetMinutes(v);
        break;
    }
  });
  if (pm !== undefined) p.h = (p.h % 12) + (pm ? 12 : 0);
  return build(fn, p);
}

function pad(n: number, w = 2): string {
  return String(n).padStart(w, '0');
}

/** `t.Format(time.RFC3339)` in the time's own offset. */
export function formatRFC3339(t: GoTime): string {
  const local = new Date(t.ms + t.offset * 60_000);
  const base = `${pad(local.getUTCFullYear(), 4)}-${pad(local.getUTCMonth() + 1)}-${pad(local.getUTCDate())}T${pad(local.getUTCHours())}:${pad(local.getUTCMinutes())}:${pad(local.getUTCSeconds())}`;
  if (t.offset === 0) return `${base}Z`;
  const sign = t.offset < 0 ? '-' : '+';
  const abs = Math.abs(t.offset);
  return `${base}${sign}${pad(Math.trunc(abs / 60))}:${pad(abs % 60)}`;
}

function durationNs(fn: string, s: string): number {
  const ns = parseGoDuration(s);
  if (ns === undefined) throw new JmesPathFunctionError(fn, `time: invalid duration ${JSON.stringify(s)}`);
  return ns;
}

function now(): GoTime {
  return { ms: Date.now(), offset: -new Date().getTimezoneOffset() };
}

function rfc(fn: string, args: readonly unknown[], i: number): GoTime {
  return parseGoTime(fn, '', argString(fn, args, i));
}

export const timeFunctions: readonly KyvernoFunction[] = [
  fn('time_now', 0, 0, 'time_now(): the current local time, RFC 3339', () => formatRFC3339(now())),
  fn('time_now_utc', 0, 0, 'time_now_utc(): the current UTC time, RFC 3339', () =>
    formatRFC3339({ ms: Date.now(), offset: 0 }),
  ),
  fn('time_utc', 1, 1, 'time_utc(t): t in UTC', (a) =>
    formatRFC3339({ ms: rfc('time_utc', a, 0).ms, offset: 0 }),
  ),
  fn(
    'time_parse',
    2,
    2,
    'time_parse(layout, s): parse with a Go layout (a number = epoch seconds), RFC 3339 out',
    (a) => {
      const layout = argString('time_parse', a, 0);
      const value = argString('time_parse', a, 1);
      if (/^[+-]?\d+$/.test(layout)) {
        // Kyverno: a numeric layout means the input is Unix epoch seconds.
        if (!/^[+-]?\d+$/.test(value))
          throw new JmesPathFunctionError('time_parse', `invalid epoch ${JSON.stringify(value)}`);
        return formatRFC3339({ ms: Number(value) * 1000, offset: 0 });
      }
      return formatRFC3339(parseGoTime('time_parse', layout, value));
    },
  ),
  fn('time_add', 2, 2, 'time_add(t, duration): t + duration', (a) => {
    const t = rfc('time_add', a, 0);
    return formatRFC3339({
      ms: t.ms + durationNs('time_add', argString('time_add', a, 1)) / 1e6,
      offset: t.offset,
    });
  }),
  fn('time_since', 3, 3, "time_since(layout, t1, t2): t2 - t1 as a duration (t2 '' = now)", (a) => {
    const layout = argString('time_since', a, 0);
    const t1 = parseGoTime('time_since', layout, argString('time_since', a, 1));
    const s2 = argString('time_since', a, 2);
    const t2 = s2 === '' ? now() : parseGoTime('time_since', layout, s2);
    return formatGoDuration(Math.round((t2.ms - t1.ms) * 1e6));
  }),
  fn('time_diff', 2, 2, 'time_diff(t1, t2): t2 - t1 as a duration', (a) =>
    formatGoDuration(Math.round((rfc('time_diff', a, 1).ms - rfc('time_diff', a, 0).ms) * 1e6)),
  ),
  fn(
    'time_before',
    2,
    2,
    'time_before(t1, t2): t1 < t2',
    (a) => rfc('time_before', a, 0).ms < rfc('time_before', a, 1).ms,
  ),
  fn(
    'time_after',
    2,
    2,
    'time_after(t1, t2): t1 > t2',
    (a) => rfc('time_after', a, 0).ms > rfc('time_after', a, 1).ms,
  ),
  fn('time_between', 3, 3, 'time_between(t, start, end): start < t < end', (a) => {
    const t = rfc('time_between', a, 0).ms;
    return t > rfc('time_between', a, 1).ms && t < rfc('time_between', a, 2).ms;
  }),
  fn('time_truncate', 2, 2, 'time_truncate(t, duration): round t down to a multiple of duration', (a) => {
    const t = rfc('time_truncate', a, 0);
    const step = durationNs('time_truncate', argString('time_truncate', a, 1)) / 1e6;
    if (step <= 0) return formatRFC3339(t);
    return formatRFC3339({ ms: t.ms - (((t.ms % step) + step) % step), offset: t.offset });
  }),
  fn('time_to_cron', 1, 1, 'time_to_cron(t): "minute hour day month weekday" in t\'s own offset', (a) => {
    const t = rfc('time_to_cron', a, 0);
    // Fields in the timestamp's own offset, as Go's t.Minute()/t.Hour() are.
    const d = new Date(t.ms + t.offset * 60_000);
    return `${d.getUTCMinutes()} ${d.getUTCHours()} ${d.getUTCDate()} ${d.getUTCMonth() + 1} ${d.getUTCDay()}`;
  }),
];
