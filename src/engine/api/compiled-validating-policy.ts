/**
 * A Kyverno ValidatingPolicy (`policies.kyverno.io`) as the engine evaluates it: CEL programs compiled once,
 * selected by VAP-style resource rules and selectors. Kept apart from CompiledPolicy (different shape: no rules).
 */
import type { CelProgram, CelVariables } from '../cel/index.js';
import type { LabelSelector } from '../match/index.js';

export interface ResourceRule {
  apiGroups: string[];
  apiVersions: string[];
  operations: string[];
  resources: string[];
  /** Empty: any name. */
  resourceNames: string[];
}

export interface CompiledValidation {
  expression: string;
  program: CelProgram;
  message?: string;
  messageExpression?: CelProgram;
}

/** The CEL parts of a policy, for the resource itself or rewritten for a pod controller (autogen). */
export interface ValidatingProgramSet {
  matchConditions: { name: string; program: CelProgram }[];
  variables?: CelVariables;
  validations: CompiledValidation[];
}

export interface CompiledValidatingPolicy {
  apiVersion: string;
  kind: 'ValidatingPolicy';
  name: string;
  source: { file: string; line: number };
  resourceRules: ResourceRule[];
  excludeResourceRules: ResourceRule[];
  namespaceSelector?: LabelSelector;
  objectSelector?: LabelSelector;
  programs: ValidatingProgramSet;
  /** Pod-controller kinds → programs rewritten for them (empty when autogen is off). */
  autogen: Map<string, ValidatingProgramSet>;
}
