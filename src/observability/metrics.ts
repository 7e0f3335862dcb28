/**
 * One Prometheus registry for the process (not prom-client's global one), and the metrics every
 * stage reports into. Names follow Prometheus conventions: *_total counters, base units in seconds.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { expressionLimitCounts } from '../engine/expression-limits.js';
import { renderTruncations } from '../engine/variables/bounds.js';
import { policyFileRejections } from '../policy/read-file.js';

export const registry = new Registry();
collectDefaultMetrics({ register: registry, prefix: 'kyverno_runtime_process_' });

export const eventsIn = new Counter({
  name: 'kyverno_runtime_events_in_total',
  help: 'Events received, by source.',
  labelNames: ['source'] as const,
  registers: [registry],
});

export const eventsDropped = new Counter({
  name: 'kyverno_runtime_events_dropped_total',
  help: 'Events or input records dropped, by source and reason. Nothing is dropped without a count here.',
  labelNames: ['source', 'reason'] as const,
  registers: [registry],
});

export const eventsTruncated = new Counter({
  name: 'kyverno_runtime_events_truncated_total',
  help:
    'Parts of events the ingest guard did not keep, by reason (raw-too-deep / raw-too-large: the original ' +
    'record was replaced by a marker; string-too-long: one field was cut). The event is still evaluated.',
  labelNames: ['reason'] as const,
  registers: [registry],
});

export const logLinesDropped = new Counter({
  name: 'kyverno_runtime_log_lines_dropped_total',
  help: 'JSON log lines not written because the log buffer was full (the disk or pipe could not keep up).',
  registers: [registry],
});

export const eventsEvaluated = new Counter({
  name: 'kyverno_runtime_events_evaluated_total',
  help: 'Events evaluated by the policy engine.',
  registers: [registry],
});

export const violations = new Counter({
  name: 'kyverno_runtime_violations_total',
  help: 'Violated restrict rules, by policy, rule, behavior and mode.',
  labelNames: ['policy', 'rule', 'behavior', 'mode'] as const,
  registers: [registry],
});

const exceptionsAppliedCounter = new Counter({
  name: 'kyverno_runtime_exceptions_applied_total',
  help: 'Violated rules a PolicyException exempted (result skip, no actions), by policy, rule and exception.',
  labelNames: ['policy', 'rule', 'exception'] as const,
  registers: [registry],
});

export const exceptionsLoaded = new Gauge({
  name: 'kyverno_runtime_exceptions',
  help: 'PolicyExceptions from the cluster, by state (loaded, or rejected with errors).',
  labelNames: ['state'] as const,
  registers: [registry],
});

export const contextFetches = new Counter({
  name: 'kyverno_runtime_context_fetches_total',
  help: 'GETs for rule context entries in cluster mode, by outcome (ok, error, too-large) and cache evictions (evicted).',
  labelNames: ['outcome'] as const,
  registers: [registry],
});

/** Distinct label sets of kyverno_runtime_exceptions_applied_total before new ones fold into `_other`. */
export const MAX_EXCEPTION_SERIES = 1000;
const exceptionSeries = new Set<string>();

/**
 * Counts one exempted verdict. Exceptions may be created by namespace users (cluster mode), so the
 * label sets are bounded: past MAX_EXCEPTION_SERIES distinct ones, new ones count under `_other`.
 */
export function countExceptionApplied(policy: string, rule: string, exception: string): void {
  const key = `${policy}\0${rule}\0${exception}`;
  if (!exceptionSeries.has(key)) {
    if (exceptionSeries.size >= MAX_EXCEPTION_SERIES) {
      exceptionsAppliedCounter.inc({ policy: '_other', rule: '_other', exception: '_other' });
      return;
    }
    exceptionSeries.add(key);
  }
  exceptionsAppliedCounter.inc({ policy, rule, exception });
}

export const ruleErrors = new Counter({
  name: 'kyverno_runtime_rule_errors_total',
  help:
    'Rules that could not be evaluated on an event (Kyverno result "error"), by policy, rule and reason ' +
    '(missing-key, variable, jmespath, cel, other, overflow; see docs/metrics.md).',
  labelNames: ['policy', 'rule', 'reason'] as const,
  registers: [registry],
});

