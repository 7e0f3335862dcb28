/**
 * Kyverno validate rules, evaluated per (policy, rule, resource) in Kyverno's order:
 *
 *   match/exclude → context → preconditions (false: skip) → celPreconditions (false: skip)
 *   → deny > pattern/anyPattern > foreach, or validate.cel → pass | fail | error | skip
 *   → `policies.kyverno.io/scored: "false"` turns fail into warn.
 *
 * A rule that does not match (or is excluded) produces no result ("did not apply"). Pure: no I/O;
 * everything the rule may need from outside (values, namespace labels, user info) comes in options.
 */
import type { CompiledPolicy, CompiledRule } from '../api/compiled-policy.js';
import { matchesRule, resourceFacts, type RequestUserInfo, type ResourceFacts } from '../match/index.js';
import { prepareActivation, type CelHost } from '../cel/index.js';
import { evaluateCelPreconditions, validateCel, type CelActivation } from './cel.js';
import { buildBaseContext, loadContextEntries, setDotted, type JsonContext } from './context.js';
import { validateDeny } from './deny.js';
import { validateForeach } from './foreach.js';
import { validateAnyPattern, validatePattern } from './patterns.js';
import { errorMessage, type Outcome, type RuleResult } from './result.js';

export type { RuleResult, RuleStatus } from './result.js';
export { buildBaseContext, parseImage, setDotted } from './context.js';

import type { ParamLookup } from '../api/runtime.js';

export interface EvaluateOptions {
  /** CREATE (default) | UPDATE | DELETE | CONNECT. `request.operation` in variables also sets it. */
  operation?: string;
  namespaceLabels?: Readonly<Record<string, string>>;
  /** Admission requester; undefined = none (match-side user info ignored). */
  userInfo?: RequestUserInfo;
  oldObject?: unknown;
  /** Variables for every rule (values files: globalValues + this resource's values); dotted keys nest. */
  variables?: Record<string, unknown>;
  /** Per-rule variables (values files: policies[].rules[].values), by rule name. */
  ruleVariables?: Record<string, Record<string, unknown>>;
  /** Data for CEL `resource.Get/List` and `image.GetMetadata` (a test's Context file, or a cluster cache). */
  celHost?: CelHost;
  /** The resource's Namespace object (CEL `namespaceObject`); else one is made from namespaceLabels. */
  namespaceObject?: Record<string, unknown>;
  /** Parameter objects for a ValidatingPolicy's paramKind/paramRef (the CLI's resources and policy files). */
  params?: ParamLookup;
}

const SCORED = 'policies.kyverno.io/scored';

/** Names provided by variables: their first path segment (`a.b.c` provides `a`). */
function providedNames(vars: Record<string, unknown> | undefined): Set<string> {
  return new Set(Object.keys(vars ?? {}).map((k) => k.split('.')[0]!));
}

/**
 * Per-resource work shared by every policy and rule that sees the same resource object: its match facts
 * and its converted CEL activation. Keyed by object identity (resources are not mutated during
 * evaluation), so the engine stays pure while a resource is checked against thousands of rules.
 */
const factsCache = new WeakMap<object, ResourceFacts>();
const celCache = new WeakMap<object, Map<string, CelActivation>>();

function factsOf(resource: Record<string, unknown>): ResourceFacts {
  let f = factsCache.get(resource);
  if (!f) {
    f = resourceFacts(resource);
    factsCache.set(resource, f);
  }
  return f;
}

function preparedCelActivation(
  resource: Record<string, unknown>,
  ctx: JsonContext,
  opts: EvaluateOptions,
): CelActivation {
  const request = ctx.request as Record<string, unknown>;
  // oldObject and user info vary per request: only the common case (neither given) is cached.
  if (opts.oldObject !== undefined || opts.userInfo !== undefined || opts.namespaceObject !== undefined)
    return prepareActivation(celActivation(resource, ctx, opts));
  const key = `${String(request.operation)}|${JSON.stringify(opts.namespaceLabels ?? null)}`;
  let byKey = celCache.get(resource);
  if (!byKey) {
    byKey = new Map();
    celCache.set(resource, byKey);
  }
  let act = byKey.get(key);
  if (!act) {
    act = prepareActivation(celActivation(resource, ctx, opts));
    byKey.set(key, act);
  }
  return act;
}

function celActivation(
  resource: Record<string, unknown>,
  ctx: JsonContext,
  opts: EvaluateOptions,
): CelActivation {
  const facts = factsOf(resource);
  const request = ctx.request as Record<string, unknown>;
  return {
    object: resource,
    oldObject: opts.oldObject ?? null,
    request: {
      operation: request.operation,
      namespace: facts.namespace,
      name: facts.name,
      kind: { group: facts.group, version: facts.version, kind: facts.kind },
      userInfo: request.userInfo,
      object: resource,
      oldObject: opts.oldObject ?? null,
    },
    namespaceObject:
      opts.namespaceObject ??
      (facts.namespace
        ? {
            apiVersion: 'v1',
            kind: 'Namespace',
            metadata: { name: facts.namespace, labels: { ...(opts.namespaceLabels ?? {}) } },
          }
        : null),
  };
}

