import type { PolicySummary } from '../engine/runtime/index.js';
import type { PolicyError } from '../policy/index.js';
import type { SourceStats } from '../sources/types.js';

/** Callbacks through which the server reads live state owned by `run`. */
export interface LocalServerProviders {
  /** Loaded policies and the load errors of the current set (file:line:col). */
  policies: () => { policies: readonly PolicySummary[]; errors: readonly PolicyError[] };
  sources: () => readonly SourceStats[];
  /** True when sources are running and policies are loaded. */
  ready: () => boolean;
}
