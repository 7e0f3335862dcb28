/**
 * source → bounded queue → engine → sinks. One worker loop takes small batches from the queue,
 * evaluates each event, fans verdicts out to the sinks, and yields to the event loop between batches
 * so sockets, timers and the HTTP API stay responsive under load.
 *
 * Flow control (docs/sources.md "Backpressure"): inputs that can wait (files, gRPC, stdin, TCP) get a
 * promise back when the queue is full and must await it before reading more; inputs that cannot wait
 * (HTTP) have the event dropped and counted with reason "queue-full". Nothing leaves without a count.
 *
 * Rule errors (a rule that could not be evaluated on an event: Kyverno's `error` result) are drained
 * from the engine after every event and handed to a RuleErrorReporter (metric, rate-limited log,
 * per-policy totals), so a broken condition is visible instead of silently never matching.
 */
import type { RuntimeEvent } from '../events/types.js';
import type { RuntimeEngine } from '../engine/runtime/index.js';
import type { Verdict } from '../contracts/verdict.js';
import type { Logger } from '../observability/logger.js';
import {
  eventsDropped,
  eventsEvaluated,
  eventsIn,
  evaluationSeconds,
  ingestBlockedWaiters,
  processingLagSeconds,
  queueCapacity,
  queueDepth,
  sinkErrors,
} from '../observability/metrics.js';
import type { EmitFn, EventOrigin, EventSource } from '../sources/types.js';
import { BoundedQueue } from './bounded-queue.js';
import { RuleErrorReporter, type RuleErrorSource } from './rule-errors.js';

/** Where verdicts go (report store, PolicyReports, actions, SSE…). Should be quick; slow work belongs in the sink's own queue. */
export interface VerdictSink {
  readonly name?: string;
  /** `origin` is the input the event arrived on (the action sinks decide on its trust, never on the event's fields). */
  write(verdicts: Verdict[], event: RuntimeEvent, origin: EventOrigin): void | Promise<void>;
}

/**
 * The engine surface the pipeline needs (RuntimeEngine satisfies it). `takeRuleErrors` stays optional
 * so that a bare evaluator (test doubles, the receiver-only ingest bench) can drive the pipeline; when
 * present, the pipeline drains rule errors after each event.
 */
export type Evaluator = Pick<RuntimeEngine, 'evaluate'> & Partial<RuleErrorSource>;

export interface PipelineOptions {
  engine: Evaluator;
  sinks?: VerdictSink[];
  /** Maximum events waiting between ingest and the engine. Default 10 000. */
  queueSize?: number;
  /** Events evaluated before yielding to the event loop. Default 64. */
  batchSize?: number;
  logger?: Logger;
  /** Where rule errors go. Default: a RuleErrorReporter logging to `logger`, one line per rule per minute. */
  ruleErrors?: RuleErrorReporter;
}

export interface SubmitOptions {
  /** Source name, used as the metric label. Default "unknown". */
  source?: string;
  /** True when the caller can wait for room (files, gRPC, stdin, TCP); false drops when full. */
  canWait: boolean;
  /** The operator trusts this input to name host processes (`kill`). Default false. */
  trustedForKill?: boolean;
}

export interface AttachOptions {
  /** Trust the input to name host processes (`kill`). Default: the source's own `trustedForKill` (the sensor). */
  trustedForKill?: boolean;
}

/** Drop reasons counted by the pipeline itself (sources add their own parse reasons). */
export const PIPELINE_DROP_REASONS = {
  queueFull: 'queue-full',
  shuttingDown: 'shutting-down',
  evaluationError: 'evaluation-error',
} as const;

export interface PipelineStats {
  queued: number;
  capacity: number;
  blockedReaders: number;
  submitted: number;
  evaluated: number;
  verdicts: number;
  dropped: Record<string, number>;
  sinkErrors: number;
  /** Rules that errored on an event since start (kyverno_runtime_rule_errors_total summed). */
  ruleErrors: number;
}

export interface Pipeline {
  /** Queue one event. Returns a promise only when `canWait` and the queue is full. */
  submit(event: RuntimeEvent, options: SubmitOptions): void | Promise<void>;
  /** An EmitFn bound to one source, for `EventSource.start`. */
  emitter(source: string, canWait: boolean, trustedForKill?: boolean): EmitFn;
  /** Start a source with an emitter that honours its `canWait` and carries its trust to the sinks. */
  attach(source: EventSource, options?: AttachOptions): Promise<void>;
  /** Swap the engine (policy reload). Takes effect at the next event; no event sees a half-loaded set. */
  setEngine(engine: Evaluator): void;
  /** Resolves once everything queued so far (and parked readers) has been evaluated and written. */
  drain(): Promise<void>;
  /** Stop accepting (later submits are dropped as "shutting-down"), drain, then end the worker. */
  stop(): Promise<void>;
  stats(): PipelineStats;
  /** The rule-error reporter (per-policy counts for the API). */
  readonly ruleErrors: RuleErrorReporter;
}

interface Queued {
  event: RuntimeEvent;
  origin: EventOrigin;
  /** performance.now() at enqueue, for processing lag. */
  at: number;
}

