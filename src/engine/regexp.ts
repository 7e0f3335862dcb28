/**
 * Policy regular expressions with Go `regexp` (RE2) semantics, as Kyverno runs them: linear time in the input,
 * no backreferences, no lookaround, Go syntax (`(?i)`, `(?s)`, `\pL`, `\p{Greek}`, `(?P<name>…)`, `\z`,
 * `\Q…\E`, `[[:alpha:]]`). The engine is re2js, a pure-JS port of RE2 (no native build, no WASM start-up).
 *
 * Every CEL `matches`/`find`/`findAll` and JMESPath `regex_*` call goes through `compileGoRegexp`, which
 * compiles each distinct pattern once (bounded LRU) and refuses patterns longer than MAX_PATTERN_LENGTH:
 * matching is O(pattern × input), and a pattern can come from event data when a policy builds it at run time.
 */
import { KyvernoRuntimeError } from '../contracts/errors.js';
import { LRUCache } from 'lru-cache';
import { RE2JS, type Matcher } from 're2js';

/** Longest pattern accepted (UTF-16 code units). Policies use patterns of tens of characters. */
export const MAX_PATTERN_LENGTH = 4096;

/** A pattern RE2 does not accept (or one over MAX_PATTERN_LENGTH). `message` is Go's wording. */
export class GoRegexpSyntaxError extends KyvernoRuntimeError {
  constructor(
    readonly pattern: string,
    readonly detail: string,
  ) {
    super('E_REGEXP_SYNTAX', `invalid regular expression ${JSON.stringify(clip(pattern))}: ${detail}`);
  }
}

function clip(s: string): string {
  return s.length > 80 ? `${s.slice(0, 80)}…` : s;
}

/** A compiled Go regexp. Indexes are UTF-16 offsets into the JS string. */
export interface GoRegexp {
  readonly source: string;
  /** Go `MatchString`: a match anywhere in `s`. */
  test(s: string): boolean;
  /** Go `FindString`: the leftmost match, or undefined when there is none (Go returns ""). */
  find(s: string): string | undefined;
  /** Go `FindAllString(s, n)`: successive non-overlapping matches; `n < 0` means all. */
  findAll(s: string, n?: number): string[];
  /** Go `FindStringSubmatch`: the match and its groups ('' for a group that did not take part), or undefined. */
  exec(s: string): string[] | undefined;
  /** Go `ReplaceAllString`: `template` is expanded per match with Go's `$1`, `${1}`, `$name`, `${name}`, `$$`. */
  replaceAll(s: string, template: string): string;
  /** Go `ReplaceAllLiteralString`. */
  replaceAllLiteral(s: string, replacement: string): string;
}

/** Go's parser message without re2js's exception prefix, e.g. "invalid escape sequence: `\1`". */
function syntaxDetail(e: unknown): string {
  const m = e instanceof Error ? e.message : String(e);
  return m.replace(/^error parsing regexp: /, '');
}

/** Compiles without the cache; throws GoRegexpSyntaxError. */
function build(source: string): GoRegexp {
  if (source.length > MAX_PATTERN_LENGTH) {
    throw new GoRegexpSyntaxError(
      source,
      `pattern is ${source.length} characters long, over the limit of ${MAX_PATTERN_LENGTH}`,
    );
  }
  let re: RE2JS;
  try {
    re = RE2JS.compile(source);
  } catch (e) {
    throw new GoRegexpSyntaxError(source, syntaxDetail(e));
  }
  return new CompiledGoRegexp(source, re);
}

/** Width of the code point at `i` (1 or 2 UTF-16 units): Go steps a rune, not a byte, past an empty match. */
function width(s: string, i: number): number {
  const c = s.codePointAt(i);
  return c !== undefined && c > 0xffff ? 2 : 1;
}

class CompiledGoRegexp implements GoRegexp {
  constructor(
    readonly source: string,
    private readonly re: RE2JS,
  ) {}

  test(s: string): boolean {
    return this.re.test(s);
  }

  find(s: string): string | undefined {
    const m = this.re.matcher(s);
    return m.find() ? s.slice(m.start(), m.end()) : undefined;
  }

  exec(s: string): string[] | undefined {
    const m = this.re.matcher(s);
    if (!m.find()) return undefined;
    const out: string[] = [];
    for (let g = 0; g <= this.re.groupCount(); g++) out.push(m.group(g) ?? '');
    return out;
  }

