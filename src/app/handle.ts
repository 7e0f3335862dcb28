/** What both run modes' entry points return: enough for the command line to wait for and stop a run. */
import type { Pipeline } from '../pipeline/index.js';
import type { EventSource } from '../sources/types.js';

export interface AppHandle {
  readonly pipeline: Pipeline;
  /** The started event sources, in the order they were attached. */
  readonly sources: readonly EventSource[];
  /** Resolves when the run's only source ended by itself (stdin EOF); never for live sources. */
  readonly ended: Promise<void>;
  /** Stops the sources, drains the pipeline through every sink, flushes and closes; idempotent. */
  stop(): Promise<void>;
}
