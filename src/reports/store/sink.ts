/**
 * Wiring helpers for `run`: the store as a pipeline VerdictSink, and a sampler that feeds the
 * timeline's "events evaluated" from the engine's counter (the pipeline only hands sinks the events
 * that produced verdicts, so the evaluated count comes from the metric instead).
 */
import type { RuntimeEvent } from '../../events/types.js';
import type { Verdict } from '../../contracts/verdict.js';
import { eventsEvaluated } from '../../observability/metrics.js';
import type { ReportStore } from './store.js';

export function createStoreSink(store: ReportStore): {
  readonly name: string;
  write(verdicts: Verdict[], event: RuntimeEvent): void;
} {
  return {
    name: 'store',
    write(verdicts, event) {
      store.recordVerdicts(verdicts, event);
    },
  };
}

async function evaluatedSoFar(): Promise<number> {
  const m = await eventsEvaluated.get();
  return m.values.reduce((sum, v) => sum + v.value, 0);
}

/**
 * Every `intervalMs` (default 5 s), adds the growth of kyverno_runtime_events_evaluated_total to the
 * store's timeline. Returns a stop function that records the final delta.
 */
export function sampleEvaluatedIntoTimeline(store: ReportStore, intervalMs = 5000): () => Promise<void> {
  let last: number | undefined;
  // Ticks are chained so two readings never both count the same growth.
  let chain: Promise<void> = Promise.resolve();
  const tick = (): Promise<void> =>
    (chain = chain.then(async () => {
      const now = await evaluatedSoFar();
      if (last !== undefined && now > last) store.recordEvaluated(now - last);
      last = now;
    }));
  void tick();
  const timer = setInterval(() => void tick(), intervalMs);
  timer.unref();
  return async () => {
    clearInterval(timer);
    await tick();
  };
}
