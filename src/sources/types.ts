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

export interface EventSource {
  readonly name: string;
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
