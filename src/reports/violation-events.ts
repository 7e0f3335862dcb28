/**
 * Kubernetes Events for violations, a sink of their own next to PolicyReports: the cluster agent
 * raises one when a PolicyReport gains a new result, or per verdict (folded by the recorder) when
 * reports are off.
 */
import type { Verdict } from '../contracts/verdict.js';
import type { EventInput, EventRecorder } from '../k8s/events.js';
import { policyKey } from './policyreport/result.js';

/** The Event a violation raises on its object. None for a verdict without a real object. */
export function violationEvent(v: Verdict): EventInput | undefined {
  const uid = v.resource.uid;
  // An exempted rule (PolicyException) is no violation.
  if (uid === undefined || uid === '' || v.synthetic === true || v.exception) return undefined;
  return {
    regarding: { ...v.resource, uid },
    type: 'Warning',
    reason: 'PolicyViolation',
    action: 'Report',
    note: `${policyKey(v)}/${v.rule}: ${v.message}`,
  };
}

/** Raises the violation's Event through `recorder`; a verdict without a real object raises none. */
export function emitViolationEvent(recorder: EventRecorder, v: Verdict): void {
  const event = violationEvent(v);
  if (event) void recorder.emit(event);
}
