/**
 * Kyverno's wildcard matching (`ext/wildcard`, which wraps IGLOU-EU/go-wildcard v1.0.3 `Match`).
 *
 * Semantics:
 * - `*` matches any run of characters, including none;
 * - `?` matches exactly one character (one Unicode code point, as Go iterates runes);
 * - every other character matches itself: no escaping, no character classes, case-sensitive, and `/` is
 *   an ordinary character;
 * - an empty pattern matches only the empty string.
 *
 * Hand-written because glob libraries (minimatch, picomatch) give `/`, `**`, `[...]` and `\` special
 * meaning, and a regex translation would need escaping and risks catastrophic backtracking. The matcher
 * below is the classic single-backtrack-point algorithm: O(|pattern| * |text|) worst case, no recursion,
 * no allocation on the ASCII/BMP path.
 */

/** A compiled wildcard pattern. `test` never throws. */
export interface WildcardMatcher {
  readonly pattern: string;
  /** True when the pattern has no `*` or `?`: `test` is then plain string equality. */
  readonly isLiteral: boolean;
  test(text: string): boolean;
}

const STAR = 0x2a; // '*'
const QUESTION = 0x3f; // '?'
// A lone or paired UTF-16 surrogate: the string holds a code point above U+FFFF.
const SURROGATE = /[\uD800-\uDFFF]/;

/** True when `s` contains `*` or `?` (Kyverno's `wildcard.ContainsWildcard`). */
export function containsWildcard(s: string): boolean {
  return s.includes('*') || s.includes('?');
}

/** Matches `text` against `pattern` with Kyverno's wildcard semantics. Prefer `compileWildcard` in hot paths. */
export function wildcardMatch(pattern: string, text: string): boolean {
  if (pattern === '*' || pattern === text) return true;
  if (pattern === '') return false;
  if (!containsWildcard(pattern)) return false;
  if (SURROGATE.test(pattern) || SURROGATE.test(text)) {
    return matchUnits(codePoints(pattern), codePoints(text));
  }
  return matchUnits(pattern, text);
}

/** Compiles a pattern once: literal patterns become string equality, `*` becomes "always". */
export function compileWildcard(pattern: string): WildcardMatcher {
  if (pattern === '*') return { pattern, isLiteral: false, test: () => true };
  if (!containsWildcard(pattern)) {
    return { pattern, isLiteral: true, test: (text) => text === pattern };
  }
  if (SURROGATE.test(pattern)) {
    // Astral characters in the pattern: `?` must count code points, so use the code point matcher.
    const points = codePoints(pattern);
    return { pattern, isLiteral: false, test: (text) => matchUnits(points, codePoints(text)) };
  }
  const segments = pattern.split('*');
  const match = segments.length === 1 ? undefined : compileSegments(segments);
  return {
    pattern,
    isLiteral: false,
    test: (text) => {
      if (SURROGATE.test(text)) return matchUnits(codePoints(pattern), codePoints(text));
      return match ? match(text) : text.length === pattern.length && segmentAt(pattern, text, 0);
    },
  };
}

/**
 * `seg0*seg1*...*segN`: seg0 anchored at the start, segN at the end, and each middle segment at its
 * leftmost position after the previous one (leftmost placement never loses a match). Segments without
 * `?` use native string search.
 */
function compileSegments(segments: readonly string[]): (text: string) => boolean {
  const first = segments[0]!;
  const last = segments[segments.length - 1]!;
  const middle = segments.slice(1, -1).filter((seg) => seg !== '');
  const minLength = segments.reduce((n, seg) => n + seg.length, 0);
  const firstPlain = !first.includes('?');
  const lastPlain = !last.includes('?');
  const middlePlain = middle.map((seg) => !seg.includes('?'));
  return (text) => {
    if (text.length < minLength) return false;
    if (!(firstPlain ? text.startsWith(first) : segmentAt(first, text, 0))) return false;
    const lastStart = text.length - last.length;
    if (!(lastPlain ? text.endsWith(last) : segmentAt(last, text, lastStart))) return false;
    let pos = first.length;
    for (let i = 0; i < middle.length; i++) {
      const seg = middle[i]!;
      const found = middlePlain[i] ? text.indexOf(seg, pos) : findSegment(seg, text, pos);
      if (found === -1 || found + seg.length > lastStart) return false;
      pos = found + seg.length;
    }
    return true;
  };
}