export function createPipeline(options: PipelineOptions): Pipeline {
  const capacity = options.queueSize ?? 10_000;
  const batchSize = Math.max(1, options.batchSize ?? 64);
  const sinks = options.sinks ?? [];
  const log = options.logger;
  const ruleErrors = options.ruleErrors ?? new RuleErrorReporter({ logger: log });
  const queue = new BoundedQueue<Queued>(capacity);
  let engine = options.engine;
  let accepting = true;
  let running = true;
  let inFlight = 0;
  const idleWaiters: (() => void)[] = [];
  const counts = { submitted: 0, evaluated: 0, verdicts: 0, sinkErrors: 0 };
  const dropped: Record<string, number> = {};

  queueCapacity.set(capacity);

  function drop(source: string, reason: string): void {
    dropped[reason] = (dropped[reason] ?? 0) + 1;
    eventsDropped.inc({ source, reason });
  }

  function isIdle(): boolean {
    return queue.size === 0 && queue.waiting === 0 && inFlight === 0;
  }

  function notifyIdle(): void {
    if (!isIdle()) return;
    for (const w of idleWaiters.splice(0)) w();
  }

  // One frozen origin per (input, trust): no allocation per event, and no sink can alter it.
  const origins = new Map<string, EventOrigin>();
  function originOf(source: string, trustedForKill: boolean): EventOrigin {
    const key = `${trustedForKill ? '1' : '0'}${source}`;
    let o = origins.get(key);
    if (o === undefined) {
      o = Object.freeze({ source, trustedForKill });
      origins.set(key, o);
    }
    return o;
  }

  function submit(event: RuntimeEvent, opts: SubmitOptions): void | Promise<void> {
    return enqueue(event, originOf(opts.source ?? 'unknown', opts.trustedForKill === true), opts.canWait);
  }

  function enqueue(event: RuntimeEvent, origin: EventOrigin, canWait: boolean): void | Promise<void> {
    const source = origin.source;
    eventsIn.inc({ source });
    counts.submitted++;
    if (!accepting) {
      drop(source, PIPELINE_DROP_REASONS.shuttingDown);
      return;
    }
    const item: Queued = { event, origin, at: performance.now() };
    if (canWait) {
      const wait = queue.put(item);
      queueDepth.set(queue.size);
      if (wait) {
        ingestBlockedWaiters.set(queue.waiting);
        return wait;
      }
      return;
    }
    if (!queue.offer(item)) {
      drop(source, PIPELINE_DROP_REASONS.queueFull);
      return;
    }
    queueDepth.set(queue.size);
  }

  function writeSinks(
    verdicts: Verdict[],
    event: RuntimeEvent,
    origin: EventOrigin,
    pending: Promise<void>[],
  ): void {
    for (const sink of sinks) {
      try {
        const r = sink.write(verdicts, event, origin);
        if (r) {
          pending.push(
            r.catch((err: unknown) => {
              sinkFailed(sink, err);
            }),
          );
        }
      } catch (err) {
        sinkFailed(sink, err);
      }
    }
  }

  /** Reporting must never end the worker loop: a failure here is logged, the event goes on. */
  function drainRuleErrors(source: RuleErrorSource): void {
    try {
      ruleErrors.drain(source);
    } catch (err) {
      log?.error({ err }, 'rule error reporting failed');
    }
  }

  function sinkFailed(sink: VerdictSink, err: unknown): void {
    counts.sinkErrors++;
    sinkErrors.inc({ sink: sink.name ?? 'unnamed' });
    log?.error({ err, sink: sink.name }, 'verdict sink failed');
  }

  async function work(): Promise<void> {
    while (running) {
      if (queue.size === 0) {
        notifyIdle();
        await queue.whenNotEmpty();
        continue;
      }
      const batch = queue.take(batchSize);
      inFlight = batch.length;
      queueDepth.set(queue.size);
      ingestBlockedWaiters.set(queue.waiting);
      const pending: Promise<void>[] = [];
      const current = engine; // one engine per batch: a reload lands between batches
      for (const item of batch) {
        const start = performance.now();
        processingLagSeconds.observe((start - item.at) / 1000);
        let verdicts: Verdict[];
        try {
          verdicts = current.evaluate(item.event);
        } catch (err) {
          drop(item.origin.source, PIPELINE_DROP_REASONS.evaluationError);
          log?.error({ err, eventId: item.event.id, source: item.origin.source }, 'engine failed on event');
          continue;
        } finally {
          // Per event, not per batch: the engine keeps only the last 100 errors in detail.
          if (hasRuleErrors(current)) drainRuleErrors(current);
        }
        evaluationSeconds.observe((performance.now() - start) / 1000);
        eventsEvaluated.inc();
        counts.evaluated++;
        if (verdicts.length > 0) {
          counts.verdicts += verdicts.length;
          writeSinks(verdicts, item.event, item.origin, pending);
        }
      }
      // Async sinks apply backpressure per batch, not per event.
      if (pending.length > 0) await Promise.all(pending);
      inFlight = 0;
      // Yield so I/O callbacks run between batches (setImmediate runs after the poll phase).
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    notifyIdle();
  }

  const worker = work();

  function drain(): Promise<void> {
    if (isIdle()) return Promise.resolve();
    return new Promise<void>((resolve) => idleWaiters.push(resolve));
  }

  return {
    submit,
    emitter(source, canWait, trustedForKill = false) {
      const origin = originOf(source, trustedForKill);
      return (event) => enqueue(event, origin, canWait);
    },
    attach(source, attachOptions) {
      const origin = originOf(source.name, attachOptions?.trustedForKill ?? source.trustedForKill === true);
      const canWait = source.canWait ?? false;
      return source.start((event) => enqueue(event, origin, canWait));
    },
    setEngine(next) {
      engine = next;
    },
    drain,
    async stop() {
      accepting = false;
      await drain();
      running = false;
      queue.interrupt();
      await worker;
      ruleErrors.flush();
    },
    stats() {
      return {
        queued: queue.size,
        capacity,
        blockedReaders: queue.waiting,
        ...counts,
        dropped: { ...dropped },
        ruleErrors: ruleErrors.total,
      };
    },
    ruleErrors,
  };
}

function hasRuleErrors(evaluator: Evaluator): evaluator is Evaluator & RuleErrorSource {
  return evaluator.takeRuleErrors !== undefined;
}
