/**
 * A Kyverno ValidatingPolicy (`policies.kyverno.io`) as the engine evaluates it: CEL programs compiled once,
 * selected by VAP-style resource rules and selectors. Kept apart from CompiledPolicy (different shape: no rules).
 */
import type { CelProgram, CelVariables, FieldTree } from '../cel/index.js';
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
  reason?: string;
}

/** `auditAnnotations[]`: a key and the CEL expression giving its value (null/empty: no annotation). */
export interface CompiledAuditAnnotation {
  key: string;
  program: CelProgram;
}

/**
 * paramKind + paramRef: which objects `params` is bound to. `name` picks one object, `selector` every
 * object whose labels match; `namespace` unset means the namespace of the object under evaluation.
 */
export interface ParamSpec {
  apiVersion: string;
  kind: string;
  name?: string;
  namespace?: string;
  selector?: LabelSelector;
  /** What to do when no parameter object is found: Allow skips the policy, Deny fails it. */
  notFound: 'Allow' | 'Deny';
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
  /** spec.validationActions (Deny, Audit, Warn); Kyverno's default is Deny. */
  validationActions: ('Deny' | 'Audit' | 'Warn')[];
  auditAnnotations: CompiledAuditAnnotation[];
  params?: ParamSpec;
  /** evaluation.mode: JSON validates any JSON document (`object`), with no Kubernetes matching. */
  mode: 'Kubernetes' | 'JSON';
}

/**
 * The CEL-native runtime kinds (RuntimeValidatingPolicy, NamespacedRuntimeValidatingPolicy), lowered
 * into one restrict rule: matchConstraints decide which attributed objects the rule applies to, then
 * matchConditions, variables and validations run over `event`, `object`, `namespaceObject`, `params`.
 * A validation that evaluates to false is a violation (true = allowed, as in ValidatingPolicy).
 */
export interface CompiledRuntimeValidating {
  /** The matchConstraints as written (JSON): rules written alike share one match outcome per event. */
  matchKey: string;
  resourceRules: ResourceRule[];
  excludeResourceRules: ResourceRule[];
  namespaceSelector?: LabelSelector;
  objectSelector?: LabelSelector;
  matchConditions: { name: string; program: CelProgram }[];
  variables?: CelVariables;
  validations: CompiledValidation[];
  auditAnnotations: CompiledAuditAnnotation[];
  params?: ParamSpec;
  /** The paths of `event` the expressions read: the engine converts only these parts for CEL. */
  eventFields: FieldTree;
}
