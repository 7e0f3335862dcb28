/**
 * Helpers shared by the tool adapters: time formats, stable ids, argv splitting, container ids,
 * open(2) flags. All are allocation-light because they run on every event of a storm.
 */
import type { FileOperation } from '../types.js';

const DIGITS = /^\d+$/;

/**
 * RFC 3339 with up to 9 fractional digits: `YYYY-MM-DDTHH:MM:SS[.fffffffff](Z|±HH:MM)`, the same
 * strings as /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/. Checked by
 * hand: every event's time goes through here, and the regex cost as much as the rest of the
 * envelope (test/unit/events/adapter-helpers.test.ts compares the two).
 */
export function isRfc3339(value: string): boolean {
  const length = value.length;
  if (length < 20 || length > 35) return false;
  if (
    !digitsAt(value, 0, 4) ||
    value.charCodeAt(4) !== 45 || // -
    !digitsAt(value, 5, 2) ||
    value.charCodeAt(7) !== 45 ||
    !digitsAt(value, 8, 2) ||
    value.charCodeAt(10) !== 84 || // T
    !digitsAt(value, 11, 2) ||
    value.charCodeAt(13) !== 58 || // :
    !digitsAt(value, 14, 2) ||
    value.charCodeAt(16) !== 58 ||
    !digitsAt(value, 17, 2)
  )
    return false;
  let i = 19;
  if (value.charCodeAt(i) === 46) {
    // .fffffffff
    const start = ++i;
    while (i < length && i - start < 10 && isDigitCode(value.charCodeAt(i))) i++;
    const fraction = i - start;
    if (fraction < 1 || fraction > 9) return false;
  }
  const zone = value.charCodeAt(i);
  if (zone === 90) return i + 1 === length; // Z
  if (zone !== 43 && zone !== 45) return false; // + -
  return (
    i + 6 === length &&
    digitsAt(value, i + 1, 2) &&
    value.charCodeAt(i + 3) === 58 &&
    digitsAt(value, i + 4, 2)
  );
}

function isDigitCode(c: number): boolean {
  return c >= 48 && c <= 57;
}

function digitsAt(value: string, at: number, count: number): boolean {
  for (let i = at; i < at + count; i++) if (!isDigitCode(value.charCodeAt(i))) return false;
  return true;
}

/** Unix seconds (+ nanoseconds) → RFC 3339 UTC keeping nanosecond precision. */
export function timeFromUnix(seconds: number, nanos = 0): string | undefined {
  if (!Number.isSafeInteger(seconds) || seconds < 0 || seconds > 253402300799) return undefined;
  if (!Number.isSafeInteger(nanos) || nanos < 0 || nanos > 999999999) return undefined;
  const base = new Date(seconds * 1000).toISOString(); // "YYYY-MM-DDTHH:MM:SS.000Z"
  if (nanos === 0) return base.slice(0, 19) + 'Z';
  return `${base.slice(0, 19)}.${String(nanos).padStart(9, '0')}Z`;
}

/**
 * Unix nanoseconds as a JSON number or decimal string → RFC 3339. JSON numbers above 2^53 lose the
 * last digits (Tracee/Falco print them unquoted); the string form keeps full precision.
 */
export function timeFromUnixNanos(value: unknown): string | undefined {
  if (typeof value === 'string' && value.length >= 10 && value.length <= 20 && DIGITS.test(value)) {
    const seconds = Number(value.slice(0, -9) || '0');
    return timeFromUnix(seconds, Number(value.slice(-9)));
  }
  if (typeof value === 'number' && Number.isFinite(value) && value > 0) {
    const seconds = Math.floor(value / 1e9);
    const nanos = Math.max(0, Math.min(999999999, Math.round(value - seconds * 1e9)));
    return timeFromUnix(seconds, nanos);
  }
  return undefined;
}

/**
 * Stable id for a raw event: two 32-bit FNV-1a hashes with different seeds over the identifying
 * fields (64 bits, hex). Hand-rolled because a crypto digest per event costs more than the rest of
 * the adapter, and ids only need to be stable and collision-unlikely, not secret.
 */
const ID_PART_WINDOW = 128;

