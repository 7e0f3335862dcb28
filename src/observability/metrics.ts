/**
 * One Prometheus registry for the process (not prom-client's global one), and the metrics every
 * stage reports into. Names follow Prometheus conventions: *_total counters, base units in seconds.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

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

export const actions = new Counter({
  name: 'kyverno_runtime_actions_total',
  help: 'Response actions, by action and outcome.',
  labelNames: ['action', 'outcome'] as const,
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
