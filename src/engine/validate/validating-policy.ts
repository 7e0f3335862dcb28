/**
 * Evaluates a Kyverno ValidatingPolicy against a resource: matchConstraints (VAP resource rules, exclude
 * rules, namespace/object selectors), then matchConditions (false → skip), then every validation (false →
 * fail with its message, runtime error → error). Pod controllers use the autogen programs. One result per
 * (policy, resource), with an empty rule name, as Kyverno reports CEL policy kinds.
 */
import type { CompiledValidatingPolicy, ResourceRule } from '../api/compiled-validating-policy.js';
import { extendActivation, prepareActivation } from '../cel/index.js';
import { resolveParams } from '../runtime/validating.js';
import { resourceFacts, selectorMatches, type ResourceFacts } from '../match/index.js';
import type { EvaluateOptions } from './index.js';
import { errorMessage, type Outcome, type RuleResult } from './result.js';

/** Lower-case plural resource name of a kind (the usual Kubernetes rule; irregular kinds listed). */
export function pluralOf(kind: string): string {
  const lower = kind.toLowerCase();
  if (lower === 'endpoints') return lower;
  if (/(s|x|z|ch|sh)$/.test(lower)) return `${lower}es`;
  if (/[^aeiou]y$/.test(lower)) return `${lower.slice(0, -1)}ies`;
  return `${lower}s`;
}

const has = (list: readonly string[], value: string): boolean => list.includes('*') || list.includes(value);

/** VAP resource rules against a resource; `operation` undefined (runtime events) skips `operations`. */
export function resourceRulesMatch(
  rules: readonly ResourceRule[],
  f: ResourceFacts,
  plural: string,
  operation: string | undefined,
): boolean {
  return rules.some(
    (r) =>
      has(r.apiGroups, f.group) &&
      has(r.apiVersions, f.version) &&
      has(r.resources, plural) &&
      (operation === undefined || r.operations.length === 0 || has(r.operations, operation)) &&
      (r.resourceNames.length === 0 || r.resourceNames.includes(f.name)),
  );
}

