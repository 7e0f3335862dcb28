/**
 * validate.cel and celPreconditions (Kyverno's VAP-style handler): expressions over `object`,
 * `oldObject`, `request`, `namespaceObject` and `variables`. A false expression fails the rule with its
 * message (or messageExpression, or "failed expression: …").
 *
 * Errors fail the rule too: Kyverno runs these through the Kubernetes validator with no failure policy, which
 * means `Fail`, so an evaluation error (a missing key, a non-bool result) is a deny and Kyverno reports `fail`
 * with the error as the message. The same holds for a celPrecondition that errs while none is false.
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
  // Kubernetes' matcher: any false condition skips, even when another one failed to evaluate.
  let failed: Outcome | undefined;
  for (const p of pre) {
    let r: unknown;
    try {
      r = p.program.evaluate(act, options);
    } catch (e) {
      failed ??= {
        status: 'fail',
        message: `failed to evaluate cel precondition ${p.name}: ${errorMessage(e)}`,
      };
      continue;
    }
    if (r === false) return { status: 'skip', message: 'cel preconditions not met' };
    if (r !== true)
      failed ??= {
        status: 'fail',
        message: `cel precondition ${p.name} must evaluate to bool, got ${typeof r}`,
      };
  }
  return failed;
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
      failures.push(`expression '${e.expression}' resulted in error: ${errorMessage(err)}`);
      continue;
    }
    // A result that is not `true` denies (Kubernetes compares with celtypes.True), whatever its type.
    if (r === true) continue;
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
