/**
 * Kyverno's validate.pattern semantics, compiled once per pattern and matched many times.
 *
 * `compilePattern(pattern)` takes the pattern after `{{ }}` substitution and resolves its `$( )` references
 * itself (do not resolve them beforehand: `\$(` escapes would be consumed twice). `match(resource)` walks
 * the resource as Kyverno's `validate.MatchPattern` does and maps its outcome:
 * - nil error -> pass;
 * - conditional `()` or global `<()` anchor unsatisfied -> skip (the rule does not apply);
 * - negation anchor `X()` matched, or any mismatch with a path -> fail, with Kyverno's path and message;
 * - a mismatch while some anchor key never appeared in the resource, or one with an empty path -> error.
 * The rule evaluator formats messages: "validation error: <msg> rule <r> failed at path <path>".
 */
import { compileNode, type PatternNode } from './compile.js';
import { compilePlainTest } from './plain-test.js';
import { PatternReferenceError, resolvePatternReferences } from './references.js';
import {
  isSkipError,
  keysAreMissing,
  needsMatchState,
  newMatchState,
  STATELESS,
  STATELESS_QUIET,
  validateElement,
  type MatchState,
} from './validate.js';

export type PatternResult =
  | { status: 'pass' }
  /** Mismatch at a path ("/spec/containers/0/image/"). */
  | { status: 'fail'; path: string; reason: string }
  /**
   * A conditional or global anchor did not hold: the rule does not apply. Kyverno reports only `reason`
   * (its skip has no path); `path` is where the anchor failed, for diagnostics.
   */
  | { status: 'skip'; path: string; reason: string }
  /** Kyverno's "error without a path" case. */
  | { status: 'error'; reason: string };

export interface CompiledPattern {
  match(resource: unknown): PatternResult;
  /**
   * `match(resource).status === 'pass'`, without formatting the path and message of a mismatch
   * (a runtime restrict rule needs only this, on every event).
   */
  test(resource: unknown): boolean;
}

export interface PatternOptions {
  /**
   * Resolve `$(...)` references (default true). False for a pattern whose `{{ }}` variables were just
   * substituted: its references were resolved before substitution, as Kyverno does, and a `$(` that is
   * left came from data.
   */
  readonly references?: boolean;
}

export function compilePattern(pattern: unknown, options: PatternOptions = {}): CompiledPattern {
  // `$(...)` references read the pattern itself, so they resolve here, once. Kyverno reports an
  // unresolvable reference when the rule runs ("variable substitution failed"), so we do too.
  let resolved: unknown = pattern;
  try {
    if (options.references !== false) resolved = resolvePatternReferences(pattern);
  } catch (e) {
    if (!(e instanceof PatternReferenceError)) throw e;
    const reason = `variable substitution failed: ${e.message}`;
    return { match: () => ({ status: 'error', reason }), test: () => false };
  }
  const root: PatternNode = compileNode(resolved);
  const stateful = needsMatchState(root);
  const plain = compilePlainTest(root);
  return {
    match: (resource) => matchCompiled(root, resource, stateful ? newMatchState() : STATELESS),
    // Pass is exactly "the walk returned no error"; anchors and skips only decide which non-pass.
    test:
      plain ??
      ((resource) =>
        validateElement(resource, root, '/', stateful ? newMatchState(true) : STATELESS_QUIET) === undefined),
  };
}

/** One-shot convenience: compile and match (prefer compilePattern for repeated use). */
export function matchPattern(resource: unknown, pattern: unknown): PatternResult {
  return compilePattern(pattern).match(resource);
}

function matchCompiled(root: PatternNode, resource: unknown, state: MatchState): PatternResult {
  const err = validateElement(resource, root, '/', state);
  if (!err) return { status: 'pass' };
  if (isSkipError(err)) return { status: 'skip', path: err.path, reason: err.message };
  if (err.cls === 'negation') return { status: 'fail', path: err.path, reason: err.message };
  if (keysAreMissing(state) || err.path === '') return { status: 'error', reason: err.message };
  return { status: 'fail', path: err.path, reason: err.message };
}

export { GoFloat64 } from './go-values.js';
export { parseAnchor, type Anchor, type AnchorType } from './anchor.js';
export { getOperatorFromStringPattern, OPERATOR_NAMES, type PatternOperator } from './operator.js';
export {
  compareString,
  convertNumberToString,
  validateFloatPattern,
  validateMapPattern,
  validateNilPattern,
  validateStringPattern,
  validateStringPatterns,
  validateStringWithOperator,
  validateValue,
} from './scalar.js';
export { replaceWildcardsInMapKeys } from './metadata-wildcards.js';
export { hasPatternReferences, PatternReferenceError, resolvePatternReferences } from './references.js';
