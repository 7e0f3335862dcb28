/**
 * Where every action outcome goes, in both modes: the `kyverno_runtime_actions_total` counter, the
 * log (failures at warn, quiet outcomes at debug: 1000 identical events must not make 999 info lines),
 * per-outcome counts, every outcome to `onOutcome` (local mode: the terminal and the store) and the
 * verdict's reportable ones to `report` (cluster mode: the PolicyReport result).
 */
import type { ActionName, ActionOutcome } from '../contracts/actions.js';
import { policyKey } from '../contracts/keys.js';
import type { Verdict } from '../contracts/verdict.js';
import type { Logger } from '../observability/logger.js';
import { actions as actionsMetric } from '../observability/metrics.js';
import type { ActionResult } from './chain.js';

export type OutcomeCounts = Record<ActionOutcome['outcome'], number>;

export interface OutcomeSinkOptions {
  logger?: Logger;
  /** Receives every outcome, quiet ones included. */
  onOutcome?: (verdict: Verdict, outcome: ActionOutcome) => void;
  /** Receives the verdict's outcomes that are its to report (not quiet); not called when none is. */
  report?: (verdict: Verdict, outcomes: readonly ActionOutcome[]) => void;
}

export class OutcomeSink {
  private readonly counts: OutcomeCounts = {
    succeeded: 0,
    failed: 0,
    skipped: 0,
    refused: 0,
    'dry-run': 0,
    deduplicated: 0,
    'rate-limited': 0,
    unavailable: 0,
  };

  constructor(private readonly opts: OutcomeSinkOptions = {}) {}

  /** Outcomes counted since start, by outcome. */
  outcomes(): Readonly<OutcomeCounts> {
    return { ...this.counts };
  }

  /** Records one verdict's results (`names[i]` is the action of `results[i]`) and returns them as outcomes. */
  record(verdict: Verdict, names: readonly ActionName[], results: readonly ActionResult[]): ActionOutcome[] {
    const time = new Date().toISOString();
    const outcomes: ActionOutcome[] = [];
    const reportable: ActionOutcome[] = [];
    results.forEach((r, i) => {
      const o: ActionOutcome = { action: names[i]!, outcome: r.outcome, time };
      if (r.detail !== undefined) o.detail = r.detail;
      outcomes.push(o);
      if (r.quiet !== true) reportable.push(o);
      this.counts[o.outcome]++;
      actionsMetric.inc({ action: o.action, outcome: o.outcome });
      this.log(verdict, o, r);
      this.opts.onOutcome?.(verdict, o);
    });
    if (reportable.length > 0) this.opts.report?.(verdict, reportable);
    return outcomes;
  }

  private log(v: Verdict, o: ActionOutcome, r: ActionResult): void {
    const logger = this.opts.logger;
    if (!logger) return;
    const fields = {
      policy: policyKey(v),
      rule: v.rule,
      resource: `${v.resource.kind}/${v.resource.namespace ?? ''}/${v.resource.name}`,
      pid: v.event.process?.pid,
      action: o.action,
      outcome: o.outcome,
      detail: o.detail,
      by: r.by,
    };
    if (o.outcome === 'failed') logger.warn(fields, 'action failed');
    else if (r.quiet === true) logger.debug(fields, 'action');
    else logger.info(fields, 'action');
  }
}
