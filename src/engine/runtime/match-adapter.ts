/**
 * What matching reads of a resource, computed once per event and shared by every rule that can fire.
 * A runtime event is not an admission request: `operations` is not checked and match-side user info
 * is ignored, as in Kyverno's background scans.
 */
import { matchesRule, resourceFacts, type ResourceFacts } from '../match/index.js';
import type { RuntimeRule } from './compile.js';
import type { KubeObject } from './index.js';

export function factsOf(resource: KubeObject): ResourceFacts {
  return resourceFacts(resource);
}

export function ruleMatches(
  rule: RuntimeRule,
  facts: ResourceFacts,
  namespaceLabels: Readonly<Record<string, string>> | undefined,
): boolean {
  return matchesRule(rule.compiled, facts, namespaceLabels ? { namespaceLabels } : {});
}
