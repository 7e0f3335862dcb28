/**
 * JSON shapes of API responses that the dashboard reads. Free of Node imports so the browser build
 * can type-check against them; the routes assign the engine's own types to these, so the compiler
 * flags any drift between the two.
 */
import type { Behavior } from '../events/types.js';
import type { SourceStats } from '../sources/types.js';
import {
  exceptionName,
  verdictResult,
  type FailureAction,
  type ResourceRef,
  type Verdict,
} from '../contracts/verdict.js';

export interface PolicyWire {
  name: string;
  namespace?: string;
  kind: string;
  mode: FailureAction;
  rules: {
    name: string;
    type: 'restrict' | 'validate';
    behaviors: Behavior[];
    actions: string[];
    /** Rules with `block`: decided in the kernel, or falling back to the user-space kill (and why). */
    block?: { enforcement: 'kernel' | 'user-space-kill'; reason?: string };
    /** Restrict rules under local mode: how a violation is enforced, and why that way. */
    enforcement?: EnforcementWire;
  }[];
  source: { file: string; line: number };
  /** Rule errors (result "error": a rule that could not be evaluated on an event) since start. */
  ruleErrors?: number;
}

export interface PolicyErrorWire {
  file: string;
  line: number;
  col: number;
  message: string;
  policy?: string;
}

export interface EnforcementWire {
  path: 'kernel-kill' | 'user-space-kill' | 'report-only';
  reason: string;
  /** E.g. `block` on a behavior this kernel cannot block. */
  warning?: string;
}

export interface PoliciesResponse {
  policies: readonly PolicyWire[];
  errors: readonly PolicyErrorWire[];
  /** What this host's kernel can enforce (local mode). */
  kernel?: { bpfLsm: boolean; bpfLsmDetail: string; inKernelKill: boolean; inKernelKillDetail: string };
}

export interface SourceWire extends SourceStats {
  /** Over the last ~10 s. */
  eventsPerSecond: number;
}

export interface SourcesResponse {
  sources: SourceWire[];
}

/** A stream message: the verdict without its (possibly large) event. */
export interface StreamVerdict {
  policy: string;
  policyNamespace?: string;
  rule: string;
  mode: FailureAction;
  behavior: Behavior;
  message: string;
  resource: ResourceRef;
  container?: string;
  eventId: string;
  time: string;
  source: string;
  process?: { binary?: string; pid?: number; uid?: number };
  image?: string;
  /** `skip` when a PolicyException exempted the verdict (then `exception` names it), else `fail`. */
  result: 'fail' | 'skip';
  exception?: string;
}

export function toStreamVerdict(v: Verdict): StreamVerdict {
  const p = v.event.process;
  return {
    policy: v.policy,
    ...(v.policyNamespace ? { policyNamespace: v.policyNamespace } : {}),
    rule: v.rule,
    mode: v.mode,
    behavior: v.behavior,
    message: v.message,
    resource: v.resource,
    ...(v.container ? { container: v.container } : {}),
    eventId: v.eventId,
    time: v.time,
    source: v.event.source,
    ...(p ? { process: { binary: p.binary, pid: p.pid, uid: p.uid } } : {}),
    ...(v.event.container?.image ? { image: v.event.container.image } : {}),
    result: verdictResult(v),
    ...(v.exception ? { exception: exceptionName(v.exception) } : {}),
  };
}
