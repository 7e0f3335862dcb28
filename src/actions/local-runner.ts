/**
 * Runs Enforce verdicts' actions in local mode (no cluster): `kill` for real, with dedup and a
 * per-policy rate limit; every Kubernetes action is reported as `unavailable` ("not available
 * without a cluster"), never silently ignored. Used as a pipeline VerdictSink by `kyverno-runtime run`.
 *
 * A kill from an input not trusted to name host processes is refused before dedup and the rate limit:
 * forged events must neither use up the policy's budget nor mark a process as already handled, or a
 * sender could shield the real offender from the sensor's genuine kill.
 */
import type { RuntimeEvent } from '../events/types.js';
import type { Verdict } from '../contracts/verdict.js';
import type { Logger } from '../observability/logger.js';
import { actions as actionsMetric } from '../observability/metrics.js';
import type { EventOrigin } from '../sources/types.js';
import { killEventProcess, type KillContext, type KillOptions } from './kill.js';
import type { RuleTargetsNode } from './node-rules.js';
import { DedupWindow, TokenBucket } from './safety.js';
import { actionName, type ActionOutcome, type ActionSpec, type KillAction } from '../contracts/actions.js';

export const NOT_AVAILABLE_LOCALLY = 'not available without a cluster';

export interface LocalActionRunnerOptions extends KillOptions {
  /** Window in which the same (policy, rule, resource, behavior, process) is acted on once. Default 10 s. */
  dedupWindowMs?: number;
  /** Per-policy limit on verdicts acted upon. Default 20/s, burst 50. */
  perPolicy?: { rate: number; burst: number };
  logger?: Logger;
  /** Receives every outcome (the store records them next to the violation). */
  onOutcome?: (verdict: Verdict, outcome: ActionOutcome) => void;
  /** Which rules match kind Node (may kill host processes). Default: none. */
  ruleTargetsNode?: RuleTargetsNode;
}

/** The origin assumed when none is given: nothing is trusted by default. */
const UNKNOWN_ORIGIN: EventOrigin = Object.freeze({ source: 'unknown', trustedForKill: false });

export class LocalActionRunner {
  readonly name = 'local-actions';
  private readonly dedup: DedupWindow;
  private readonly buckets = new Map<string, TokenBucket>();
  private readonly counts: Record<ActionOutcome['outcome'], number> = {
    succeeded: 0,
    failed: 0,
    skipped: 0,
    refused: 0,
    'dry-run': 0,
    deduplicated: 0,
    'rate-limited': 0,
    unavailable: 0,
  };

  constructor(private readonly opts: LocalActionRunnerOptions = {}) {
    this.dedup = new DedupWindow(opts.dedupWindowMs ?? 10_000);
  }

  /** VerdictSink: runs the actions of Enforce verdicts (Audit verdicts carry none). */
  write(verdicts: Verdict[], _event: RuntimeEvent, origin: EventOrigin = UNKNOWN_ORIGIN): void {
    for (const v of verdicts) {
      if (v.mode !== 'Enforce' || v.actions.length === 0) continue;
      for (const outcome of this.run(v, origin)) this.record(v, outcome);
    }
  }

  outcomes(): Readonly<Record<ActionOutcome['outcome'], number>> {
    return { ...this.counts };
  }

  /** Runs one verdict's actions and returns their outcomes (in the policy's order). */
  run(verdict: Verdict, origin: EventOrigin = UNKNOWN_ORIGIN): ActionOutcome[] {
    const now = (): string => new Date().toISOString();
    const out: ActionOutcome[] = [];
    const context: KillContext = { origin, ruleTargetsNode: this.opts.ruleTargetsNode?.(verdict) ?? false };
    if (!origin.trustedForKill) {
      // Refused by killEventProcess's first check, before any dedup or token is spent.
      for (const spec of verdict.actions) {
        const name = actionName(spec);
        out.push(
          name === 'kill'
            ? this.kill(spec, verdict, context)
            : { action: name, outcome: 'unavailable', detail: NOT_AVAILABLE_LOCALLY, time: now() },
        );
      }
      return out;
    }
    // kill acts on a process, so the process is part of the identity: two offending processes on the
    // same host (one resource: the Node) are two kills, the same process seen twice is one.
    const proc = `${String(verdict.event.process?.pid)}:${verdict.event.process?.startTime ?? ''}`;
    const key = [
      verdict.policyNamespace ?? '',
      verdict.policy,
      verdict.rule,
      verdict.resource.kind,
      verdict.resource.namespace ?? '',
      verdict.resource.name,
      verdict.behavior,
      proc,
    ].join('\u0000');
    const first = this.dedup.firstInWindow(key);
    const allowed = first && this.bucket(verdict).tryTake();
    for (const spec of verdict.actions) {
      const name = actionName(spec);
      if (name !== 'kill') {
        out.push({ action: name, outcome: 'unavailable', detail: NOT_AVAILABLE_LOCALLY, time: now() });
        continue;
      }
      if (!first) {
        out.push({
          action: name,
          outcome: 'deduplicated',
          detail: 'already acted on this process within the window',
          time: now(),
        });
        continue;
      }
      if (!allowed) {
        out.push({
          action: name,
          outcome: 'rate-limited',
          detail: `policy ${verdict.policy} is over its action rate`,
          time: now(),
        });
        continue;
      }
      const o = this.kill(spec, verdict, context);
      // A refused kill did not act: it must not shield the process from the next (genuine) event.
      if (o.outcome === 'refused') this.dedup.forget(key);
      out.push(o);
    }
    return out;
  }

  private kill(spec: ActionSpec, verdict: Verdict, context: KillContext): ActionOutcome {
    const r = killEventProcess(killSpec(spec), verdict.event, context, this.opts);
    const o: ActionOutcome = { action: 'kill', outcome: r.outcome, time: new Date().toISOString() };
    if (r.detail !== undefined) o.detail = r.detail;
    return o;
  }

  private bucket(v: Verdict): TokenBucket {
    const k = `${v.policyNamespace ?? ''}/${v.policy}`;
    let b = this.buckets.get(k);
    if (!b) {
      const limit = this.opts.perPolicy ?? { rate: 20, burst: 50 };
      b = new TokenBucket(limit.rate, limit.burst);
      this.buckets.set(k, b);
    }
    return b;
  }

  private record(v: Verdict, o: ActionOutcome): void {
    this.counts[o.outcome]++;
    actionsMetric.inc({ action: o.action, outcome: o.outcome });
    this.opts.logger?.info(
      {
        policy: v.policy,
        rule: v.rule,
        action: o.action,
        outcome: o.outcome,
        detail: o.detail,
        pid: v.event.process?.pid,
      },
      'action',
    );
    this.opts.onOutcome?.(v, o);
  }
}

function killSpec(spec: ActionSpec): KillAction {
  return (spec as { kill?: KillAction }).kill ?? {};
}
