/**
 * Verdict sinks both run modes share. The violation counter is a sink of its own so that every mode
 * counts `kyverno_runtime_violations_total` the same way, whatever else it does with verdicts.
 */
import { exceptionName, type Verdict } from '../contracts/verdict.js';
import type { RuntimeEvent } from '../events/types.js';
import type { Logger } from '../observability/logger.js';
import { countExceptionApplied, violations as violationsMetric } from '../observability/metrics.js';
import type { VerdictSink } from '../pipeline/index.js';

/**
 * Counts every violation in kyverno_runtime_violations_total{policy,rule,behavior,mode}; a verdict a
 * PolicyException exempted is no violation: it counts in kyverno_runtime_exceptions_applied_total.
 */
export function violationMetricsSink(): VerdictSink {
  return {
    name: 'metrics',
    write(verdicts: Verdict[]) {
      for (const v of verdicts) {
        if (v.exception) {
          countExceptionApplied(
            v.policyNamespace ? `${v.policyNamespace}/${v.policy}` : v.policy,
            v.rule,
            exceptionName(v.exception),
          );
        } else violationsMetric.inc({ policy: v.policy, rule: v.rule, behavior: v.behavior, mode: v.mode });
      }
    },
  };
}

/** The JSON log of verdicts (one record each). */
export function verdictLogSink(logger: Logger): VerdictSink {
  return {
    name: 'json-log',
    write(verdicts: Verdict[], event: RuntimeEvent) {
      for (const v of verdicts) {
        logger.info(
          {
            policy: v.policy,
            rule: v.rule,
            mode: v.mode,
            resource: v.resource,
            container: v.container,
            behavior: v.behavior,
            eventId: v.eventId,
            eventTime: v.time,
            process: event.process,
            actions: v.actions,
            ...(v.exception ? { result: 'skip', exception: v.exception } : {}),
          },
          v.message,
        );
      }
    },
  };
}
