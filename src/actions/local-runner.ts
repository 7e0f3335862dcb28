/**
 * Runs Enforce verdicts' actions in local mode (no cluster): `kill` for real, with dedup and a
 * per-policy rate limit; every Kubernetes action is reported as `unavailable` ("not available
 * without a cluster"), never silently ignored. Used as a pipeline VerdictSink by `kyverno-runtime run`.
 */
import type { RuntimeEvent } from '../events/types.js';
import type { Verdict } from '../contracts/verdict.js';
import type { Logger } from '../observability/logger.js';
import { actions as actionsMetric } from '../observability/metrics.js';
import { killEventProcess, type KillOptions } from './kill.js';
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
}

export class LocalActionRunner {
  readonly name = 'local-actions';
  private readonly dedup: DedupWindow;
  private readonly buckets = new Map<string, TokenBucket>();
  private readonly counts: Record<ActionOutcome['outcome'], number> = {
    succeeded: 0,
    failed: 0,
    skipped: 0,
    'dry-run': 0,
    deduplicated: 0,
    'rate-limited': 0,
    unavailable: 0,
  };

  constructor(private readonly opts: LocalActionRunnerOptions = {}) {
    this.dedup = new DedupWindow(opts.dedupWindowMs ?? 10_000);
  }

  /** VerdictSink: runs the actions of Enforce verdicts (Audit verdicts carry none). */
  write(verdicts: Verdict[], _event: RuntimeEvent): void {
    for (const v of verdicts) {
      if (v.mode !== 'Enforce' || v.actions.length === 0) continue;
      for (const outcome of this.run(v)) this.record(v, outcome);
    }
  }

  outcomes(): Readonly<Record<ActionOutcome['outcome'], number>> {
    return { ...this.counts };
  }

  /** Runs one verdict's actions and returns their outcomes (in the policy's order). */
  run(verdict: Verdict): ActionOutcome[] {
    const now = (): string => new Date().toISOString();
    const out: ActionOutcome[] = [];
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
      const r = killEventProcess(killSpec(spec), verdict.event, this.opts);
      out.push({ action: name, ...r, time: now() });
    }
    return out;
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
