/**
 * CONTRACT (owned by the policy work; replace the bodies, keep the signatures):
 * loading policy YAML (files, directories, strings) into validated, compiled policies.
 */

/** A policy problem with its place in the source: "policies/x.yaml:12:5: unknown field ...". */
export interface PolicyError {
  file: string;
  line: number;
  col: number;
  message: string;
  /** metadata.name when it could be read. */
  policy?: string;
}

/** A validated policy document, compiled (wildcards, patterns, JMESPath, CEL parsed once). */
export interface CompiledPolicy {
  apiVersion: string;
  kind: 'ClusterRuntimePolicy' | 'RuntimePolicy' | 'ClusterPolicy' | 'Policy';
  name: string;
  namespace?: string;
  /** The document as written (after defaults), for display and reports. */
  document: Record<string, unknown>;
  source: { file: string; line: number };
}

export interface LoadResult {
  policies: CompiledPolicy[];
  errors: PolicyError[];
}

/** Loads every YAML document under the given files/directories. A bad document never stops the others. */
export function loadPolicies(_paths: string[]): Promise<LoadResult> {
  throw new Error('not implemented');
}

/** Same as loadPolicies for in-memory text (the cluster side feeds CRD objects through this). */
export function loadPolicyText(_text: string, _file: string): LoadResult {
  throw new Error('not implemented');
}
