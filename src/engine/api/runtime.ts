/**
 * The runtime engine's contract: what it is given (a pod lookup, options) and what it offers (verdicts,
 * rule errors, sensor hints, a summary of its policies). Types only, so that callers and the engine's
 * own files depend on this leaf rather than on each other.
 */
import type { ResourceRef, Verdict } from '../../contracts/verdict.js';
import type { ActionSpec } from '../../contracts/actions.js';
import type { Behavior, RuntimeEvent } from '../../events/types.js';
import type { RuleError } from '../runtime/rule-error.js';
import type { KernelBlockRule } from '../../contracts/kernel-block.js';
import type { ExceptionSet } from '../exceptions/index.js';
import type { CelHost } from '../cel/index.js';

/** Kubernetes object as plain JSON. */
export type KubeObject = Record<string, unknown> & {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string; uid?: string; labels?: Record<string, string> };
};

/** Filled by the cluster side from its pod cache; absent in local mode. */
export interface PodLookup {
  byContainerId(containerId: string): { pod: KubeObject; container: string } | undefined;
  byPodUid(uid: string): KubeObject | undefined;
  byName(namespace: string, name: string): KubeObject | undefined;
  namespaceLabels(namespace: string): Record<string, string> | undefined;
  node(name: string): KubeObject | undefined;
}

/** The resource an event belongs to, as attribution decided. */
export interface Attribution {
  resource: KubeObject;
  ref: ResourceRef;
  container?: string;
  /** True when the pod was synthesised from the event's own metadata. */
  synthetic: boolean;
}

/** What the built-in sensor needs to know to attach only the probes that policies need. */
export interface SensorHints {
  behaviors: ReadonlySet<Behavior>;
  /** Path prefixes named by file-read/file-write rules, for in-kernel filtering (empty = no filter). */
  filePathPrefixes: string[];
  /** The restrict rules, as data, for deciding which can be enforced in the kernel. */
  rules?: readonly SensorRuleView[];
}

/** A restrict rule as the sensor's in-kernel enforcement sees it: plain data, never evaluated. */
export interface SensorRuleView {
  policy: string;
  namespace?: string;
  rule: string;
  mode: 'Audit' | 'Enforce';
  behaviors: readonly Behavior[];
  /** Actions as written (also under Audit, so a report can say what Enforce would do). */
  actions: readonly ActionSpec[];
  /** restrict.pattern as written. */
  pattern: unknown;
  /** match and exclude as written. */
  match: unknown;
  exclude: unknown;
  /** Parts of the rule only the full engine can decide (preconditions, CEL, conditions, context…). */
  needsEngine: readonly string[];
}

/** Which enforcement path a restrict rule takes, and why (validate, /api/policies, the dashboard). */
export interface RuleEnforcement {
  path: 'kernel-kill' | 'user-space-kill' | 'report-only';
  reason: string;
  /** Set when the rule asks for something this kernel cannot do (block without BPF LSM). */
  warning?: string;
}

export interface PolicySummary {
  name: string;
  namespace?: string;
  kind: string;
  mode: 'Audit' | 'Enforce';
  rules: {
    name: string;
    type: 'restrict' | 'validate';
    behaviors: Behavior[];
    actions: string[];
    /**
     * Rules with `block`: `kernel` (denied by the cgroup connect program, under Enforce), or
     * `user-space-kill` with the reason it cannot be decided in the kernel.
     */
    block?: { enforcement: 'kernel' | 'user-space-kill'; reason?: string };
    /** Filled by local mode for restrict rules. */
    enforcement?: RuleEnforcement;
  }[];
  source: { file: string; line: number };
}

export interface RuntimeEngine {
  /** Attribute and evaluate one event; returns one verdict per violated restrict rule. */
  evaluate(event: RuntimeEvent): Verdict[];
  /**
   * Rule errors since the last call (Kyverno result `error`: a variable that does not resolve, a CEL
   * call failing…). `count` may exceed `recent.length`: only the last 100 are kept in detail.
   */
  takeRuleErrors(): { count: number; recent: readonly RuleError[] };
  readonly sensorHints: SensorHints;
  readonly policies: readonly PolicySummary[];
  /** Kernel rules of the Enforce policies' `block` rules, in policy order. */
  readonly kernelBlockRules: readonly KernelBlockRule[];
}

/**
 * External data for rule `context` entries (configMap, apiCall, globalReference). Synchronous: a
 * provider answers from what it holds (a cache, a file); undefined means "not available" and the
 * rule's result is an error, never a silent pass.
 */
export interface ContextProvider {
  /** The ConfigMap object, or undefined when unknown. */
  configMap(namespace: string, name: string): Record<string, unknown> | undefined;
  /** The JSON answer of a GET on an API server path, or undefined. */
  apiCall(urlPath: string): unknown;
  /** A GlobalContextEntry's data, or undefined. */
  globalReference(name: string): unknown;
  /** The same data for CEL's resource.Get / resource.List in restrict.cel and celPreconditions. */
  readonly cel?: CelHost;
}

/**
 * Parameter objects for paramKind/paramRef (RuntimeValidatingPolicy): in local mode the non-policy
 * documents of the policy files, in cluster mode the API server's objects (cached by an informer).
 */
export interface ParamLookup {
  /**
   * Objects of apiVersion/kind; `name` narrows to one, `namespace` to a namespace (cluster-scoped
   * objects ignore it). Undefined when this kind is not available (not watched, or not yet synced).
   */
  find(query: {
    apiVersion: string;
    kind: string;
    namespace?: string;
    name?: string;
  }): readonly KubeObject[] | undefined;
}

export interface RuntimeEngineOptions {
  /** Data for configMap / apiCall / globalReference context entries; without it they are rule errors. */
  context?: ContextProvider;
  lookup?: PodLookup;
  /** Where `params` come from; without it a policy with paramKind finds no parameters. */
  params?: ParamLookup;
  /** Node name used for host events (kind: Node) when the event does not carry one. */
  nodeName?: string;
  /**
   * PolicyExceptions: a violated rule an exception exempts becomes a verdict with `exception` set and
   * no actions (result skip). The set may be replaced while the engine runs (cluster informers).
   */
  exceptions?: ExceptionSet;
}
