/**
 * Selects the restrict rules of loaded policies and prepares them for the per-event path. The policy
 * loader (src/policy) has already compiled everything — match, patterns, templates, conditions, CEL —
 * once; this adds what the runtime needs on top: the behavior set, mode, actions and report metadata.
 */
import type { ActionSpec } from '../../contracts/actions.js';
import type { KernelBlockRule } from '../../contracts/kernel-block.js';
import type { Behavior } from '../../events/types.js';
import type { CompiledPolicy, CompiledRestrict, CompiledRule } from '../api/compiled-policy.js';
import type { FailureAction } from '../../contracts/verdict.js';
import type { PolicySummary } from '../api/runtime.js';
import {
  compileKindNamespaceMatch,
  matchesRule,
  type KindNamespaceMatch,
  type MatchOptions,
  type ResourceCoordinates,
  type ResourceFacts,
} from '../match/index.js';
import type { CompiledRuntimeValidating } from '../api/compiled-validating-policy.js';
import { selectorMatches } from '../match/index.js';
import { pluralOf, resourceRulesMatch } from '../validate/validating-policy.js';
import { patternReadsOnlyEvent, variablesReadOnlyEvent } from './event-only.js';
import { SharedPartsInterner, type SharedParts } from './shared-work.js';

export interface RuntimeRule {
  policy: string;
  /** The policy's kind (CEL exceptions name it). */
  policyKind: string;
  policyNamespace?: string;
  rule: string;
  mode: FailureAction;
  behaviors: ReadonlySet<Behavior>;
  /** match/exclude, preconditions, celPreconditions. */
  compiled: CompiledRule;
  /** The rule's match/exclude (matchesRule, or its kind-and-namespace shortcut when it has that shape). */
  matches: (resource: ResourceFacts, options: MatchOptions) => boolean;
  /** The shortcut alone, when the rule has that shape: it reads only the resource's coordinates. */
  kindNamespaceMatch?: KindNamespaceMatch;
  restrict: CompiledRestrict;
  /** The message as written, shown when a variable in it cannot be resolved for an event. */
  messageText: string;
  /** Actions to run; empty under Audit. */
  actions: ActionSpec[];
  severity?: string;
  category?: string;
  /** Literal `event.file.path` prefixes of the pattern, for the sensor's in-kernel filter. */
  filePathPrefixes: string[] | undefined;
  /** Memo slots of parts written identically in other rules (shared-work.ts). */
  shared: SharedParts;
  /** The static pattern names only `event`/`behavior`: matched against those alone (event-only.ts). */
  patternReadsOnlyEvent: boolean;
  /** Every variable of the conditions is an `event`/`behavior` path: evaluated against those alone. */
  conditionsReadOnlyEvent: boolean;
  /** Likewise for the message template (rendered for each verdict). */
  messageReadsOnlyEvent: boolean;
}

export interface CompiledRuntimePolicies {
  rules: RuntimeRule[];
  summaries: PolicySummary[];
  /** Number of distinct shared parts (size of the per-event memo). */
  sharedParts: number;
  /** Kernel rules of Enforce `block` rules. */
  kernelBlockRules: KernelBlockRule[];
}

export function compileRuntimePolicies(policies: readonly CompiledPolicy[]): CompiledRuntimePolicies {
  const rules: RuntimeRule[] = [];
  const summaries: PolicySummary[] = [];
  const interner = new SharedPartsInterner();
  const kernelBlockRules: KernelBlockRule[] = [];
  for (const policy of policies) {
    const summary: PolicySummary = {
      name: policy.name,
      kind: policy.kind,
      mode: policy.failureAction,
      rules: [],
      source: policy.source,
    };
    if (policy.namespace) summary.namespace = policy.namespace;
    for (const rule of policy.rules) {
      if (!rule.restrict) {
        if (!rule.autogen)
          summary.rules.push({ name: rule.name, type: 'validate', behaviors: [], actions: [] });
        continue;
      }
      const runtimeRule = runtimeRuleOf(policy, rule, rule.restrict, interner);
      rules.push(runtimeRule);
      const plan = rule.restrict.kernelBlock;
      summary.rules.push({
        name: rule.name,
        type: 'restrict',
        behaviors: [...runtimeRule.behaviors],
        actions: rule.restrict.actions.map((a) => Object.keys(a)[0] ?? ''),
        ...(plan && {
          block:
            plan.enforcement === 'kernel'
              ? { enforcement: 'kernel' as const }
              : { enforcement: plan.enforcement, reason: plan.reason },
        }),
      });
      if (plan?.enforcement === 'kernel' && policy.failureAction === 'Enforce')
        kernelBlockRules.push(...plan.rules);
    }
    summaries.push(summary);
  }
  return { rules, summaries, sharedParts: interner.size, kernelBlockRules };
}

