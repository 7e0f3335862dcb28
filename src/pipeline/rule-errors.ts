/**
 * Rule errors made visible. A rule that cannot be evaluated on an event (a `{{ }}` variable naming a
 * key the event lacks, a CEL expression failing at run time…) is Kyverno's `error` result: neither a
 * pass nor a violation. The engine only counts them (RuntimeEngine's `takeRuleErrors`); this module
 * turns what the pipeline drains into
 *  - the counter kyverno_runtime_rule_errors_total{policy, rule, reason}, where `reason` is a small
 *    stable token (RULE_ERROR_REASONS, set by the engine from the error's class) so label cardinality
 *    stays bounded by the loaded rules, and `policy` is `namespace/name` for a namespaced
 *    RuntimePolicy (policyKey), so two namespaces' policies of the same name stay apart;
 *  - a rate-limited warn log: the first error of each (policy, rule) at once, then at most one line
 *    per interval (default 60 s) carrying how many occurred since the previous line;
 *  - per-policy totals since start (countFor), for the local API's policy list.
 */
import { RULE_ERROR_REASON, type RuleError, type RuntimeEngine } from '../engine/runtime/index.js';
import type { Logger } from '../observability/logger.js';
import { policyKey, ruleKey } from '../contracts/keys.js';
import { ruleErrors as ruleErrorsMetric } from '../observability/metrics.js';

/** What the reporter drains: the engine's `takeRuleErrors` (`count` may exceed `recent.length`). */
export type RuleErrorSource = Pick<RuntimeEngine, 'takeRuleErrors'>;

/** The `reason` label values (docs/metrics.md "Rule errors"): the engine's tokens plus `overflow`. */
export const RULE_ERROR_REASONS = {
  ...RULE_ERROR_REASON,
  /** Errors counted by the engine beyond the ones it kept in detail (more than 100 on one event). */
  overflow: 'overflow',
} as const;
export type RuleErrorReason = (typeof RULE_ERROR_REASONS)[keyof typeof RULE_ERROR_REASONS];

export interface RuleErrorReporterOptions {
  logger?: Logger;
  /** Minimum time between two log lines for the same (policy, rule). Default 60 000 ms. */
  logIntervalMs?: number;
  /** Monotonic-enough clock in ms; injectable for tests. */
  now?: () => number;
}

interface LogState {
  lastLoggedAt: number;
  /** Errors since the last line that were not logged. */
  suppressed: number;
  latest: RuleError;
}

/** The policy/rule used for errors the engine counted without detail. */
const OVERFLOW_LABEL = '(overflow)';

export class RuleErrorReporter {
  private readonly logIntervalMs: number;
  private readonly now: () => number;
  private readonly log: Logger | undefined;
  private readonly states = new Map<string, LogState>();
  private readonly byPolicy = new Map<string, number>();
  private totalCount = 0;

  constructor(options: RuleErrorReporterOptions = {}) {
    this.logIntervalMs = options.logIntervalMs ?? 60_000;
    this.now = options.now ?? Date.now;
    this.log = options.logger;
  }

  /** Drains the engine and records what it held. Cheap when there is nothing (one call, no allocation here). */
  drain(source: RuleErrorSource): void {
    const { count, recent } = source.takeRuleErrors();
    if (count === 0) return;
    for (const e of recent) this.recordOne(e);
    const overflow = count - recent.length;
    if (overflow > 0) {
      this.totalCount += overflow;
      ruleErrorsMetric.inc(
        { policy: OVERFLOW_LABEL, rule: OVERFLOW_LABEL, reason: RULE_ERROR_REASONS.overflow },
        overflow,
      );
      this.log?.warn(
        { count: overflow },
        'rule errors beyond the engine detail buffer (counted, not itemised)',
      );
    }
  }

  private recordOne(e: RuleError): void {
    const policy = policyKey(e);
    ruleErrorsMetric.inc({ policy, rule: e.rule, reason: e.reason });
    this.totalCount++;
    this.byPolicy.set(policy, (this.byPolicy.get(policy) ?? 0) + 1);

    const key = ruleKey(e);
    const now = this.now();
    const state = this.states.get(key);
    if (state === undefined) {
      this.states.set(key, { lastLoggedAt: now, suppressed: 0, latest: e });
      this.warn(e, 1, true);
      return;
    }
    state.latest = e;
    if (now - state.lastLoggedAt >= this.logIntervalMs) {
      this.warn(e, state.suppressed + 1, false);
      state.lastLoggedAt = now;
      state.suppressed = 0;
    } else {
      state.suppressed++;
    }
  }

  private warn(e: RuleError, count: number, first: boolean): void {
    this.log?.warn(
      {
        policy: e.policy,
        ...(e.policyNamespace !== undefined && { policyNamespace: e.policyNamespace }),
        rule: e.rule,
        reason: e.reason,
        eventId: e.eventId,
        error: e.message,
        count,
        first,
        nextLogAfterMs: this.logIntervalMs,
      },
      'rule error: the rule could not be evaluated on an event (result "error", not a violation)',
    );
  }

  /** Logs the errors suppressed since each rule's last line (at shutdown, so no count is lost from the log). */
  flush(): void {
    for (const state of this.states.values()) {
      if (state.suppressed === 0) continue;
      this.warn(state.latest, state.suppressed, false);
      state.suppressed = 0;
      state.lastLoggedAt = this.now();
    }
  }

  /** Errors recorded since start. */
  get total(): number {
    return this.totalCount;
  }

  /**
   * Errors since start per policy, keyed by name for cluster-wide policies and `namespace/name` for
   * namespaced ones (policyKey), so namespaced policies of the same name do not share a count.
   */
  countsByPolicy(): ReadonlyMap<string, number> {
    return this.byPolicy;
  }

  /** Errors since start for one policy (`namespace` set for a namespaced RuntimePolicy). */
  countFor(policy: string, namespace?: string): number {
    return this.byPolicy.get(policyKey({ policy, policyNamespace: namespace })) ?? 0;
  }
}