export const actions = new Counter({
  name: 'kyverno_runtime_actions_total',
  help: 'Response actions, by action and outcome.',
  labelNames: ['action', 'outcome'] as const,
  registers: [registry],
});

/** Actions not carried out because a safety check said no (kill: untrusted source, wrong process, protected target). */
export const actionRetries = new Counter({
  name: 'kyverno_runtime_action_retries_total',
  help: 'Actions retried after a transient API failure, by action and HTTP status (0: no answer).',
  labelNames: ['action', 'code'] as const,
  registers: [registry],
});

export const actionRefused = new Counter({
  name: 'kyverno_runtime_action_refused_total',
  help: 'Actions refused by a safety check, by action and reason.',
  labelNames: ['action', 'reason'] as const,
  registers: [registry],
});

export const evaluationSeconds = new Histogram({
  name: 'kyverno_runtime_evaluation_duration_seconds',
  help: 'Time to evaluate one event against the loaded policies.',
  buckets: [0.000005, 0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.005, 0.01],
  registers: [registry],
});

export const queueDepth = new Gauge({
  name: 'kyverno_runtime_queue_depth',
  help: 'Events waiting between ingest and the engine.',
  registers: [registry],
});

export const sensorUp = new Gauge({
  name: 'kyverno_runtime_sensor_up',
  help: '1 while the built-in eBPF sensor is attached and running.',
  registers: [registry],
});

export const sensorUnresolvedPaths = new Counter({
  name: 'kyverno_runtime_sensor_unresolved_paths_total',
  help: 'Opens of a file too deep for the sensor to resolve to the root and no longer open to name it: reported below each watched prefix (fail closed).',
  registers: [registry],
});

export const kernelBlockUp = new Gauge({
  name: 'kyverno_runtime_kernel_block_up',
  help: '1 while the cgroup connect program of `block` rules is attached.',
  registers: [registry],
});

export const kernelBlockRules = new Gauge({
  name: 'kyverno_runtime_kernel_block_rules',
  help: 'Kernel rules the cgroup connect program holds (compiled from `block` rules).',
  registers: [registry],
});

export const kernelBlockDenials = new Counter({
  name: 'kyverno_runtime_kernel_block_denials_total',
  help: 'Connects the cgroup connect program denied and reported.',
  registers: [registry],
});

export const kernelBlockLost = new Counter({
  name: 'kyverno_runtime_kernel_block_lost_total',
  help: 'Denials not reported: the ring buffer was full (`ring-buffer`) or the loader line was unreadable (`malformed`). The connects were still denied.',
  labelNames: ['reason'],
  registers: [registry],
});

export const kernelBlockOverflow = new Counter({
  name: 'kyverno_runtime_kernel_block_overflow_total',
  help: 'Kernel rules left out of the program because a map was full (`rules`, `cidr4`, `cidr6`, `ports`, `ranges`) or their cgroup was not found (`cgroup`).',
  labelNames: ['map'],
  registers: [registry],
});

/** Counted by the sensor when the probe's kill mark arrives: before the queue, so a dropped event still counts. */
export const kernelKills = new Counter({
  name: 'kyverno_runtime_kernel_kills_total',
  help: "Processes the built-in sensor's probes killed with SIGKILL at the syscall, by rule.",
  labelNames: ['policy', 'rule'] as const,
  registers: [registry],
});

export const containerRuntimeLookups = new Counter({
  name: 'kyverno_runtime_container_runtime_lookups_total',
  help:
    'Container metadata lookups the sensor made to a container runtime (CRI or Docker), by runtime and result ' +
    '(found, not-found, timeout, error, too-large, pod-uid-mismatch; see docs/metrics.md).',
  labelNames: ['runtime', 'result'] as const,
  registers: [registry],
});

export const containerRuntimeUnenriched = new Counter({
  name: 'kyverno_runtime_container_runtime_unenriched_total',
  help:
    'Sensor events of a container passed on without runtime metadata because the bound on held events or ' +
    'concurrent lookups was reached (reason hold-full), or the lookup found nothing usable (reason lookup-failed).',
  labelNames: ['reason'] as const,
  registers: [registry],
});

export const containerRuntimePodFallback = new Counter({
  name: 'kyverno_runtime_container_runtime_pod_fallback_total',
  help:
    'Cluster agent: events attributed to a Pod named by the container runtime because the API server (the pod ' +
    'cache) did not list it yet, and pods learnt from the runtime for that (result attributed, learnt).',
  labelNames: ['result'] as const,
  registers: [registry],
});

