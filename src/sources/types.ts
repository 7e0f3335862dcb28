import type { RuntimeEvent } from '../events/types.js';

/** Status of one input, shown on /api/sources and the dashboard. */
export interface SourceStats {
  name: string;
  kind: string;
  status: 'starting' | 'running' | 'degraded' | 'stopped' | 'failed';
  eventsIn: number;
  dropped: Record<string, number>;
  lastError?: string;
}

/**
 * An input of events. `emit` returns a promise when the pipeline wants the reader to wait
 * (backpressure for inputs that can wait: files, gRPC); readers that cannot wait count a drop.
 */
export type EmitFn = (event: RuntimeEvent) => void | Promise<void>;

/**
 * The input an event arrived on, as the pipeline knows it: fixed when the input is attached, never
 * read from the event (whoever writes to an input chooses every field of its events).
 */
export interface EventOrigin {
  /** The input's name (metric label). */
  readonly source: string;
  /** The operator trusts this input to name host processes: the `kill` action may act on its events. */
  readonly trustedForKill: boolean;
}

export interface EventSource {
  readonly name: string;
  /**
   * True for an input that observes host processes first-hand (the built-in sensor): its events may
   * drive `kill` without the operator marking it trusted.
   */
  readonly trustedForKill?: boolean;
  /**
   * True when the input can wait (files, gRPC, stdin, TCP): the pipeline then blocks the reader when
   * the queue is full instead of dropping. False or absent: the pipeline drops and counts
   * ("queue-full"). See docs/sources.md "Backpressure".
   */
  readonly canWait?: boolean;
  start(emit: EmitFn): Promise<void>;
  stop(): Promise<void>;
  stats(): SourceStats;
}