  /**
   * Go's `allMatches` loop, hand-ported: re2js's own iteration follows Java (an empty match right after a
   * match is kept), Go drops it, and Kyverno's results are Go's.
   */
  private eachMatch(s: string, limit: number, visit: (m: Matcher) => void): void {
    const m = this.re.matcher(s);
    let prevEnd = -1;
    let found = 0;
    for (let pos = 0; (limit < 0 || found < limit) && pos <= s.length;) {
      if (!m.find(pos)) break;
      const start = m.start();
      const end = m.end();
      let accept = true;
      if (end === pos) {
        // An empty match: not allowed right after the previous match; step one rune either way.
        if (start === prevEnd) accept = false;
        pos += pos < s.length ? width(s, pos) : 1;
      } else {
        pos = end;
      }
      prevEnd = end;
      if (accept) {
        visit(m);
        found++;
      }
    }
  }

  findAll(s: string, n = -1): string[] {
    const out: string[] = [];
    if (n === 0) return out;
    this.eachMatch(s, n, (m) => out.push(s.slice(m.start(), m.end())));
    return out;
  }

  /** Go's `replaceAll` loop, hand-ported for the same empty-match rule as eachMatch. */
  private replace(s: string, expand: (m: Matcher) => string): string {
    const m = this.re.matcher(s);
    let out = '';
    let lastEnd = 0;
    for (let searchPos = 0; searchPos <= s.length;) {
      if (!m.find(searchPos)) break;
      const start = m.start();
      const end = m.end();
      out += s.slice(lastEnd, start);
      // No replacement for an empty match right after the previous match.
      if (end > lastEnd || start === 0) out += expand(m);
      lastEnd = end;
      const w = searchPos < s.length ? width(s, searchPos) : 1;
      searchPos = searchPos + w > end ? searchPos + w : end;
    }
    return out + s.slice(lastEnd);
  }

  replaceAll(s: string, template: string): string {
    if (!template.includes('$')) return this.replace(s, () => template);
    const names = this.re.namedGroups();
    const groups = this.re.groupCount();
    return this.replace(s, (m) => expandGoTemplate(template, m, groups, names));
  }

  replaceAllLiteral(s: string, replacement: string): string {
    return this.replace(s, () => replacement);
  }
}

const NAME_CHAR = /[\p{L}\p{Nd}_]/u;

/**
 * Go's `Regexp.Expand`, hand-ported (re2js's `$` rules are JavaScript's or Java's): `$name` takes the longest
 * run of letters, digits and `_` (so `$1x` names group "1x", which is empty); `${name}` delimits it; an
 * all-digit name is a group number; `$$` is `$`; a `$` not followed by a name stays as is.
 */
function expandGoTemplate(
  template: string,
  m: Matcher,
  groups: number,
  names: Record<string, number>,
): string {
  let out = '';
  let i = 0;
  for (;;) {
    const dollar = template.indexOf('$', i);
    if (dollar < 0) break;
    out += template.slice(i, dollar);
    i = dollar + 1;
    if (template[i] === '$') {
      out += '$';
      i++;
      continue;
    }
    const brace = template[i] === '{';
    let j = brace ? i + 1 : i;
    while (j < template.length) {
      const cp = template.codePointAt(j)!;
      const ch = String.fromCodePoint(cp);
      if (!NAME_CHAR.test(ch)) break;
      j += ch.length;
    }
    const name = template.slice(brace ? i + 1 : i, j);
    if (name === '' || (brace && template[j] !== '}')) {
      out += '$';
      continue;
    }
    i = brace ? j + 1 : j;
    const num = /^(?:0|[1-9][0-9]{0,8})$/.test(name) ? Number(name) : -1;
    const group = num >= 0 ? num : Object.hasOwn(names, name) ? names[name]! : -1;
    if (group >= 0 && group <= groups) out += m.group(group) ?? '';
  }
  return out + template.slice(i);
}

// Bounded both in entries and in pattern text held (a pattern can be 4 KiB and come from event data).
const cache = new LRUCache<string, GoRegexp>({
  max: 2048,
  maxSize: 1 << 20,
  sizeCalculation: (_v, key) => key.length + 1,
});

/** Compiles a Go regexp, once per distinct pattern. Throws GoRegexpSyntaxError. */
export function compileGoRegexp(source: string): GoRegexp {
  let re = cache.get(source);
  if (re === undefined) {
    re = build(source);
    cache.set(source, re);
  }
  return re;
}

/** The RE2 error for `source`, or undefined when it compiles: for load-time checks of constant patterns. */
export function goRegexpError(source: string): string | undefined {
  try {
    compileGoRegexp(source);
    return undefined;
  } catch (e) {
    if (e instanceof GoRegexpSyntaxError) return e.message;
    throw e;
  }
}
