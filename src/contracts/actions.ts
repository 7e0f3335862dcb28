/**
 * Response actions a `restrict` rule may name. They run only under Enforce.
 * Each action is a one-key object, as in the policy YAML: `- deletePod: {gracePeriodSeconds: 0}`.
 * The policy JSON Schema validates these shapes; the executors live in src/actions/.
 */

export interface ActionCommon {
  /** Report what would be done, do nothing. */
  dryRun?: boolean;
  /**
   * Allow this action in protected namespaces (kube-system by default), which are otherwise never
   * acted upon. The policy-wide equivalent is the annotation
   * `runtime.kyverno.io/allow-protected-namespaces: "true"`.
   */
  allowProtectedNamespaces?: boolean;
}

export interface KillAction extends ActionCommon {
  /** Signal name; SIGKILL by default. */
  signal?: string;
}
/**
 * Refuse the behavior before it happens. Only network-connect can be refused by this kernel: the
 * rule's conditions are compiled into the cgroup connect4/connect6 program's maps at load. Elsewhere
 * the rule falls back to the in-kernel kill where it can.
 */
export type BlockAction = ActionCommon;

/** Owner kinds deletePod/drain can be told to leave alone; `Standalone` is a pod without a controller. */
export type OwnerKind = 'DaemonSet' | 'StatefulSet' | 'ReplicaSet' | 'Job' | 'Standalone';

export interface DeletePodAction extends ActionCommon {
  /** 0 is a force delete: the pod object goes at once, its containers may outlive it on the node. */
  gracePeriodSeconds?: number;
  /** `delete` (default) or `evict` through the Eviction API, which respects PodDisruptionBudgets. */
  mode?: 'delete' | 'evict';
  /** Leave pods owned by these kinds alone (outcome skipped). */
  skipOwnerKinds?: OwnerKind[];
  /** Act only while the owner keeps at least this many ready replicas besides this pod. */
  minHealthyReplicas?: number;
}
export interface LabelAction extends ActionCommon {
  labels?: Record<string, string>;
  /** Label keys to remove (as `kubectl label key-`). */
  remove?: string[];
}
export interface AnnotateAction extends ActionCommon {
  annotations?: Record<string, string>;
  /** Annotation keys to remove. */
  remove?: string[];
}
export interface PatchAction extends ActionCommon {
  /** strategic-merge (default), merge, or json6902. */
  type?: 'strategic-merge' | 'merge' | 'json6902';
  /** An object for merge patches, an operation list for json6902; may contain {{ }} variables. */
  patch: unknown;
}
export interface IsolateAction extends ActionCommon {
  /** Label put on the pod and selected by the deny-all NetworkPolicy. */
  label?: string;
  /** Egress still allowed from the isolated pod (as Falco Talon's networkpolicy actionner). */
  allowEgress?: {
    /** DNS (UDP/TCP 53) to kube-dns in kube-system. */
    dns?: boolean;
    /** IP blocks, e.g. a forensics collector. */
    cidrs?: string[];
    /** Namespaces (by name) the pod may still reach. */
    namespaces?: string[];
  };
}
export interface ScaleAction extends ActionCommon {
  replicas: number;
}
export type CordonAction = ActionCommon;
export interface DrainAction extends ActionCommon {
  /** Evict pods owned by these kinds too (DaemonSet pods are never evicted; mirror pods never). */
  skipOwnerKinds?: OwnerKind[];
  /** Skip a pod whose owner would keep fewer ready replicas than this. */
  minHealthyReplicas?: number;
  /** Longest time spent on the drain; pods not evicted by then are reported (default 60). */
  maxWaitSeconds?: number;
  /** Grace period passed to each eviction. */
  gracePeriodSeconds?: number;
}
export interface EventAction extends ActionCommon {
  type?: 'Normal' | 'Warning';
  reason?: string;
  message?: string;
}
export interface WebhookAction extends ActionCommon {
  url: string;
  /** A Secret holding a bearer token. */
  secretRef?: { name: string; namespace?: string; key?: string };
  timeoutSeconds?: number;
}

export interface ActionSpecMap {
  kill: KillAction;
  block: BlockAction;
  deletePod: DeletePodAction;
  label: LabelAction;
  annotate: AnnotateAction;
  patch: PatchAction;
  isolate: IsolateAction;
  scale: ScaleAction;
  cordon: CordonAction;
  drain: DrainAction;
  event: EventAction;
  webhook: WebhookAction;
}

export type ActionName = keyof ActionSpecMap;

export const ACTION_NAMES: readonly ActionName[] = [
  'kill',
  'block',
  'deletePod',
  'label',
  'annotate',
  'patch',
  'isolate',
  'scale',
  'cordon',
  'drain',
  'event',
  'webhook',
];

/** One action as written in a policy: exactly one key. */
export type ActionSpec = { [K in ActionName]: { [P in K]: ActionSpecMap[K] } }[ActionName];

export function actionName(spec: ActionSpec): ActionName {
  return Object.keys(spec)[0] as ActionName;
}

/** Outcome of running one action, recorded in reports, the store and metrics. */
export interface ActionOutcome {
  action: ActionName;
  outcome:
    | 'succeeded'
    | 'failed'
    | 'skipped'
    /** A safety check said no (kill: untrusted source, not the process the event names, protected target). */
    | 'refused'
    | 'dry-run'
    | 'deduplicated'
    | 'rate-limited'
    | 'unavailable';
  detail?: string;
  time: string;
}