function evaluate(
  policy: CompiledValidatingPolicy,
  resource: Record<string, unknown>,
  f: ResourceFacts,
  opts: EvaluateOptions,
  operation: string,
): Outcome | undefined {
  const autogen = policy.autogen.get(f.kind);
  let set = policy.programs;
  // JSON mode: the payload is not a Kubernetes object; matchConstraints do not apply.
  if (policy.mode === 'JSON') {
    // nothing to match
  } else if (
    autogen &&
    resourceRulesMatch(policy.resourceRules, { ...f, group: '', version: 'v1' }, 'pods', operation)
  ) {
    set = autogen;
  } else if (!resourceRulesMatch(policy.resourceRules, f, pluralOf(f.kind), operation)) {
    return undefined;
  }
  if (
    policy.mode !== 'JSON' &&
    resourceRulesMatch(policy.excludeResourceRules, f, pluralOf(f.kind), operation)
  )
    return undefined;
  try {
    if (policy.objectSelector && !selectorMatches(policy.objectSelector, f.labels)) return undefined;
    if (
      policy.namespaceSelector &&
      f.namespace &&
      !selectorMatches(policy.namespaceSelector, opts.namespaceLabels ?? {})
    )
      return undefined;
  } catch {
    return undefined;
  }
  const base = prepareActivation({
    object: resource,
    oldObject: opts.oldObject ?? null,
    request: {
      operation,
      namespace: f.namespace,
      name: f.name,
      kind: { group: f.group, version: f.version, kind: f.kind },
    },
    namespaceObject:
      opts.namespaceObject ??
      (f.namespace
        ? {
            apiVersion: 'v1',
            kind: 'Namespace',
            metadata: { name: f.namespace, labels: { ...(opts.namespaceLabels ?? {}) } },
          }
        : null),
  });
  const host = opts.celHost ? { host: opts.celHost } : undefined;
  // paramKind: one evaluation per parameter object (as admission does per binding's params).
  let params: readonly unknown[] = [null];
  if (policy.params) {
    const found = resolveParams(policy.params, opts.params, undefined, f.namespace || undefined);
    if (found.length === 0)
      return policy.params.notFound === 'Allow'
        ? { status: 'skip', message: `no params found for policy ${policy.name}` }
        : { status: 'fail', message: `no params found for policy ${policy.name}` };
    params = found;
  }
  const failures: string[] = [];
  const annotations: Record<string, string> = {};
  let matched = false;
  let unmet = '';
  for (const param of params) {
    const withParams = policy.params ? extendActivation(base, { params: param }) : base;
    const act = set.variables ? set.variables.bind(withParams, host) : withParams;
    let applies = true;
    for (const c of set.matchConditions) {
      try {
        if (c.program.evaluate(act, host) !== true) {
          applies = false;
          unmet = c.name;
          break;
        }
      } catch (e) {
        return { status: 'error', message: `match condition ${c.name}: ${errorMessage(e)}` };
      }
    }
    if (!applies) continue;
    matched = true;
    for (const v of set.validations) {
      let r: unknown;
      try {
        r = v.program.evaluate(act, host);
      } catch (e) {
        return { status: 'error', message: errorMessage(e) };
      }
      if (r === true) continue;
      if (r !== false)
        return { status: 'error', message: `validation expression must evaluate to bool: ${v.expression}` };
      let msg = v.message ?? `failed expression: ${v.expression}`;
      if (v.messageExpression) {
        try {
          const m = v.messageExpression.evaluate(act, host);
          if (typeof m === 'string' && m.trim() !== '') msg = m;
        } catch {
          // Kubernetes keeps the static message when messageExpression fails.
        }
      }
      failures.push(msg);
    }
    // auditAnnotations: a string value is recorded, null omits the key, anything else is an error.
    for (const a of policy.auditAnnotations) {
      let value: unknown;
      try {
        value = a.program.evaluate(act, host);
      } catch (e) {
        return { status: 'error', message: `auditAnnotations ${a.key}: ${errorMessage(e)}` };
      }
      if (value === null) continue;
      if (typeof value !== 'string')
        return {
          status: 'error',
          message: `auditAnnotations ${a.key}: valueExpression must evaluate to string`,
        };
      const key = `${policy.name}/${a.key}`;
      // Several parameter objects: values joined with ", " as the API server does for one key.
      annotations[key] = annotations[key] !== undefined ? `${annotations[key]}, ${value}` : value;
    }
  }
  if (!matched) return { status: 'skip', message: `match condition ${unmet} not met` };
  const extra = Object.keys(annotations).length > 0 ? { auditAnnotations: annotations } : {};
  return failures.length > 0
    ? { status: 'fail', message: failures.join('; '), ...extra }
    : { status: 'pass', message: `policy ${policy.name} passed`, ...extra };
}

export function evaluateValidatingPolicy(
  policy: CompiledValidatingPolicy,
  resource: Record<string, unknown>,
  opts: EvaluateOptions = {},
): RuleResult[] {
  const operation =
    opts.operation ??
    (typeof opts.variables?.['request.operation'] === 'string'
      ? opts.variables['request.operation']
      : 'CREATE');
  const outcome = evaluate(policy, resource, resourceFacts(resource), opts, operation);
  if (!outcome) return [];
  return [
    {
      policy: policy.name,
      rule: '',
      status: outcome.status,
      message: outcome.message,
      // Deny blocks admission (Kyverno's CLI reports it as Enforce); Audit and Warn only report.
      failureAction: policy.validationActions.includes('Deny') ? 'Enforce' : 'Audit',
      scored: true,
      ...(outcome.auditAnnotations ? { auditAnnotations: outcome.auditAnnotations } : {}),
    },
  ];
}