/** True when `seg` (literal characters and `?`) matches `text` at `at`. */
function segmentAt(seg: string, text: string, at: number): boolean {
  if (at < 0 || at + seg.length > text.length) return false;
  for (let i = 0; i < seg.length; i++) {
    const c = seg.charCodeAt(i);
    if (c !== QUESTION && c !== text.charCodeAt(at + i)) return false;
  }
  return true;
}

function findSegment(seg: string, text: string, from: number): number {
  for (let at = from; at + seg.length <= text.length; at++) if (segmentAt(seg, text, at)) return at;
  return -1;
}

/** Kyverno's `CheckPatterns`: true when any pattern matches `text`. */
export function checkPatterns(patterns: readonly string[] | null | undefined, text: string): boolean {
  if (!patterns) return false;
  return patterns.some((p) => wildcardMatch(p, text));
}

export interface PatternsMatch {
  pattern: string;
  match: string;
  matched: boolean;
}

/**
 * Kyverno's `MatchPatterns(patterns, inputs...)`: the first input (outer loop) and the first pattern
 * (inner loop) that match, or `{ '', '', false }`.
 */
export function matchPatterns(
  patterns: readonly string[] | null | undefined,
  inputs: readonly string[] | null | undefined,
): PatternsMatch {
  for (const input of inputs ?? []) {
    for (const pattern of patterns ?? []) {
      if (wildcardMatch(pattern, input)) return { pattern, match: input, matched: true };
    }
  }
  return { pattern: '', match: '', matched: false };
}

/** Kyverno's `SeperateWildcards`: splits a list into entries with and without wildcards, keeping order. */
export function separateWildcards(list: readonly string[] | null | undefined): {
  withWildcards: string[];
  withoutWildcards: string[];
} {
  const withWildcards: string[] = [];
  const withoutWildcards: string[] = [];
  for (const s of list ?? []) (containsWildcard(s) ? withWildcards : withoutWildcards).push(s);
  return { withWildcards, withoutWildcards };
}

/**
 * Kyverno's `wildcards.ReplaceInSelector` for `matchLabels`: a key or value containing a wildcard is
 * replaced by the first resource label whose key and value both match it; when none matches, the
 * wildcard characters are replaced by `0` (so the selector cannot match). Go iterates the resource map
 * in random order; we use the resource's key order, which is deterministic.
 */
export function replaceWildcardsInSelectorLabels(
  matchLabels: Readonly<Record<string, string>>,
  resourceLabels: Readonly<Record<string, string>>,
): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [k, v] of Object.entries(matchLabels)) {
    if (!containsWildcard(k) && !containsWildcard(v)) {
      result[k] = v;
      continue;
    }
    const hit = Object.entries(resourceLabels).find(
      ([rk, rv]) => wildcardMatch(k, rk) && wildcardMatch(v, rv),
    );
    if (hit) result[hit[0]] = hit[1];
    else result[k.replace(/[*?]/g, '0')] = v.replace(/[*?]/g, '0');
  }
  return result;
}

/** Element-wise matcher over either a string (UTF-16 units) or an array of code points. */
function matchUnits(pattern: string | readonly number[], text: string | readonly number[]): boolean {
  const at = (s: string | readonly number[], i: number): number =>
    typeof s === 'string' ? s.charCodeAt(i) : s[i]!;
  const pLen = pattern.length;
  const tLen = text.length;
  let p = 0;
  let t = 0;
  let starP = -1; // position of the last '*' seen in the pattern
  let starT = 0; // text position that '*' is currently assumed to extend to
  while (t < tLen) {
    if (p < pLen) {
      const pc = at(pattern, p);
      if (pc === STAR) {
        starP = p++;
        starT = t;
        continue;
      }
      if (pc === QUESTION || pc === at(text, t)) {
        p++;
        t++;
        continue;
      }
    }
    if (starP === -1) return false;
    // Let the last '*' swallow one more character and retry from just after it.
    p = starP + 1;
    t = ++starT;
  }
  while (p < pLen && at(pattern, p) === STAR) p++;
  return p === pLen;
}

function codePoints(s: string): number[] {
  const out: number[] = [];
  for (const ch of s) out.push(ch.codePointAt(0)!);
  return out;
}
