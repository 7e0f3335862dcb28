import type { ActionSpec } from './actions.js';
import type { Behavior, RuntimeEvent } from '../events/types.js';

/** A reference to the Kubernetes object a result is about (a Pod, or the Node for host events). */
export interface ResourceRef {
  apiVersion: string;
  kind: string;
  name: string;
  namespace?: string;
  uid?: string;
}

export type FailureAction = 'Audit' | 'Enforce';

/**
 * The engine's output for one violated `restrict` rule on one event. Pure data: reports, the store,
 * the dashboard and the action executors all consume it.
 */
export interface Verdict {
  policy: string;
  /** Set for namespaced RuntimePolicy. */
  policyNamespace?: string;
  rule: string;
  mode: FailureAction;
  resource: ResourceRef;
  /** The container the event happened in, when known. */
  container?: string;
  /** True when the resource was synthesised from the event (no cluster to look the pod up in). */
  synthetic?: boolean;
  behavior: Behavior;
  /** Rendered message (variables substituted). */
  message: string;
  eventId: string;
  time: string;
  /** Actions to run; empty under Audit. */
  actions: ActionSpec[];
  severity?: string;
  category?: string;
  /**
   * Set when a PolicyException exempts the rule for this resource: the result is `skip`, `actions` is
   * empty, and the message names the exception.
   */
  exception?: ExceptionRef;
  /** RuntimeValidatingPolicy auditAnnotations (key → rendered value, bounded like messages). */
  annotations?: Record<string, string>;
  event: RuntimeEvent;
}

/** The PolicyException that exempted a verdict. */
export interface ExceptionRef {
  name: string;
  namespace?: string;
}

/** Kyverno's report result of a verdict: an exempted rule is `skip`, else `fail`. */
export function verdictResult(v: Pick<Verdict, 'exception'>): 'fail' | 'skip' {
  return v.exception ? 'skip' : 'fail';
}

/** How an exception is named in reports, the store and logs: "namespace/name", or "name". */
export function exceptionName(e: ExceptionRef): string {
  return e.namespace ? `${e.namespace}/${e.name}` : e.name;
}