export const policiesLoaded = new Gauge({
  name: 'kyverno_runtime_policies_loaded',
  help: 'Policies compiled and active.',
  registers: [registry],
});

export const policyErrors = new Gauge({
  name: 'kyverno_runtime_policy_errors',
  help: 'Policy documents rejected at load time.',
  registers: [registry],
});

export const policyReloads = new Counter({
  name: 'kyverno_runtime_policy_reloads_total',
  help: 'Policy reloads after a policy file changed, by result (applied, rejected, unchanged).',
  labelNames: ['result'] as const,
  registers: [registry],
});

export const processingLagSeconds = new Histogram({
  name: 'kyverno_runtime_processing_lag_seconds',
  help: 'Time an event waited in the ingest queue before the engine took it (processing lag).',
  buckets: [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10],
  registers: [registry],
});

export const queueCapacity = new Gauge({
  name: 'kyverno_runtime_queue_capacity',
  help: 'Configured size of the bounded ingest queue.',
  registers: [registry],
});

export const ingestBlockedWaiters = new Gauge({
  name: 'kyverno_runtime_ingest_blocked_readers',
  help: 'Readers (files, gRPC, stdin, TCP) currently waiting for room in the full queue (backpressure).',
  registers: [registry],
});

export const ingestConnections = new Gauge({
  name: 'kyverno_runtime_ingest_connections',
  help: 'Client connections currently open on a network event input (HTTP receiver, NDJSON TCP), by source.',
  labelNames: ['source'] as const,
  registers: [registry],
});

export const ingestConnectionsClosed = new Counter({
  name: 'kyverno_runtime_ingest_connections_closed_total',
  help: 'Connections a network event input refused or cut, by source and reason (too-many-connections, unauthorized, auth-timeout, request-timeout, idle-timeout, bad-request, shutdown).',
  labelNames: ['source', 'reason'] as const,
  registers: [registry],
});

export const sourceReconnects = new Counter({
  name: 'kyverno_runtime_source_reconnects_total',
  help: 'Re-subscriptions of a streaming input (Tetragon gRPC) after its stream ended or failed, by source.',
  labelNames: ['source'] as const,
  registers: [registry],
});

export const sinkErrors = new Counter({
  name: 'kyverno_runtime_sink_errors_total',
  help: 'Verdict sink writes that threw or rejected, by sink.',
  labelNames: ['sink'] as const,
  registers: [registry],
});

export const renderTruncated = new Counter({
  name: 'kyverno_runtime_render_truncated_total',
  help:
    'Rendered rule messages (kind "message") and action payload strings (kind "action") cut at their ' +
    'size cap because event data made them too long.',
  labelNames: ['kind'] as const,
  registers: [registry],
  // The engine counts cuts without depending on this registry; the totals are read at scrape time.
  collect() {
    const counts = renderTruncations();
    this.reset();
    for (const kind of ['message', 'action'] as const) this.inc({ kind }, counts[kind]);
  },
});

export const expressionLimits = new Counter({
  name: 'kyverno_runtime_expression_limit_total',
  help:
    'Expression function calls refused at a bound, by function (json.unmarshal, yaml.parse, base64.decode, ' +
    'format, random, x509_decode, …) and limit (input-size, depth, output-size). The rule reports error.',
  labelNames: ['function', 'limit'] as const,
  registers: [registry],
  // The engine counts refusals without depending on this registry; the totals are read at scrape time.
  collect() {
    this.reset();
    for (const [key, n] of expressionLimitCounts()) {
      const [fn, limit] = key.split('|') as [string, string];
      this.inc({ function: fn, limit }, n);
    }
  },
});

// ---- cluster side -------------------------------------------------------------------------

export const k8sWatchEvents = new Counter({
  name: 'kyverno_runtime_k8s_watch_events_total',
  help: 'Watch events received from the API server, by resource and type (ADDED, MODIFIED, DELETED, BOOKMARK, ERROR).',
  labelNames: ['resource', 'type'] as const,
  registers: [registry],
});

export const k8sWatchRestarts = new Counter({
  name: 'kyverno_runtime_k8s_watch_restarts_total',
  help: 'Informer watch restarts, by resource and reason (closed, error, gone, stalled, relist).',
  labelNames: ['resource', 'reason'] as const,
  registers: [registry],
});

