/**
 * Rule errors: a rule that cannot be evaluated on an event is Kyverno's `error` result, neither a
 * pass nor a violation. The engine keeps them for the pipeline to drain (RuntimeEngine.takeRuleErrors)
 * and classifies each one here, where the error object (and its class) is still at hand, into a small
 * stable `reason` token that metrics and logs can use as a label.
 */
import { CelEvaluationError } from '../cel/errors.js';
import { JmesPathError, JmesPathNotFoundError } from '../jmespath/errors.js';
import { VariableSubstitutionError } from '../variables/errors.js';
import { ContextLoadError } from '../validate/context.js';

/** The reason tokens (docs/metrics.md "Rule errors"). */
export const RULE_ERROR_REASON = {
  /** A `{{ }}` variable names a key the event or resource does not have (Kyverno: "Unknown key"). */
  missingKey: 'missing-key',
  /** Any other `{{ }}` variable substitution failure (a JMESPath function failing inside `{{ }}`…). */
  variable: 'variable',
  /** A JMESPath expression or function failed outside variable substitution. */
  jmespath: 'jmespath',
  /** A CEL expression (precondition, restrict.cel, variable) failed at evaluation time. */
  cel: 'cel',
  /** A `context` entry could not be loaded (ConfigMap not found, no answer for an apiCall…). */
  context: 'context',
  /** A PolicyException's conditions or CEL matchConditions failed: the exception did not apply. */
  exception: 'exception',
  /** Anything else caught while evaluating the rule. */
  other: 'other',
} as const;
export type EngineRuleErrorReason = (typeof RULE_ERROR_REASON)[keyof typeof RULE_ERROR_REASON];

/** Why a rule that could fire produced no verdict because of an error (not a non-match). */
export interface RuleError {
  policy: string;
  /** Set for a namespaced RuntimePolicy: two namespaces may hold policies of the same name. */
  policyNamespace?: string;
  rule: string;
  eventId: string;
  reason: EngineRuleErrorReason;
  message: string;
}

/** Classifies a caught error by its class (never by its message text). */
export function ruleErrorReasonOf(error: unknown): EngineRuleErrorReason {
  if (error instanceof VariableSubstitutionError)
    return error.cause instanceof JmesPathNotFoundError
      ? RULE_ERROR_REASON.missingKey
      : RULE_ERROR_REASON.variable;
  if (error instanceof CelEvaluationError) return RULE_ERROR_REASON.cel;
  if (error instanceof ContextLoadError) return RULE_ERROR_REASON.context;
  if (error instanceof JmesPathError) return RULE_ERROR_REASON.jmespath;
  return RULE_ERROR_REASON.other;
}
