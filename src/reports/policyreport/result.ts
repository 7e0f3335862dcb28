/**
 * One PolicyReport result per (policy, rule) on a resource, accumulated from verdicts: count, first
 * and last seen, the last event's key fields and the last action outcomes, all as string properties
 * (the CRD's `properties` is map[string]string). Values are truncated so a full report of 1000
 * results stays far under etcd's 1.5 MiB object limit.
 */
import { createHash } from 'node:crypto';
import type { ActionOutcome } from '../../contracts/actions.js';
import type { RuntimeEvent } from '../../events/types.js';
import { policyKey } from '../../contracts/keys.js';
import { verdictResult, type Verdict } from '../../contracts/verdict.js';

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
  /**
   * `skip` when a PolicyException exempted the rule (property `exceptions` names it, as Kyverno does);
   * `warn` instead of `fail` when the policy is annotated `policies.kyverno.io/scored: "false"`.
   */
  result: 'fail' | 'warn' | 'skip';
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
  /** The last verdict's result: an exception may exempt some events of a rule and not others. */
  result: 'fail' | 'skip';
  /** The exception that exempted the last verdict (Kyverno's `exceptions` property). */
  exception?: string;
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
    result: verdictResult(v),
    ...(v.exception ? { exception: v.exception.name } : {}),
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
    state.result = verdictResult(v);
    if (v.exception) state.exception = v.exception.name;
    else delete state.exception;
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

/** Policy annotation (Kyverno's): "false" reports failures as `warn`, unscored. */
export const SCORED_ANNOTATION = 'policies.kyverno.io/scored';

/**
 * `properties.resultID`: a stable identity of the result, so Policy Reporter recognises it as the
 * same result when the message (which may carry event variables) or the count changes, and does not
 * notify again. Made of what identifies the finding, never of event data.
 */
export function resultId(
  state: Pick<ResultState, 'policy' | 'rule'>,
  resourceUid: string,
  result: PolicyReportResult['result'],
): string {
  return createHash('sha256')
    .update(`${REPORT_SOURCE}\u0000${state.policy}\u0000${state.rule}\u0000${resourceUid}\u0000${result}`)
    .digest('hex')
    .slice(0, 40);
}

/** Builds the result written to the API server, given the count the server already holds. */
export function toResult(
  state: ResultState,
  serverCount: number,
  serverFirstSeen: string | undefined,
  resource: { uid: string; scored: boolean } = { uid: '', scored: true },
): PolicyReportResult {
  const firstSeen =
    serverFirstSeen !== undefined && serverFirstSeen < state.firstSeen ? serverFirstSeen : state.firstSeen;
  const seconds = Math.floor(Date.parse(state.lastSeen) / 1000);
  const result: PolicyReportResult['result'] =
    state.result === 'skip' ? 'skip' : resource.scored ? 'fail' : 'warn';
  const r: PolicyReportResult = {
    source: REPORT_SOURCE,
    policy: state.policy,
    rule: state.rule,
    result,
    scored: resource.scored,
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
      ...(state.exception !== undefined ? { exceptions: truncate(state.exception) } : {}),
      resultID: resultId(state, resource.uid, result),
    },
  };
  if (state.severity !== undefined && SEVERITIES.has(state.severity)) r.severity = state.severity as Severity;
  if (state.category !== undefined) r.category = truncate(state.category, 63);
  return r;
}