/** Evaluates one matched rule; undefined = no result (a foreach where no element applied). */
export function evaluateRule(
  rule: CompiledRule,
  resource: Record<string, unknown>,
  opts: EvaluateOptions = {},
): Outcome | undefined {
  const v = rule.validate;
  if (!v) return { status: 'error', message: `rule ${rule.name} is not a validate rule` };
  const operation = opts.operation ?? 'CREATE';
  const ruleVars = opts.ruleVariables?.[rule.autogen?.of ?? rule.name] ?? opts.ruleVariables?.[rule.name];
  const ctx = buildBaseContext({
    resource,
    oldObject: opts.oldObject,
    operation,
    userInfo: opts.userInfo,
    variables: opts.variables,
  });
  for (const [k, val] of Object.entries(ruleVars ?? {})) setDotted(ctx, k, val);
  const provided = new Set([...providedNames(opts.variables), ...providedNames(ruleVars)]);
  try {
    loadContextEntries(rule.context, ctx, provided);
  } catch (e) {
    return { status: 'error', message: `failed to load context: ${errorMessage(e)}` };
  }
  if (rule.preconditions) {
    try {
      if (!rule.preconditions.evaluate(ctx).result)
        return { status: 'skip', message: 'preconditions not met' };
    } catch (e) {
      return { status: 'error', message: `failed to evaluate preconditions: ${errorMessage(e)}` };
    }
  }
  if (rule.celPreconditions.length > 0 || v.cel) {
    const act = preparedCelActivation(resource, ctx, opts);
    const celOptions = opts.celHost ? { host: opts.celHost } : undefined;
    const pre = evaluateCelPreconditions(rule.celPreconditions, act, celOptions);
    if (pre) return pre;
    if (v.cel) return validateCel(rule.name, v.cel, act, celOptions);
  }
  if (v.deny) return validateDeny(rule.name, v.deny, ctx, v.message);
  if (v.pattern) return validatePattern(rule.name, v.pattern, resource, ctx, v.message);
  if (v.anyPattern) return validateAnyPattern(rule.name, v.anyPattern, resource, ctx, v.message);
  if (v.foreach) return validateForeach(rule.name, v.foreach, ctx, v.message, provided);
  return {
    status: 'error',
    message: `validate.${v.unsupported ?? 'unknown'} is not supported by kyverno-runtime`,
  };
}

/** Evaluates every validate rule of a policy against a resource. One result per applicable rule. */
export function evaluatePolicy(
  policy: CompiledPolicy,
  resource: Record<string, unknown>,
  opts: EvaluateOptions = {},
): RuleResult[] {
  const facts = factsOf(resource);
  const operation =
    opts.operation ??
    (typeof opts.variables?.['request.operation'] === 'string'
      ? opts.variables['request.operation']
      : 'CREATE');
  const scored = policy.annotations[SCORED] !== 'false';
  const results: RuleResult[] = [];
  for (const rule of policy.rules) {
    const notEvaluated = notEvaluatedReason(rule);
    if (!rule.validate && notEvaluated === undefined) continue;
    const matchOpts = {
      operation,
      ...(opts.namespaceLabels ? { namespaceLabels: opts.namespaceLabels } : {}),
      ...(policy.namespace !== undefined ? { policyNamespace: policy.namespace } : {}),
      ...(opts.userInfo ? { userInfo: opts.userInfo } : {}),
    };
    if (!matchesRule(rule, facts, matchOpts)) continue;
    let outcome: Outcome | undefined;
    try {
      // A rule of a kind we do not evaluate is shown, never silently dropped: a validation we cannot answer
      // is an error; a mutate/generate/verifyImages rule validates nothing and is skipped.
      outcome =
        notEvaluated !== undefined
          ? { status: rule.validate ? 'error' : 'skip', message: notEvaluated }
          : evaluateRule(rule, resource, { ...opts, operation });
      if (!outcome) continue;
    } catch (e) {
      // Engine pieces throw typed errors for variable/JMESPath/CEL failures: Kyverno reports those as error.
      outcome = { status: 'error', message: errorMessage(e) };
    }
    const status = outcome.status === 'fail' && !scored ? 'warn' : outcome.status;
    results.push({
      policy: policy.name,
      ...(policy.namespace !== undefined ? { policyNamespace: policy.namespace } : {}),
      rule: rule.name,
      ...(rule.autogen ? { autogenOf: rule.autogen.of } : {}),
      status,
      message: outcome.message,
      failureAction: rule.failureAction,
      scored,
      ...(policy.annotations['policies.kyverno.io/severity']
        ? { severity: policy.annotations['policies.kyverno.io/severity'] }
        : {}),
      ...(policy.annotations['policies.kyverno.io/category']
        ? { category: policy.annotations['policies.kyverno.io/category'] }
        : {}),
    });
  }
  return results;
}

/** Why kyverno-runtime does not evaluate this rule (validate.podSecurity/manifests, mutate, generate, verifyImages), or undefined. */
export function notEvaluatedReason(rule: CompiledRule): string | undefined {
  if (rule.validate?.unsupported)
    return `validate.${rule.validate.unsupported} is not evaluated by kyverno-runtime`;
  if (rule.otherType !== undefined) return `${rule.otherType} rules are not evaluated by kyverno-runtime`;
  return undefined;
}
