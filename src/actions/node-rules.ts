/**
 * Which rules explicitly target Node processes: a `match` filter (any/all/legacy) whose `kinds` name
 * `Node` (`Node`, `v1/Node`; a subresource such as `Node/status` is not the node, and a wildcard kind
 * is not explicit). Only those rules may `kill` a host process; a rule written for pods never does,
 * whatever the event claims about its pod.
 */
import { ruleKey } from '../contracts/keys.js';
import type { Verdict } from '../contracts/verdict.js';
import { parseKindSelector } from '../engine/match/kind.js';
import type { CompiledPolicy } from '../engine/api/compiled-policy.js';

export type RuleTargetsNode = (verdict: Pick<Verdict, 'policy' | 'policyNamespace' | 'rule'>) => boolean;

export function nodeTargetingRules(policies: readonly CompiledPolicy[]): RuleTargetsNode {
  const rules = new Set<string>();
  for (const p of policies) {
    for (const r of p.rules) {
      const kinds = r.match.filters.flatMap((f) => f.resources.kinds ?? []);
      const node = kinds.some((k) => {
        const sel = parseKindSelector(k.source);
        return sel.kind === 'Node' && sel.subresource === '';
      });
      if (node) rules.add(ruleKey({ policy: p.name, policyNamespace: p.namespace, rule: r.name }));
    }
  }
  return (v) => rules.has(ruleKey(v));
}
