/** Test fixtures for the pipeline: RuntimeEvents and an evaluator whose cost and verdicts are controlled. */
import type { RuntimeEvent } from '../../../src/events/types.js';
import type { Verdict } from '../../../src/contracts/verdict.js';
import type { Evaluator } from '../../../src/pipeline/index.js';

export function event(i: number, source = 'test'): RuntimeEvent {
  return {
    id: `ev-${i}`,
    time: new Date(1_700_000_000_000 + i).toISOString(),
    source,
    behavior: 'process-exec',
    process: { pid: 1000 + i, binary: '/bin/sh' },
    pod: { namespace: 'default', name: 'p' },
  };
}

export function verdictFor(e: RuntimeEvent, policy = 'deny-shell'): Verdict {
  return {
    policy,
    rule: 'r',
    mode: 'Audit',
    resource: {
      apiVersion: 'v1',
      kind: 'Pod',
      name: e.pod?.name ?? 'x',
      namespace: e.pod?.namespace ?? 'default',
    },
    behavior: e.behavior,
    message: 'shell',
    eventId: e.id,
    time: e.time,
    actions: [],
    event: e,
  };
}

/**
 * An evaluator that flags every event with one verdict named after `policy`, and spins for `costUs`
 * microseconds to model engine cost. It is a stand-in for RuntimeEngine in flow-control tests: the
 * queue semantics under test do not depend on what the policies say.
 */
export function flaggingEvaluator(policy: string, costUs = 0): Evaluator & { seen: string[] } {
  const seen: string[] = [];
  return {
    seen,
    evaluate(e) {
      if (costUs > 0) {
        const end = performance.now() + costUs / 1000;
        while (performance.now() < end) {
          /* busy: engine cost */
        }
      }
      seen.push(e.id);
      return [verdictFor(e, policy)];
    },
  };
}
