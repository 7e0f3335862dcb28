/**
 * validate.cel and celPreconditions (Kyverno's VAP-style handler): expressions over `object`,
 * `oldObject`, `request`, `namespaceObject` and `variables`. A false expression fails the rule with its
 * message (or messageExpression, or "failed expression: …"); any evaluation error makes it `error`.
 */
import { prepareActivation, type CelEvaluateOptions, type CelProgram } from '../cel/index.js';
import type { CompiledCel } from '../api/compiled-policy.js';
import { errorMessage, type Outcome } from './result.js';

export type CelActivation = Record<string, unknown>;

/** Binds `variables.<name>` lazily (each evaluated at most once, on first use). */
export function withVariables(
  cel: CompiledCel,
  activation: CelActivation,
  options?: CelEvaluateOptions,
): CelActivation {
  return cel.variables ? cel.variables.bind(activation, options) : prepareActivation(activation);
}

export function evaluateCelPreconditions(
  pre: readonly { name: string; program: CelProgram }[],
  act: CelActivation,
  options?: CelEvaluateOptions,
): Outcome | undefined {
  for (const p of pre) {
    let r: unknown;
    try {
      r = p.program.evaluate(act, options);
    } catch (e) {
      return {
        status: 'error',
        message: `failed to evaluate cel precondition ${p.name}: ${errorMessage(e)}`,
      };
    }
    if (r !== true) return { status: 'skip', message: 'cel preconditions not met' };
  }
  return undefined;
}

export function validateCel(
  rule: string,
  cel: CompiledCel,
  activation: CelActivation,
  options?: CelEvaluateOptions,
): Outcome {
  const act = withVariables(cel, activation, options);
  const failures: string[] = [];
  for (const e of cel.expressions) {
    let r: unknown;
    try {
      r = e.program.evaluate(act, options);
    } catch (err) {
      return {
        status: 'error',
        message: `expression '${e.expression}' resulted in error: ${errorMessage(err)}`,
      };
    }
    if (typeof r !== 'boolean') {
      return {
        status: 'error',
        message: `expression '${e.expression}' must evaluate to bool, got ${typeof r}`,
      };
    }
    if (r) continue;
    let msg = e.message ?? `failed expression: ${e.expression}`;
    if (e.messageExpression) {
      try {
        const m = e.messageExpression.evaluate(act, options);
        if (typeof m === 'string' && m.trim() !== '') msg = m;
      } catch {
        // Kubernetes falls back to the static message when messageExpression fails.
      }
    }
    failures.push(msg);
  }
  if (failures.length > 0) return { status: 'fail', message: failures.join('; ') };
  return { status: 'pass', message: `validation rule '${rule}' passed.` };
}
