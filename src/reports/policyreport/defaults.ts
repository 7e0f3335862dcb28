/**
 * PolicyReport writer defaults, apart from the writer so that `cluster --help` and flag parsing can
 * name them without loading the Kubernetes client the writer needs.
 */

/** Default coalescing interval per report. */
export const DEFAULT_REPORT_INTERVAL_MS = 10_000;
export const DEFAULT_MAX_RESULTS = 1000;
export const DEFAULT_MAX_REPORT_BYTES = 768 * 1024;
