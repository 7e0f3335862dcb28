/**
 * The runtime engine's contract: what it is given (a pod lookup, options) and what it offers (verdicts,
 * rule errors, sensor hints, a summary of its policies). Types only, so that callers and the engine's
 * own files depend on this leaf rather than on each other.
 */
import type { ResourceRef, Verdict } from '../../contracts/verdict.js';
import type { Behavior, RuntimeEvent } from '../../events/types.js';
import type { RuleError } from '../runtime/rule-error.js';

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
}

export interface PolicySummary {
  name: string;
  namespace?: string;
  kind: string;
  mode: 'Audit' | 'Enforce';
  rules: { name: string; type: 'restrict' | 'validate'; behaviors: Behavior[]; actions: string[] }[];
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
  lookup?: PodLookup;
  /** Where `params` come from; without it a policy with paramKind finds no parameters. */
  params?: ParamLookup;
  /** Node name used for host events (kind: Node) when the event does not carry one. */
  nodeName?: string;
}
