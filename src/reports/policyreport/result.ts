/**
 * One PolicyReport result per (policy, rule) on a resource, accumulated from verdicts: count, first
 * and last seen, the last event's key fields and the last action outcomes, all as string properties
 * (the CRD's `properties` is map[string]string). Values are truncated so a full report of 1000
 * results stays far under etcd's 1.5 MiB object limit.
 */
import type { ActionOutcome } from '../../contracts/actions.js';
import type { RuntimeEvent } from '../../events/types.js';
import { policyKey } from '../../contracts/keys.js';
import type { Verdict } from '../../contracts/verdict.js';

export const REPORT_SOURCE = 'kyverno-runtime';
/** Longest property value written; longer values end in "…". */
export const MAX_PROPERTY_LENGTH = 200;
export const MAX_MESSAGE_LENGTH = 512;

export type Severity = 'critical' | 'high' | 'medium' | 'low' | 'info';
const SEVERITIES = new Set<string>(['critical', 'high', 'medium', 'low', 'info']);

export interface PolicyReportResult {
  source: string;
  policy: string;
  rule: string;
  result: 'fail';
  scored: boolean;
  message: string;
  timestamp: { seconds: number; nanos: number };
  severity?: Severity;
  category?: string;
  properties: Record<string, string>;
}

/** What we know about one (policy, rule) on one resource. */
export interface ResultState {
  policy: string;
  rule: string;
  message: string;
  severity?: string;
  category?: string;
  /** Occurrences already written to the API server (or read back from it). */
  writtenCount: number;
  /** Occurrences not yet written: added to the server's count on the next write. */
  pendingCount: number;
  firstSeen: string;
  lastSeen: string;
  lastEvent: Record<string, string>;
  /** The last verdict's auditAnnotations, as `auditAnnotation.<key>` properties. */
  annotations: Record<string, string>;
  actions: Record<string, string>;
}

export { policyKey };

export function truncate(value: string, max = MAX_PROPERTY_LENGTH): string {
  return value.length <= max ? value : `${value.slice(0, max - 1)}…`;
}

/** The last event's key fields: enough to investigate without the raw event. */
export function eventProperties(e: RuntimeEvent, container: string | undefined): Record<string, string> {
  const p: Record<string, string> = { behavior: e.behavior, 'event.id': e.id, 'event.source': e.source };
  const set = (k: string, v: string | number | undefined): void => {
    if (v !== undefined && v !== '') p[k] = truncate(String(v));
  };
  set('node', e.node);
  set('container', container ?? e.container?.name);
  set('container.image', e.container?.image);
  set('process.binary', e.process?.binary);
  set('process.args', e.process?.args?.join(' '));
  set('process.pid', e.process?.pid);
  set('process.uid', e.process?.uid);
  set('parent.binary', e.parent?.binary);
  set('file.path', e.file?.path);
  set('file.operation', e.file?.operation);
  set('mount.source', e.mount?.source);
  set('mount.target', e.mount?.target);
  if (e.network)
    set('network', `${e.network.protocol ?? ''} ${e.network.daddr ?? ''}:${e.network.dport ?? ''}`.trim());
  set('privilege.capability', e.privilege?.capability);
  set('module.name', e.module?.name);
  set('alert.rule', e.alert?.rule);
  set('enforced', e.enforced === true ? 'true' : undefined);
  return p;
}

export function newResultState(v: Verdict): ResultState {
  return {
    policy: policyKey(v),
    rule: v.rule,
    message: v.message,
    severity: v.severity,
    category: v.category,
    writtenCount: 0,
    pendingCount: 0,
    firstSeen: v.time,
    lastSeen: v.time,
    lastEvent: {},
    annotations: {},
    actions: {},
  };
}

/**
 * A RuntimeValidatingPolicy's auditAnnotations (already at most a few, written by the policy) as
 * properties: prefixed so a key can never overwrite count, firstSeen or an event field, and cut to
 * the property length since the values carry event data.
 */
export function annotationProperties(
  annotations: Record<string, string> | undefined,
): Record<string, string> {
  const out: Record<string, string> = {};
  if (!annotations) return out;
  for (const [k, v] of Object.entries(annotations)) out[`auditAnnotation.${truncate(k, 63)}`] = truncate(v);
  return out;
}

/** Folds one more verdict into the state. */
export function observe(state: ResultState, v: Verdict): void {
  state.pendingCount++;
  state.message = v.message;
  if (v.time < state.firstSeen) state.firstSeen = v.time;
  if (v.time >= state.lastSeen) {
    state.lastSeen = v.time;
    state.lastEvent = eventProperties(v.event, v.container);
    state.annotations = annotationProperties(v.annotations);
  }
  if (v.severity !== undefined) state.severity = v.severity;
  if (v.category !== undefined) state.category = v.category;
}

export function recordOutcome(state: ResultState, o: ActionOutcome): void {
  state.actions[`action.${o.action}`] = truncate(
    o.detail !== undefined ? `${o.outcome}: ${o.detail}` : o.outcome,
  );
  state.actions[`action.${o.action}.time`] = o.time;
}

/** Reads back the count and first-seen a previous writer left in a result. */
export function readExisting(r: { properties?: Record<string, string> } | undefined): {
  count: number;
  firstSeen?: string;
} {
  const n = Number(r?.properties?.count ?? '0');
  return { count: Number.isFinite(n) && n >= 0 ? Math.floor(n) : 0, firstSeen: r?.properties?.firstSeen };
}

/** Builds the result written to the API server, given the count the server already holds. */
export function toResult(
  state: ResultState,
  serverCount: number,
  serverFirstSeen: string | undefined,
): PolicyReportResult {
  const firstSeen =
    serverFirstSeen !== undefined && serverFirstSeen < state.firstSeen ? serverFirstSeen : state.firstSeen;
  const seconds = Math.floor(Date.parse(state.lastSeen) / 1000);
  const r: PolicyReportResult = {
    source: REPORT_SOURCE,
    policy: state.policy,
    rule: state.rule,
    result: 'fail',
    scored: true,
    message: truncate(state.message, MAX_MESSAGE_LENGTH),
    timestamp: { seconds: Number.isFinite(seconds) ? seconds : Math.floor(Date.now() / 1000), nanos: 0 },
    properties: {
      process: 'runtime event',
      count: String(serverCount + state.pendingCount),
      firstSeen,
      lastSeen: state.lastSeen,
      ...state.lastEvent,
      ...state.annotations,
      ...state.actions,
    },
  };
  if (state.severity !== undefined && SEVERITIES.has(state.severity)) r.severity = state.severity as Severity;
  if (state.category !== undefined) r.category = truncate(state.category, 63);
  return r;
}
