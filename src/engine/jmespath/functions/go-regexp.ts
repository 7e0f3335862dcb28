/**
 * Kyverno's regex functions compile their pattern with Go's `regexp`: here the shared RE2 engine (../../regexp.ts),
 * with a compile failure reported as the calling function's error (rule result `error`).
 */
import { compileGoRegexp, GoRegexpSyntaxError, type GoRegexp } from '../../regexp.js';
import { JmesPathFunctionError } from '../errors.js';

/** The functions whose first argument is a regexp: their constant patterns are checked at policy load. */
export const REGEX_FUNCTIONS: ReadonlySet<string> = new Set([
  'regex_match',
  'regex_replace_all',
  'regex_replace_all_literal',
]);

/** Compiles a Go regexp (cached); throws JmesPathFunctionError when it does not compile. */
export function goRegexp(fn: string, source: string): GoRegexp {
  try {
    return compileGoRegexp(source);
  } catch (e) {
    if (e instanceof GoRegexpSyntaxError) throw new JmesPathFunctionError(fn, e.message);
    throw e;
  }
}
