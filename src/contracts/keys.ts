/**
 * The one place that names a policy, a rule, a resource and an action's dedup identity as a string.
 * Every map, metric label, report and store row keyed by these uses the functions here, so two
 * namespaces' policies of the same name never share a count, a report result or a dedup entry.
 */
import type { ResourceRef, Verdict } from './verdict.js';

/**
 * A policy's name, or `namespace/name` for a namespaced RuntimePolicy. A Kubernetes name never
 * contains `/`, so the two forms cannot collide. Used in reports and metric labels.
 */
export function policyKey(v: Pick<Verdict, 'policy' | 'policyNamespace'>): string {
  return v.policyNamespace !== undefined ? `${v.policyNamespace}/${v.policy}` : v.policy;
}

/** One rule of one policy (map key, not for display). */
export function ruleKey(v: Pick<Verdict, 'policy' | 'policyNamespace' | 'rule'>): string {
  return `${policyKey(v)}\u0000${v.rule}`;
}

/** A resource as stored (the store's `resource_key` column: changing it orphans stored rows). */
export function resourceKey(r: ResourceRef): string {
  return [r.apiVersion, r.kind, r.namespace ?? '', r.name, r.uid ?? ''].join('|');
}

export interface DedupIdentity {
  /** Which input class the event came from: the trusted and untrusted inputs never share an entry. */
  lane: string;
  /** The acted-upon object (its UID, or kind/namespace/name). */
  target: string;
  /** The action within the verdict (its position and name). */
  action: string;
  /** For a process-level action (kill): the process (pid and start time). */
  process?: string;
}

/**
 * What the dedup window remembers: one run per (lane, policy, rule, target, behavior, action, process).
 * JSON of an array, because the target and process come from events: a separator character inside
 * one of them must not make two identities collide.
 */
export function dedupKey(
  v: Pick<Verdict, 'policy' | 'policyNamespace' | 'rule' | 'behavior'>,
  id: DedupIdentity,
): string {
  return JSON.stringify([id.lane, policyKey(v), v.rule, id.target, v.behavior, id.action, id.process ?? '']);
}
