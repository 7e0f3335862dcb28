/**
 * The engine's input: policies compiled once at load time (wildcards, patterns, JMESPath, CEL parsed), with
 * everything the evaluators need. policy/ builds them from YAML; the engine only reads them. Types only.
 */
import type { ActionSpec } from '../../contracts/actions.js';
import type { KernelBlockPlan } from '../../contracts/kernel-block.js';
import type { CelProgram, CelVariables } from '../cel/index.js';
import type { CompiledConditions } from '../conditions/index.js';
import type { CompiledMatch } from '../match/index.js';
import type { CompiledPattern } from '../pattern/index.js';
import type { QueryTemplate, Template } from '../variables/index.js';
import type { FailureAction } from '../../contracts/verdict.js';
import type { Behavior } from '../../events/types.js';
import type { CompiledRuntimeValidating } from './compiled-validating-policy.js';

/** A pattern compiled once, or (when it holds `{{ }}` variables) a template rendered then compiled per use. */
export type PatternSlot =
  { kind: 'static'; pattern: CompiledPattern } | { kind: 'template'; template: Template };

export interface CompiledContextEntry {
  name: string;
  type: 'variable' | 'configMap' | 'apiCall' | 'imageRegistry' | 'globalReference' | 'unknown';
  /** variable.value (may hold variables). */
  value?: Template;
  /** variable.jmesPath: an expression whose `{{ }}` values are data (never parsed). */
  jmesPath?: QueryTemplate;
  /** variable.default. */
  default?: Template;
  /** configMap: name and namespace (may hold variables). */
  configMap?: { name: Template; namespace: Template };
  /** apiCall: a GET on the API server; values substituted into the path are URL-encoded, once. */
  apiCall?: { urlPath: UrlTemplate; jmesPath?: QueryTemplate };
  /** globalReference: a GlobalContextEntry's data. */
  globalReference?: { name: string; jmesPath?: QueryTemplate };
}

/** A URL path whose `{{ }}` values are URL-encoded when substituted (never re-read as path syntax). */
export interface UrlTemplate {
  readonly text: string;
  render(context: Record<string, unknown>): string;
}

export interface CompiledForeach {
  /** JMESPath expression; `{{ }}` values in it are data (never parsed). */
  list: QueryTemplate;
  elementScope?: boolean;
  context: CompiledContextEntry[];
  preconditions?: CompiledConditions;
  pattern?: PatternSlot;
  anyPattern?: PatternSlot[];
  deny?: CompiledConditions;
  foreach?: CompiledForeach[];
}

export interface CompiledCelExpression {
  expression: string;
  program: CelProgram;
  message?: string;
  messageExpression?: CelProgram;
}

export interface CompiledCel {
  expressions: CompiledCelExpression[];
  /** Lazily bound `variables.<name>` (each evaluated at most once per activation). */
  variables?: CelVariables;
}

export interface CompiledValidation {
  message?: Template;
  pattern?: PatternSlot;
  anyPattern?: PatternSlot[];
  deny?: CompiledConditions;
  foreach?: CompiledForeach[];
  cel?: CompiledCel;
  /** Set for sub-types we load but do not evaluate (podSecurity, manifests, assert). */
  unsupported?: string;
}

export interface CompiledRestrict {
  /** Behaviors the rule restricts: restrict.behaviors ∪ the pattern's `behavior` list. */
  behaviors: Behavior[];
  message?: Template;
  pattern?: CompiledPattern;
  /** Pattern with `{{ }}` variables, rendered per event. */
  patternTemplate?: Template;
  conditions?: CompiledConditions;
  cel?: CompiledCel;
  /** Set for RuntimeValidatingPolicy kinds: CEL validations where false is a violation. */
  validating?: CompiledRuntimeValidating;
  actions: ActionSpec[];
  /** For rules with `block`: the kernel rules, or the user-space kill it falls back to. */
  kernelBlock?: KernelBlockPlan;
}

export interface CompiledRule {
  name: string;
  /** Position in spec.rules (autogen rules share their origin's index). */
  index: number;
  /** Set on rules Kyverno's autogen generated. */
  autogen?: { of: string; kind: 'pod-controllers' | 'cronjob' };
  /** The rule as written (autogen: as generated). */
  raw: Record<string, unknown>;
  match: CompiledMatch;
  exclude?: CompiledMatch;
  context: CompiledContextEntry[];
  preconditions?: CompiledConditions;
  celPreconditions: { name: string; program: CelProgram }[];
  validate?: CompiledValidation;
  restrict?: CompiledRestrict;
  /** mutate / generate / verifyImages: loaded, not evaluated. */
  otherType?: string;
  failureAction: FailureAction;
}

export type PolicyKind =
  | 'ClusterRuntimePolicy'
  | 'RuntimePolicy'
  | 'RuntimeValidatingPolicy'
  | 'NamespacedRuntimeValidatingPolicy'
  | 'ClusterPolicy'
  | 'Policy';

/** A validated policy document, compiled (wildcards, patterns, JMESPath, CEL parsed once). */
export interface CompiledPolicy {
  apiVersion: string;
  kind: PolicyKind;
  name: string;
  namespace?: string;
  /** The document as written (after defaults), for display and reports. */
  document: Record<string, unknown>;
  source: { file: string; line: number };
  /** Policy-wide failure action (spec.failureAction, else Kyverno's validationFailureAction, else Audit). */
  failureAction: FailureAction;
  background: boolean;
  annotations: Record<string, string>;
  /** Rules in evaluation order: the policy's own, then Kyverno autogen rules (ClusterPolicy/Policy). */
  rules: CompiledRule[];
}
