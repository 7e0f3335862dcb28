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
import { boundRaw } from '../events/adapters/guard.js';
import type { RuntimeEngine } from '../engine/runtime/index.js';
import type { Verdict } from '../contracts/verdict.js';
import type { Logger } from '../observability/logger.js';
import {
  eventsDropped,
  eventsEvaluated,
  eventsIn,
  eventsTruncated,
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

/** The pipeline's mutable state, shared by the steps below. */
interface PipelineState {
  readonly capacity: number;
  readonly batchSize: number;
  readonly sinks: readonly VerdictSink[];
  readonly log: Logger | undefined;
  readonly ruleErrors: RuleErrorReporter;
  readonly queue: BoundedQueue<Queued>;
  engine: Evaluator;
  accepting: boolean;
  running: boolean;
  inFlight: number;
  readonly idleWaiters: (() => void)[];
  readonly counts: { submitted: number; evaluated: number; verdicts: number; sinkErrors: number };
  readonly dropped: Record<string, number>;
  /** One frozen origin per (input, trust): no allocation per event, and no sink can alter it. */
  readonly origins: Map<string, EventOrigin>;
}

export function createPipeline(options: PipelineOptions): Pipeline {
  const capacity = options.queueSize ?? 10_000;
  const log = options.logger;
  const state: PipelineState = {
    capacity,
    batchSize: Math.max(1, options.batchSize ?? 64),
    sinks: options.sinks ?? [],
    log,
    ruleErrors: options.ruleErrors ?? new RuleErrorReporter({ logger: log }),
    queue: new BoundedQueue<Queued>(capacity),
    engine: options.engine,
    accepting: true,
    running: true,
    inFlight: 0,
    idleWaiters: [],
    counts: { submitted: 0, evaluated: 0, verdicts: 0, sinkErrors: 0 },
    dropped: {},
    origins: new Map(),
  };
  queueCapacity.set(capacity);
  const worker = work(state);

  return {
    submit(event, opts) {
      const origin = originOf(state, opts.source ?? 'unknown', opts.trustedForKill === true);
      return enqueue(state, event, origin, opts.canWait);
    },
    emitter(source, canWait, trustedForKill = false) {
      const origin = originOf(state, source, trustedForKill);
      return (event) => enqueue(state, event, origin, canWait);
    },
    attach(source, attachOptions) {
      const origin = originOf(
        state,
        source.name,
        attachOptions?.trustedForKill ?? source.trustedForKill === true,
      );
      const canWait = source.canWait ?? false;
      return source.start((event) => enqueue(state, event, origin, canWait));
    },
    setEngine(next) {
      state.engine = next;
    },
    drain: () => drain(state),
    async stop() {
      state.accepting = false;
      await drain(state);
      state.running = false;
      state.queue.interrupt();
      await worker;
      state.ruleErrors.flush();
    },
    stats() {
      return {
        queued: state.queue.size,
        capacity,
        blockedReaders: state.queue.waiting,
        ...state.counts,
        dropped: { ...state.dropped },
        ruleErrors: state.ruleErrors.total,
      };
    },
    ruleErrors: state.ruleErrors,
  };
}

function drop(state: PipelineState, source: string, reason: string): void {
  state.dropped[reason] = (state.dropped[reason] ?? 0) + 1;
  eventsDropped.inc({ source, reason });
}

function isIdle(state: PipelineState): boolean {
  return state.queue.size === 0 && state.queue.waiting === 0 && state.inFlight === 0;
}

function notifyIdle(state: PipelineState): void {
  if (!isIdle(state)) return;
  for (const w of state.idleWaiters.splice(0)) w();
}

function drain(state: PipelineState): Promise<void> {
  if (isIdle(state)) return Promise.resolve();
  return new Promise<void>((resolve) => state.idleWaiters.push(resolve));
}

function originOf(state: PipelineState, source: string, trustedForKill: boolean): EventOrigin {
  const key = `${trustedForKill ? '1' : '0'}${source}`;
  let o = state.origins.get(key);
  if (o === undefined) {
    o = Object.freeze({ source, trustedForKill });
    state.origins.set(key, o);
  }
  return o;
}

/** Queues one event: a waiting input gets a promise when full, any other has the event dropped. */
function enqueue(
  state: PipelineState,
  event: RuntimeEvent,
  origin: EventOrigin,
  canWait: boolean,
): void | Promise<void> {
  const source = origin.source;
  eventsIn.inc({ source });
  state.counts.submitted++;
  if (!state.accepting) {
    drop(state, source, PIPELINE_DROP_REASONS.shuttingDown);
    return;
  }
  const item: Queued = { event, origin, at: performance.now() };
  if (canWait) {
    const wait = state.queue.put(item);
    queueDepth.set(state.queue.size);
    if (wait) {
      ingestBlockedWaiters.set(state.queue.waiting);
      return wait;
    }
    return;
  }
  if (!state.queue.offer(item)) {
    drop(state, source, PIPELINE_DROP_REASONS.queueFull);
    return;
  }
  queueDepth.set(state.queue.size);
}

/** The worker loop: batches off the queue, evaluated, written, then a yield to the event loop. */
async function work(state: PipelineState): Promise<void> {
  while (state.running) {
    if (state.queue.size === 0) {
      notifyIdle(state);
      await state.queue.whenNotEmpty();
      continue;
    }
    const batch = state.queue.take(state.batchSize);
    state.inFlight = batch.length;
    queueDepth.set(state.queue.size);
    ingestBlockedWaiters.set(state.queue.waiting);
    const pending: Promise<void>[] = [];
    const current = state.engine; // one engine per batch: a reload lands between batches
    for (const item of batch) evaluateOne(state, current, item, pending);
    // Async sinks apply backpressure per batch, not per event.
    if (pending.length > 0) await Promise.all(pending);
    state.inFlight = 0;
    // Yield so I/O callbacks run between batches (setImmediate runs after the poll phase).
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  notifyIdle(state);
}

/** Evaluates one event and hands its verdicts to the sinks (async writes join `pending`). */
function evaluateOne(state: PipelineState, current: Evaluator, item: Queued, pending: Promise<void>[]): void {
  const start = performance.now();
  processingLagSeconds.observe((start - item.at) / 1000);
  let verdicts: Verdict[];
  try {
    verdicts = current.evaluate(item.event);
  } catch (err) {
    drop(state, item.origin.source, PIPELINE_DROP_REASONS.evaluationError);
    state.log?.error({ err, eventId: item.event.id, source: item.origin.source }, 'engine failed on event');
    return;
  } finally {
    // Per event, not per batch: the engine keeps only the last 100 errors in detail.
    if (hasRuleErrors(current)) drainRuleErrors(state, current);
  }
  evaluationSeconds.observe((performance.now() - start) / 1000);
  eventsEvaluated.inc();
  state.counts.evaluated++;
  if (verdicts.length > 0) {
    state.counts.verdicts += verdicts.length;
    // The event is kept from here on (stored, logged, streamed): its `raw` is bounded before any sink.
    const cut = boundRaw(item.event);
    if (cut !== undefined) eventsTruncated.inc({ reason: cut });
    writeSinks(state, verdicts, item.event, item.origin, pending);
  }
}

function writeSinks(
  state: PipelineState,
  verdicts: Verdict[],
  event: RuntimeEvent,
  origin: EventOrigin,
  pending: Promise<void>[],
): void {
  for (const sink of state.sinks) {
    try {
      const r = sink.write(verdicts, event, origin);
      if (r) {
        pending.push(
          r.catch((err: unknown) => {
            sinkFailed(state, sink, err);
          }),
        );
      }
    } catch (err) {
      sinkFailed(state, sink, err);
    }
  }
}

/** Reporting must never end the worker loop: a failure here is logged, the event goes on. */
function drainRuleErrors(state: PipelineState, source: RuleErrorSource): void {
  try {
    state.ruleErrors.drain(source);
  } catch (err) {
    state.log?.error({ err }, 'rule error reporting failed');
  }
}

function sinkFailed(state: PipelineState, sink: VerdictSink, err: unknown): void {
  state.counts.sinkErrors++;
  sinkErrors.inc({ sink: sink.name ?? 'unnamed' });
  state.log?.error({ err, sink: sink.name }, 'verdict sink failed');
}

function hasRuleErrors(evaluator: Evaluator): evaluator is Evaluator & RuleErrorSource {
  return evaluator.takeRuleErrors !== undefined;
}