export const k8sInformerSynced = new Gauge({
  name: 'kyverno_runtime_k8s_informer_synced',
  help: '1 once an informer has listed its resource and is watching; 0 while it is recovering.',
  labelNames: ['resource'] as const,
  registers: [registry],
});

export const paramObjectsDropped = new Counter({
  name: 'kyverno_runtime_param_objects_dropped_total',
  help: 'Parameter objects (paramKind) not cached because the per-kind limit was reached.',
  labelNames: ['kind'] as const,
  registers: [registry],
});

export const paramKindsWatched = new Gauge({
  name: 'kyverno_runtime_param_kinds_watched',
  help: 'paramKinds named by loaded policies that are being watched on the API server.',
  registers: [registry],
});

export const paramWatches = new Gauge({
  name: 'kyverno_runtime_param_watches',
  help: 'List/watch streams open for parameter objects (one per distinct paramRef scope).',
  registers: [registry],
});

export const k8sApiRequests = new Counter({
  name: 'kyverno_runtime_k8s_api_requests_total',
  help: 'Write requests sent to the API server by the cluster side, by purpose and outcome.',
  labelNames: ['purpose', 'outcome'] as const,
  registers: [registry],
});

export const k8sRequestResends = new Counter({
  name: 'kyverno_runtime_k8s_request_resends_total',
  help: 'Idempotent API requests sent a second time because a reused keep-alive connection was closed under them, by method.',
  labelNames: ['method'] as const,
  registers: [registry],
});

export const reportWrites = new Counter({
  name: 'kyverno_runtime_report_writes_total',
  help: 'PolicyReport writes, by outcome (created, updated, conflict, failed, deleted; unchanged: a due write skipped because the report would not change).',
  labelNames: ['outcome'] as const,
  registers: [registry],
});

export const reportPending = new Gauge({
  name: 'kyverno_runtime_report_pending',
  help: 'Reports with results waiting to be written (buffered while the API server is slow or unreachable).',
  registers: [registry],
});

export const reportResultsDropped = new Counter({
  name: 'kyverno_runtime_report_results_dropped_total',
  help: 'Report results not written, by reason (buffer-full, no-uid, rejected, result-limit, size-limit).',
  labelNames: ['reason'] as const,
  registers: [registry],
});

export const leaderStatus = new Gauge({
  name: 'kyverno_runtime_leader',
  help: '1 while this replica holds the leader Lease.',
  registers: [registry],
});

export const fileTailResumes = new Counter({
  name: 'kyverno_runtime_file_tail_resumes_total',
  help:
    'File tail starts, by how the saved position was used: resumed, rotated (rotated file finished first), ' +
    'rotated-missing, reused-inode, truncated, fresh (no saved state).',
  labelNames: ['outcome'] as const,
  registers: [registry],
});

export const sourceStale = new Gauge({
  name: 'kyverno_runtime_source_stale',
  help:
    '1 while a running input has delivered no new data for longer than its stale limit (file tail: ' +
    '--source-stale-after), else 0.',
  labelNames: ['source'] as const,
  registers: [registry],
});

export const sourceStaleEpisodes = new Counter({
  name: 'kyverno_runtime_source_stale_total',
  help: 'Times a running input went stale (no new data for longer than its stale limit).',
  labelNames: ['source'] as const,
  registers: [registry],
});

export const policyFilesRejected = new Counter({
  name: 'kyverno_runtime_policy_files_rejected_total',
  help: 'Policy paths refused before parsing, by reason (not-regular-file, too-large).',
  labelNames: ['reason'] as const,
  registers: [registry],
  // The policy loader counts without depending on this registry; the totals are read at scrape time.
  collect() {
    const counts = policyFileRejections();
    this.reset();
    for (const reason of ['not-regular-file', 'too-large'] as const) this.inc({ reason }, counts[reason]);
  },
});

export const webhookRefused = new Counter({
  name: 'kyverno_runtime_webhook_refused_total',
  help:
    'Webhook actions refused before sending, by reason (destination-not-allowed, cross-namespace-secret, ' +
    'insecure-scheme, invalid-url).',
  labelNames: ['reason'] as const,
  registers: [registry],
});
