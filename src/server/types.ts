import type { PolicySummary } from '../engine/runtime/index.js';
import type { PolicyError } from '../policy/index.js';
import type { SourceStats } from '../sources/types.js';
import type { PoliciesResponse } from './wire.js';

/** Callbacks through which the server reads live state owned by `run`. */
export interface LocalServerProviders {
  /**
   * Loaded policies and the load errors of the current set (file:line:col); `ruleErrors` counts the
   * policy's rules that errored on an event since start (kyverno_runtime_rule_errors_total).
   */
  policies: () => {
    policies: readonly (PolicySummary & { ruleErrors?: number })[];
    errors: readonly PolicyError[];
    kernel?: PoliciesResponse['kernel'];
  };
  sources: () => readonly SourceStats[];
  /** True when sources are running and policies are loaded. */
  ready: () => boolean;
}
