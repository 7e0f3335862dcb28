/**
 * CONTRACT (owned by the pattern work; replace the body, keep the signatures):
 * Kyverno's validate.pattern semantics (reference/kyverno.md §2), compiled once.
 */
export type PatternResult =
  | { status: 'pass' }
  /** Mismatch at a path ("/spec/containers/0/image/"). */
  | { status: 'fail'; path: string; reason: string }
  /** A conditional or global anchor did not hold: the rule does not apply. */
  | { status: 'skip'; path: string; reason: string }
  /** Kyverno's "error without a path" case. */
  | { status: 'error'; reason: string };

export interface CompiledPattern {
  match(resource: unknown): PatternResult;
}

export function compilePattern(_pattern: unknown): CompiledPattern {
  throw new Error('not implemented');
}
