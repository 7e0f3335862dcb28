/**
 * Local mode's action runner (no cluster): the shared pipeline (runner.ts) with the guards local mode
 * needs, in this order: available (only `kill` runs; every Kubernetes action is reported `unavailable`,
 * "not available without a cluster", never silently ignored), trust, dedup, per-policy rate limit,
 * dry-run; then the kill handler, whose own checks protect the agent, the sensor, init and kernel threads
 * (they are repeated right before the signal, so they stay with it). Used as a pipeline VerdictSink by
 * `kyverno-runtime run`.
 */
import type { RuntimeEvent } from '../events/types.js';
import type { Verdict } from '../contracts/verdict.js';
import type { Logger } from '../observability/logger.js';
import type { EventOrigin } from '../sources/types.js';
import type { ActionOutcome, KillAction } from '../contracts/actions.js';
import type { ActionResult, Step } from './chain.js';
import { blockOutcome } from './block.js';
import { available, DedupGuard, dryRun, inKernel, RateLimitGuard, trust } from './guards.js';
import { killEventProcess, type KillOptions } from './kill.js';
import type { RuleTargetsNode } from './node-rules.js';
import { OutcomeSink, type OutcomeCounts } from './outcome-sink.js';
import { ActionRunner } from './runner.js';

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
  private readonly sink: OutcomeSink;
  private readonly runner: ActionRunner;

  constructor(private readonly opts: LocalActionRunnerOptions = {}) {
    this.sink = new OutcomeSink({ logger: opts.logger, onOutcome: opts.onOutcome });
    const limit = opts.perPolicy ?? { rate: 20, burst: 50 };
    this.runner = new ActionRunner({
      guards: [
        inKernel(),
        available(
          (name) => name === 'kill' || name === 'block',
          () => NOT_AVAILABLE_LOCALLY,
        ),
        trust(),
        new DedupGuard({
          windowMs: opts.dedupWindowMs ?? 10_000,
          // kill acts on a process, so the process is part of the identity: two offending processes on
          // the same host (one resource: the Node) are two kills, the same process seen twice is one.
          identity: ({ verdict: v }) => ({
            lane: 'trusted',
            target: `${v.resource.kind}/${v.resource.namespace ?? ''}/${v.resource.name}`,
            process: `${String(v.event.process?.pid)}:${v.event.process?.startTime ?? ''}`,
          }),
          detail: 'already acted on this process within the window',
        }),
        new RateLimitGuard({ ...limit, lane: () => 'trusted' }),
        dryRun(opts.dryRun === true),
      ],
      handler: this.kill,
      sink: this.sink,
    });
  }

  /** VerdictSink: runs the actions of Enforce verdicts (Audit verdicts carry none). */
  write(verdicts: Verdict[], _event: RuntimeEvent, origin: EventOrigin = UNKNOWN_ORIGIN): void {
    for (const v of verdicts) this.run(v, origin);
  }

  outcomes(): Readonly<OutcomeCounts> {
    return this.sink.outcomes();
  }

  /** Runs one verdict's actions (synchronously: every local step is) and returns their outcomes. */
  run(verdict: Verdict, origin: EventOrigin = UNKNOWN_ORIGIN): ActionOutcome[] {
    const out = this.runner.run(verdict, origin);
    // Unreachable: no local guard or handler returns a promise.
    if (out instanceof Promise) throw new Error('local actions must run synchronously');
    return out;
  }

  private readonly kill: Step = (call): ActionResult => {
    if (call.name === 'block') return { ...blockOutcome(call.verdict, call.origin), by: 'handler' };
    const spec = call.fields as KillAction;
    const r = killEventProcess(
      spec,
      call.verdict.event,
      { origin: call.origin, ruleTargetsNode: this.opts.ruleTargetsNode?.(call.verdict) ?? false },
      { ...this.opts, dryRun: call.dryRun === true },
    );
    return r.detail !== undefined
      ? { outcome: r.outcome, detail: r.detail, by: 'handler' }
      : { outcome: r.outcome, by: 'handler' };
  };
}