function runtimeRuleOf(
  policy: CompiledPolicy,
  rule: CompiledRule,
  restrict: CompiledRestrict,
  interner: SharedPartsInterner,
): RuntimeRule {
  const raw = rule.raw.restrict as { message?: unknown; pattern?: unknown; conditions?: unknown } | undefined;
  const mode = rule.failureAction;
  // A RuntimeValidatingPolicy matches by its matchConstraints, not by a Kyverno match block.
  const kindNamespaceMatch = restrict.validating
    ? validatingKindMatch(restrict.validating)
    : compileKindNamespaceMatch(rule);
  const out: RuntimeRule = {
    policy: policy.name,
    policyKind: policy.kind,
    rule: rule.name,
    mode,
    behaviors: new Set(restrict.behaviors),
    compiled: rule,
    matches: restrict.validating
      ? validatingMatcher(restrict.validating)
      : matcherOf(rule, kindNamespaceMatch),
    restrict,
    messageText: typeof raw?.message === 'string' ? raw.message : `${rule.name}: restricted behavior`,
    actions: mode === 'Enforce' ? restrict.actions : [],
    filePathPrefixes: literalPathPrefixes(raw?.pattern),
    shared: interner.partsOf(rule, restrict),
    patternReadsOnlyEvent: restrict.pattern !== undefined && patternReadsOnlyEvent(raw?.pattern),
    conditionsReadOnlyEvent: restrict.conditions !== undefined && variablesReadOnlyEvent(raw?.conditions),
    messageReadsOnlyEvent: typeof raw?.message === 'string' && variablesReadOnlyEvent(raw.message),
  };
  if (policy.namespace) out.policyNamespace = policy.namespace;
  if (kindNamespaceMatch) out.kindNamespaceMatch = kindNamespaceMatch;
  // Kyverno's policies.kyverno.io/severity and /category annotations carry over to reports.
  const severity = policy.annotations['policies.kyverno.io/severity'];
  const category = policy.annotations['policies.kyverno.io/category'];
  if (severity) out.severity = severity;
  if (category) out.category = category;
  return out;
}

/**
 * matchConstraints over the attributed object. A runtime event is no admission request, so
 * `operations` is not checked; namespaceSelector applies to namespaced objects only, as in
 * ValidatingAdmissionPolicy.
 */
function validatingMatcher(v: CompiledRuntimeValidating): RuntimeRule['matches'] {
  return (f, options) => {
    const plural = pluralOf(f.kind);
    if (!resourceRulesMatch(v.resourceRules, f, plural, undefined)) return false;
    if (resourceRulesMatch(v.excludeResourceRules, f, plural, undefined)) return false;
    try {
      if (v.objectSelector && !selectorMatches(v.objectSelector, f.labels)) return false;
      if (v.namespaceSelector && f.namespace !== '')
        return selectorMatches(v.namespaceSelector, options.namespaceLabels ?? {});
    } catch {
      // A selector that cannot be evaluated selects nothing.
      return false;
    }
    return true;
  };
}

/**
 * matchConstraints that read only the object's group, version and kind (no selectors, no
 * resourceNames) as a KindNamespaceMatch: a pod synthesised from the event is then never built to
 * be matched, as for a restrict rule written with kinds and namespaces.
 */
function validatingKindMatch(v: CompiledRuntimeValidating): KindNamespaceMatch | undefined {
  if (v.objectSelector || v.namespaceSelector) return undefined;
  if ([...v.resourceRules, ...v.excludeResourceRules].some((r) => r.resourceNames.length > 0))
    return undefined;
  const test = (r: ResourceCoordinates): boolean => {
    const f = { group: r.group, version: r.version, kind: r.kind, name: r.name } as ResourceFacts;
    const plural = pluralOf(r.kind);
    return (
      resourceRulesMatch(v.resourceRules, f, plural, undefined) &&
      !resourceRulesMatch(v.excludeResourceRules, f, plural, undefined)
    );
  };
  const pod = test({ group: '', version: 'v1', kind: 'Pod', name: '', namespace: '' });
  return { test, testPod: () => pod };
}

function matcherOf(rule: CompiledRule, shortcut: KindNamespaceMatch | undefined): RuntimeRule['matches'] {
  if (shortcut) return (resource) => shortcut.test(resource);
  return (resource, options) => matchesRule(rule, resource, options);
}

/**
 * Literal prefixes of `event.file.path` in a pattern ("/etc/*" → "/etc/"), or undefined when the
 * rule's paths cannot be narrowed (no path pattern, a negation or comparison, a leading wildcard).
 */
function literalPathPrefixes(pattern: unknown): string[] | undefined {
  const event = (pattern as { event?: { file?: { path?: unknown } } } | undefined)?.event;
  const path = event?.file?.path;
  if (typeof path !== 'string') return undefined;
  const prefixes: string[] = [];
  for (const alternative of path.split('|')) {
    const alt = alternative.trim();
    if (alt.startsWith('!') || /^[<>=]/.test(alt) || alt.includes('{{')) return undefined;
    const cut = alt.search(/[*?]/);
    const prefix = cut < 0 ? alt : alt.slice(0, cut);
    if (!prefix.startsWith('/')) return undefined;
    prefixes.push(prefix);
  }
  return prefixes;
}
