/**
 * Go RE2 regular expressions run on JavaScript's engine. The syntax is close; we translate the RE2-only forms
 * policies use: leading inline flags `(?i)`, `(?s)`, `(?m)` (JS has no inline modifiers on Node 20), `\A`, `\z`,
 * and POSIX classes `[[:alpha:]]`. Compiled expressions are cached by source: policies use literal patterns.
 * Hand-written instead of @bufbuild/re2-style WASM engines to stay dependency-free; RE2's linear-time guarantee is
 * approximated by running only on policy-author patterns, never on event-supplied ones.
 */
import { LRUCache } from 'lru-cache';
import { JmesPathFunctionError } from '../errors.js';

const POSIX: Record<string, string> = {
  alpha: 'A-Za-z',
  digit: '0-9',
  alnum: 'A-Za-z0-9',
  upper: 'A-Z',
  lower: 'a-z',
  space: '\\t\\n\\v\\f\\r ',
  punct: '!-\\/:-@\\[-`{-~',
  xdigit: '0-9A-Fa-f',
  word: '\\w',
};

const cache = new LRUCache<string, RegExp>({ max: 2048 });

export function translateGoRegexp(source: string): { source: string; flags: string } {
  let src = source;
  let flags = 'u';
  const inline = /^\(\?([imsU]+)\)/.exec(src);
  if (inline) {
    src = src.slice(inline[0].length);
    for (const f of inline[1]!) if ((f === 'i' || f === 'm' || f === 's') && !flags.includes(f)) flags += f;
  }
  src = src
    .replace(/\[:(\w+):\]/g, (m, name: string) => POSIX[name] ?? m)
    .replace(/\\A/g, '^')
    .replace(/\\z/g, '$(?![\\s\\S])');
  return { source: src, flags };
}

/** Compiles a Go regexp (cached); throws JmesPathFunctionError when it does not compile. */
export function goRegexp(fn: string, source: string, global = false): RegExp {
  const key = `${global ? 'g' : '-'}${source}`;
  let re = cache.get(key);
  if (re === undefined) {
    const t = translateGoRegexp(source);
    try {
      re = new RegExp(t.source, global ? `${t.flags}g` : t.flags);
    } catch (e) {
      try {
        // Some RE2 escapes are invalid under the `u` flag in JS; retry without it.
        re = new RegExp(t.source, (global ? `${t.flags}g` : t.flags).replace('u', ''));
      } catch {
        throw new JmesPathFunctionError(
          fn,
          `invalid regular expression ${JSON.stringify(source)}: ${(e as Error).message}`,
        );
      }
    }
    cache.set(key, re);
  }
  re.lastIndex = 0;
  return re;
}

/** Go's `Regexp.Expand` template (`$1`, `${1}`, `${name}`, `$$`) to a JS replacement string. */
export function goReplacement(template: string): string {
  return template.replace(/\$(\$|\{(\w+)\}|(\w+))/g, (_m, whole: string, braced?: string, bare?: string) => {
    if (whole === '$') return '$$';
    const name = braced ?? bare ?? '';
    return /^\d+$/.test(name) ? `$${name}` : `$<${name}>`;
  });
}