export function stableId(prefix: string, parts: readonly (string | number | undefined)[]): string {
  let h1 = 0x811c9dc5;
  let h2 = 0x01000193 ^ 0x5bd1e995;
  for (let p = 0; p < parts.length; p++) {
    const part = parts[p];
    const s = part === undefined ? '\u0000' : typeof part === 'string' ? part : String(part);
    const length = s.length;
    // Long parts (a Falco output line) contribute their length, head and tail: enough to tell
    // events apart, without hashing kilobytes per event. Two plain loops rather than one with a
    // per-character index switch: this runs for every character of every event.
    const long = length > ID_PART_WINDOW * 2;
    if (long) h1 = Math.imul(h1 ^ length, 0x01000193);
    const headEnd = long ? ID_PART_WINDOW : length;
    for (let j = 0; j < headEnd; j++) {
      const c = s.charCodeAt(j);
      h1 = Math.imul(h1 ^ c, 0x01000193);
      h2 = Math.imul(h2 ^ c, 0x01000193) ^ (h2 >>> 15);
    }
    if (long) {
      for (let j = length - ID_PART_WINDOW; j < length; j++) {
        const c = s.charCodeAt(j);
        h1 = Math.imul(h1 ^ c, 0x01000193);
        h2 = Math.imul(h2 ^ c, 0x01000193) ^ (h2 >>> 15);
      }
    }
    h1 = Math.imul(h1 ^ 0x1f, 0x01000193); // field separator, so ("ab","c") != ("a","bc")
    h2 = Math.imul(h2 ^ 0x1f, 0x01000193);
  }
  return `${prefix}-${hex64(h1, h2)}`;
}

/** Character codes of the lowercase hex digits. */
const HEX_CODES = Uint8Array.from('0123456789abcdef', (c) => c.charCodeAt(0));

/**
 * The sixteen lowercase hex digits of two 32-bit values as one flat string: a single fromCharCode
 * call, where joining per-byte strings built and copied a string per step on every event.
 */
function hex64(h1: number, h2: number): string {
  const x = HEX_CODES;
  return String.fromCharCode(
    x[(h1 >>> 28) & 15]!,
    x[(h1 >>> 24) & 15]!,
    x[(h1 >>> 20) & 15]!,
    x[(h1 >>> 16) & 15]!,
    x[(h1 >>> 12) & 15]!,
    x[(h1 >>> 8) & 15]!,
    x[(h1 >>> 4) & 15]!,
    x[h1 & 15]!,
    x[(h2 >>> 28) & 15]!,
    x[(h2 >>> 24) & 15]!,
    x[(h2 >>> 20) & 15]!,
    x[(h2 >>> 16) & 15]!,
    x[(h2 >>> 12) & 15]!,
    x[(h2 >>> 8) & 15]!,
    x[(h2 >>> 4) & 15]!,
    x[h2 & 15]!,
  );
}

/**
 * Splits a command line the way a POSIX shell splits words: whitespace separates, single quotes
 * are literal, double quotes group (backslash escapes `"` and `\` inside them), a backslash outside
 * quotes escapes the next character. Tetragon prints `arguments` this way (`-c "curl https://…"`).
 * No globbing or expansion, ever: the result is data, not a command.
 */
export function splitCommandLine(line: string): string[] {
  // Most command lines hold no quote and no backslash: then words are plain slices between blanks.
  if (!hasQuoteOrBackslash(line)) return splitWords(line, 0, true);
  const out: string[] = [];
  let current = '';
  let inWord = false;
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote === "'") {
      if (c === "'") quote = undefined;
      else current += c;
      continue;
    }
    if (quote === '"') {
      if (c === '"') quote = undefined;
      else if (c === '\\' && (line[i + 1] === '"' || line[i + 1] === '\\')) current += line[++i] ?? '';
      else current += c;
      continue;
    }
    if (c === ' ' || c === '\t' || c === '\n') {
      if (inWord) out.push(current);
      current = '';
      inWord = false;
      continue;
    }
    inWord = true;
    if (c === '"' || c === "'") quote = c;
    else if (c === '\\' && i + 1 < line.length) current += line[++i] ?? '';
    else current += c;
  }
  if (inWord) out.push(current); // an unterminated quote keeps what it read
  return out;
}

function hasQuoteOrBackslash(line: string): boolean {
  for (let i = 0; i < line.length; i++) {
    const c = line.charCodeAt(i);
    if (c === 34 || c === 39 || c === 92) return true; // " ' \\
  }
  return false;
}

/**
 * Splits on runs of spaces only (Falco's proc.cmdline joins argv with single spaces, unquoted),
 * dropping the first `skip` words (1 turns a command line into its arguments).
 */
