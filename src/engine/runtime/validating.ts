/**
 * The CEL part of a RuntimeValidatingPolicy rule, once matchConstraints matched: params are resolved,
 * then per parameter object the matchConditions (all true, or the policy does not apply), then every
 * validation (false = violation; true = allowed, as in ValidatingPolicy). A non-boolean result or a
 * failing call throws, which the engine records as a rule error.
 */
import type { CompiledRuntimeValidating, ParamSpec } from '../api/compiled-validating-policy.js';
import type { KubeObject, ParamLookup } from '../api/runtime.js';
import { CelEvaluationError, extendActivation, prepareActivation } from '../cel/index.js';
import { selectorMatches } from '../match/index.js';
import { capRendered, MAX_MESSAGE_LENGTH } from '../variables/index.js';

export interface ValidatingViolation {
  message: string;
  annotations?: Record<string, string>;
}

/** Most auditAnnotations kept on one verdict; the rest are dropped (policies rarely set more than a few). */
export const MAX_AUDIT_ANNOTATIONS = 20;

const NO_PARAMS: readonly unknown[] = [null];

/**
 * The parameter objects of a rule for an object in `namespace`: paramRef.namespace, else the
 * namespaced policy's own namespace, else the object's (as ValidatingAdmissionPolicy does).
 */
export function resolveParams(
  spec: ParamSpec,
  lookup: ParamLookup | undefined,
  policyNamespace: string | undefined,
  namespace: string | undefined,
): readonly KubeObject[] {
  const ns = spec.namespace ?? policyNamespace ?? namespace;
  const found =
    lookup?.find({
      apiVersion: spec.apiVersion,
      kind: spec.kind,
      ...(ns !== undefined && ns !== '' ? { namespace: ns } : {}),
      ...(spec.name !== undefined ? { name: spec.name } : {}),
    }) ?? [];
  const selector = spec.selector;
  if (!selector) return found;
  return found.filter((o) => {
    try {
      return selectorMatches(selector, o.metadata?.labels ?? {});
    } catch {
      return false;
    }
  });
}

/**
 * Evaluates the rule on one event; `activation` holds the JSON bindings (event, object,
 * namespaceObject, request, behavior). Returns the violation, or undefined when allowed or not
 * applicable.
 */
export function evaluateValidating(
  v: CompiledRuntimeValidating,
  activation: Record<string, unknown>,
  params: readonly unknown[] | undefined,
  policy: string,
): ValidatingViolation | undefined {
  let list = NO_PARAMS;
  if (v.params) {
    if (params === undefined || params.length === 0) {
      if (v.params.notFound === 'Allow') return undefined;
      return { message: `no params found for policy ${policy}` };
    }
    list = params;
  }
  for (const param of list) {
    // Without params the per-event activation is shared by every rule (converted once per event).
    const base = v.params ? extendActivation(activation, { params: param }) : prepareActivation(activation);
    const act = v.variables ? v.variables.bind(base) : base;
    let applies = true;
    for (const c of v.matchConditions) {
      const r = c.program.evaluateRaw(act);
      if (typeof r !== 'boolean')
        throw new CelEvaluationError(c.program.expression, `match condition ${c.name} must evaluate to bool`);
      if (!r) {
        applies = false;
        break;
      }
    }
    if (!applies) continue;
    let failures: string[] | undefined;
    for (const val of v.validations) {
      const r = val.program.evaluateRaw(act);
      if (typeof r !== 'boolean')
        throw new CelEvaluationError(val.expression, 'validation expression must evaluate to bool');
      if (r) continue;
      let text = val.message ?? `failed expression: ${val.expression}`;
      if (val.messageExpression) {
        try {
          const m = val.messageExpression.evaluateRaw(act);
          if (typeof m === 'string' && m.trim() !== '') text = m;
        } catch {
          // Kubernetes keeps the static message when messageExpression fails.
        }
      }
      (failures ??= []).push(text);
    }
    if (failures === undefined) continue;
    // The message carries event data: bounded (and the cut counted) before reports, logs, actions.
    const out: ValidatingViolation = {
      message: capRendered(failures.join('; '), MAX_MESSAGE_LENGTH, 'message'),
    };
    const annotations = auditAnnotations(v, act);
    if (annotations) out.annotations = annotations;
    return out;
  }
  return undefined;
}

/** auditAnnotations whose value is a non-empty string; a failing or null expression adds none. */
function auditAnnotations(
  v: CompiledRuntimeValidating,
  act: Record<string, unknown>,
): Record<string, string> | undefined {
  if (v.auditAnnotations.length === 0) return undefined;
  let out: Record<string, string> | undefined;
  for (const a of v.auditAnnotations.slice(0, MAX_AUDIT_ANNOTATIONS)) {
    let value: unknown;
    try {
      value = a.program.evaluateRaw(act);
    } catch {
      continue;
    }
    if (typeof value !== 'string' || value === '') continue;
    (out ??= {})[a.key] = capRendered(value, MAX_MESSAGE_LENGTH, 'message');
  }
  return out;
}
