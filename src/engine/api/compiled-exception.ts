/**
 * A PolicyException compiled once at load time: Kyverno's `kyverno.io/v2` kind (policy name + rule
 * names, `match`, `conditions`) or its CEL kind (`policies.kyverno.io`: `policyRefs`, `matchConditions`).
 * Types only.
 */
import type { CelProgram } from '../cel/index.js';
import type { CompiledConditions } from '../conditions/index.js';
import type { CompiledMatch } from '../match/index.js';
import type { WildcardMatcher } from '../wildcard.js';

/** One policy (and some or all of its rules) an exception names. */
export interface ExceptionRef {
  /** The policy's name; `namespace/name` for a namespaced policy (as Kyverno's `policyName`). */
  policy: string;
  /** CEL exceptions name the policy's kind too. */
  kind?: string;
  /** Rule names (wildcards allowed); undefined: every rule of the policy (CEL exceptions). */
  rules?: WildcardMatcher[];
}

export interface CompiledException {
  apiVersion: string;
  /** `kyverno.io` (v2) or `policies.kyverno.io` (CEL). */
  flavour: 'kyverno' | 'cel';
  name: string;
  /** Unset only for an exception file without a namespace (local mode): it applies anywhere. */
  namespace?: string;
  source: { file: string; line: number };
  refs: ExceptionRef[];
  /** v2 `match`: the resource (the attributed Pod or Node) must be selected. */
  match?: CompiledMatch;
  /** v2 `conditions` ({any, all}) over the rule's variable context. */
  conditions?: CompiledConditions;
  /** CEL `matchConditions`: every one must be true (bindings `object`, `event`, `namespaceObject`). */
  matchConditions: { name: string; program: CelProgram }[];
}
