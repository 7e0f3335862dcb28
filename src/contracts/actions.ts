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
export interface DeletePodAction extends ActionCommon {
  gracePeriodSeconds?: number;
}
export interface LabelAction extends ActionCommon {
  labels: Record<string, string>;
}
export interface AnnotateAction extends ActionCommon {
  annotations: Record<string, string>;
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
}
export interface ScaleAction extends ActionCommon {
  replicas: number;
}
export type CordonAction = ActionCommon;
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