export function splitOnSpaces(line: string, skip = 0): string[] {
  return splitWords(line, skip, false);
}

/** Words between runs of spaces (and tabs and newlines when `anyBlank`), after the first `skip`. */
function splitWords(line: string, skip: number, anyBlank: boolean): string[] {
  const out: string[] = [];
  let start = -1;
  let words = 0;
  for (let i = 0; i <= line.length; i++) {
    const c = i < line.length ? line.charCodeAt(i) : 32;
    if (c === 32 || (anyBlank && (c === 9 || c === 10))) {
      if (start >= 0 && words++ >= skip) out.push(line.slice(start, i));
      start = -1;
    } else if (start < 0) {
      start = i;
    }
  }
  return out;
}

/** The first space-separated word, without splitting the rest. */
export function firstWord(line: string): string | undefined {
  let start = 0;
  while (start < line.length && line.charCodeAt(start) === 32) start++;
  if (start === line.length) return undefined;
  const end = line.indexOf(' ', start);
  return end < 0 ? line.slice(start) : line.slice(start, end);
}

/** Linux open(2) flag bits that mean the file is written. */
const O_WRONLY = 0o1;
const O_RDWR = 0o2;
const O_CREAT = 0o100;
const O_TRUNC = 0o1000;
const O_APPEND = 0o2000;

/** Classifies numeric open flags: undefined when they say nothing about writing. */
export function fileOperationFromOpenFlags(flags: number): FileOperation {
  if (flags & O_CREAT) return 'create';
  if (flags & (O_WRONLY | O_RDWR | O_TRUNC | O_APPEND)) return 'write';
  return 'read';
}

/** Classifies symbolic open flags ("O_WRONLY|O_CREAT|O_TRUNC", Tracee/KubeArmor/Falco). */
export function fileOperationFromFlagNames(flags: string): FileOperation {
  if (flags.includes('O_CREAT')) return 'create';
  if (
    flags.includes('O_WRONLY') ||
    flags.includes('O_RDWR') ||
    flags.includes('O_TRUNC') ||
    flags.includes('O_APPEND')
  ) {
    return 'write';
  }
  return 'read';
}

/** Arch-specific syscall wrappers (`__x64_sys_mount`, `__arm64_sys_setns`, `__se_sys_x`, `ksys_x`) → `sys_x`. */
export function normaliseSyscallSymbol(name: string): string {
  if (name.startsWith('__x64_sys_')) return name.slice(6);
  if (name.startsWith('__arm64_sys_')) return name.slice(8);
  if (name.startsWith('__ia32_sys_')) return name.slice(7);
  if (name.startsWith('__ia32_compat_sys_')) return 'sys_' + name.slice(18);
  if (name.startsWith('__se_sys_') || name.startsWith('__do_sys_')) return name.slice(5);
  if (name.startsWith('ksys_')) return 'sys_' + name.slice(5);
  if (name.startsWith('__sys_')) return name.slice(2);
  return name;
}

/** Parses "ip:port" or "[v6]:port" → address and port. */
export function parseHostPort(value: string): { addr: string; port?: number } | undefined {
  const trimmed = value.trim();
  if (trimmed.length === 0) return undefined;
  if (trimmed.startsWith('[')) {
    const close = trimmed.indexOf(']');
    if (close < 0) return undefined;
    const addr = trimmed.slice(1, close);
    const rest = trimmed.slice(close + 1);
    const p = rest.startsWith(':') ? Number(rest.slice(1)) : NaN;
    return Number.isInteger(p) && p >= 0 && p <= 65535 ? { addr, port: p } : { addr };
  }
  const at = trimmed.lastIndexOf(':');
  if (at <= 0) return { addr: trimmed };
  const addr = trimmed.slice(0, at);
  const portText = trimmed.slice(at + 1);
  const p = Number(portText);
  // More than one colon without brackets is a bare IPv6 address (Falco prints v6 tuples this way).
  if (addr.includes(':')) {
    const lastPort = Number.isInteger(p) && p >= 0 && p <= 65535 && portText.length <= 5;
    return lastPort ? { addr, port: p } : { addr: trimmed };
  }
  return Number.isInteger(p) && p >= 0 && p <= 65535 && portText.length > 0 ? { addr, port: p } : { addr };
}

export function familyOf(addr: string): 'ipv4' | 'ipv6' | undefined {
  if (addr.includes(':')) return 'ipv6';
  if (addr.includes('.')) return 'ipv4';
  return undefined;
}
