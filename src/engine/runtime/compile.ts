/**
 * Turns loaded policies into restrict rules ready for the per-event path. Policies of Kyverno's own
 * kinds (validate rules) are not runtime rules and are skipped here.
 */
import type { CompiledPolicy } from '../../policy/index.js';
import type { FailureAction } from '../verdict.js';
import type { PolicySummary } from './index.js';
import { compileRuleMatcher, type RuleMatcher } from './match-adapter.js';
import { compileRestrictRule, type CompiledRestrictRule, type RestrictSpec } from './restrict-rule.js';

export interface RuntimeRule extends CompiledRestrictRule {
  matches: RuleMatcher;
}

export interface CompiledRuntimePolicies {
  rules: RuntimeRule[];
  summaries: PolicySummary[];
}

interface RuleDocument {
  name: string;
  match?: unknown;
  exclude?: unknown;
  preconditions?: unknown;
  celPreconditions?: unknown;
  restrict?: RestrictSpec;
  validate?: unknown;
}

interface PolicySpecDocument {
  failureAction?: string;
  validationFailureAction?: string;
  rules?: RuleDocument[];
}

export function compileRuntimePolicies(policies: readonly CompiledPolicy[]): CompiledRuntimePolicies {
  const rules: RuntimeRule[] = [];
  const summaries: PolicySummary[] = [];
  for (const policy of policies) {
    const spec = (policy.document.spec ?? {}) as PolicySpecDocument;
    const mode = failureActionOf(spec);
    const annotations = (policy.document.metadata as { annotations?: Record<string, string> } | undefined)
      ?.annotations;
    const summary: PolicySummary = {
      name: policy.name,
      kind: policy.kind,
      mode,
      rules: [],
      source: policy.source,
    };
    if (policy.namespace) summary.namespace = policy.namespace;
    for (const rule of spec.rules ?? []) {
      if (!rule.restrict) {
        summary.rules.push({ name: rule.name, type: 'validate', behaviors: [], actions: [] });
        continue;
      }
      const owner = {
        policy: policy.name,
        mode,
        ...(policy.namespace ? { policyNamespace: policy.namespace } : {}),
        ...severityAndCategory(annotations),
      };
      const compiled = compileRestrictRule(owner, { ...rule, restrict: rule.restrict });
      const matcher = compileRuleMatcher(policy, rule);
      rules.push({ ...compiled, matches: matcher });
      summary.rules.push({
        name: rule.name,
        type: 'restrict',
        behaviors: [...compiled.behaviors],
        actions: (rule.restrict.actions ?? []).map((a) => Object.keys(a)[0] ?? ''),
      });
    }
    summaries.push(summary);
  }
  return { rules, summaries };
}

function failureActionOf(spec: PolicySpecDocument): FailureAction {
  const value = spec.failureAction ?? spec.validationFailureAction ?? 'Audit';
  return value.toLowerCase() === 'enforce' ? 'Enforce' : 'Audit';
}

/** Kyverno's policies.kyverno.io/severity and /category annotations carry over to reports. */
function severityAndCategory(annotations: Record<string, string> | undefined): {
  severity?: string;
  category?: string;
} {
  const out: { severity?: string; category?: string } = {};
  const severity = annotations?.['policies.kyverno.io/severity'];
  const category = annotations?.['policies.kyverno.io/category'];
  if (severity) out.severity = severity;
  if (category) out.category = category;
  return out;
}
