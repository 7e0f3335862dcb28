/**
 * The cluster side assembled: pod/namespace/node cache (attribution), policies from CRDs (hot
 * swapped into the engine), PolicyReports, Kubernetes Events, response actions with their safety
 * limits, and optional Lease-based leader election for cluster-wide writes (policy status).
 *
 * It is a VerdictSink for the pipeline: `write()` folds verdicts into reports synchronously (memory
 * only) and starts their actions without blocking the pipeline; the actions' own limits (dedup,
 * per-policy rate, global API budget) bound the work in flight.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { ActionExecutor, type ActionExecutorOptions } from '../actions/executor.js';
import type { ActionOutcome } from '../contracts/actions.js';
import { createRuntimeEngine, type ContextProvider, type RuntimeEngine } from '../engine/runtime/index.js';
import type { Verdict } from '../contracts/verdict.js';
import type { RuntimeEvent } from '../events/types.js';
import type { Logger } from '../observability/logger.js';
import type { EventOrigin } from '../sources/types.js';
import { nodeTargetingRules, type RuleTargetsNode } from '../actions/node-rules.js';
import type { CompiledPolicy } from '../engine/api/compiled-policy.js';
import { PolicyReportWriter, type ReportFlavor } from '../reports/policyreport/writer.js';
import { emitViolationEvent } from '../reports/violation-events.js';
import { SCORED_ANNOTATION } from '../reports/policyreport/result.js';
import { EventRecorder } from '../k8s/events.js';
import { LeaderElector } from '../k8s/leader.js';
import { PodCache } from '../k8s/pod-cache.js';
import { PolicyWatcher } from '../k8s/policies.js';
import { ExceptionWatcher } from '../k8s/exceptions.js';
import { ParamWatcher } from '../k8s/params.js';
import { ExceptionSet } from '../engine/exceptions/index.js';
import type { CompiledException } from '../engine/api/compiled-exception.js';
import { RuntimePodFallback } from './runtime-pods.js';

export interface ClusterAgentOptions {
  kubeConfig: KubeConfig;
  /** daemonset: this node's pods only, actions only on them. deployment: the whole cluster. */
  mode: 'daemonset' | 'deployment';
  /** Required in daemonset mode (the downward API's spec.nodeName). */
  nodeName?: string;
  /** Release namespace: Lease and webhook Secrets (Events about Nodes go to `default`). */
  namespace?: string;
  /** Watch ClusterRuntimePolicy/RuntimePolicy (default), or use these policies (e.g. from files). */
  policies?: 'cluster' | CompiledPolicy[];
  /** Watch Kyverno's PolicyException CRDs (default), or use these exceptions (e.g. from files). */
  exceptions?: 'cluster' | CompiledException[];
  /** Namespaces whose PolicyExceptions apply in every namespace and to Nodes (Kyverno's --exceptionNamespace). */
  exceptionNamespaces?: readonly string[];
  /** Data for rule context entries (configMap, apiCall, globalReference): the API server, cached. */
  context?: ContextProvider;
  reportFlavor?: ReportFlavor;
  /** Do not write PolicyReports: violations still raise Events, and actions still run. */
  reports?: boolean;
  leaderElection?: boolean;
  identity?: string;
  dryRun?: boolean;
  actions?: Partial<Omit<ActionExecutorOptions, 'kubeConfig' | 'lookup' | 'events' | 'reports'>>;
  reportMinIntervalMs?: number;
  reportMaxResults?: number;
  informer?: {
    relistIntervalMs?: number;
    stallTimeoutMs?: number;
    backoffInitialMs?: number;
    /** Leaderless status writes: random delay bound (default 10 s in daemonset mode without a Lease). */
    statusSpreadMs?: number;
  };
  /** Called after every engine swap (the pipeline's setEngine). */
  onEngine?: (engine: RuntimeEngine) => void;
  logger?: Logger;
}

export class ClusterAgent {
  readonly pods: PodCache;
  /**
   * What attribution reads: the pod cache, then pods the container runtime named for containers the
   * API server has not listed (taught by the sensor's enrichment; empty without it).
   */
  readonly attributionPods: RuntimePodFallback;
  readonly events: EventRecorder;
  readonly reports: PolicyReportWriter | undefined;
  readonly executor: ActionExecutor;
  readonly policyWatcher: PolicyWatcher | undefined;
  readonly exceptionWatcher: ExceptionWatcher | undefined;
  /** The exceptions every engine of this agent consults; replaced in place when they change. */
  readonly exceptions: ExceptionSet;
  /** `params` of RuntimeValidatingPolicy rules: the paramKinds the current policies name, watched. */
  readonly params: ParamWatcher;
  readonly elector: LeaderElector | undefined;
  readonly name = 'kubernetes';
  private engineValue: RuntimeEngine;
  private policyAnnotations = new Map<string, Record<string, string>>();
  private nodeRules: RuleTargetsNode = () => false;
  private readonly inFlight = new Set<Promise<unknown>>();
  private currentPolicies: readonly CompiledPolicy[] = [];
  private started = false;

  constructor(private readonly opts: ClusterAgentOptions) {
    if (opts.mode === 'daemonset' && (opts.nodeName === undefined || opts.nodeName === '')) {
      throw new Error('daemonset mode needs the node name (--node-name, or NODE_NAME from the downward API)');
    }
    const nodeName = opts.mode === 'daemonset' ? opts.nodeName : undefined;
    this.exceptions = new ExceptionSet(Array.isArray(opts.exceptions) ? opts.exceptions : [], {
      clusterWideNamespaces: opts.exceptionNamespaces ?? [],
    });
    this.pods = new PodCache({
      kubeConfig: opts.kubeConfig,
      nodeName,
      logger: opts.logger,
      ...opts.informer,
    });
    this.attributionPods = new RuntimePodFallback(this.pods);
    this.events = new EventRecorder({
      kubeConfig: opts.kubeConfig,
      logger: opts.logger,
      dryRun: opts.dryRun,
    });
    if (opts.reports ?? true) {
      this.reports = new PolicyReportWriter({
        kubeConfig: opts.kubeConfig,
        flavor: opts.reportFlavor,
        // Violation Events are their own sink: one per new report result.
        onNewResult: (v) => emitViolationEvent(this.events, v),
        minIntervalMs: opts.reportMinIntervalMs,
        ...(opts.reportMaxResults !== undefined && { maxResults: opts.reportMaxResults }),
        scored: (key) => this.policyAnnotations.get(key)?.[SCORED_ANNOTATION] !== 'false',
        // Actions first: no report write starts while an action's request is in flight.
        holdBack: () => this.executor.inFlight > 0,
        logger: opts.logger,
      });
    }
    if (opts.leaderElection === true) {
      this.elector = new LeaderElector({
        kubeConfig: opts.kubeConfig,
        namespace: opts.namespace ?? 'default',
        identity: opts.identity,
        logger: opts.logger,
        // Policy status is the leader's job: write it as soon as this replica leads.
        onStartedLeading: () => this.policyWatcher?.writeStatuses(),
      });
    }
    this.executor = new ActionExecutor({
      ...opts.actions,
      kubeConfig: opts.kubeConfig,
      lookup: this.pods,
      events: this.events,
      reports: this.reports,
      nodeName,
      namespace: opts.namespace,
      dryRun: opts.dryRun,
      logger: opts.logger,
      policyAnnotations: (key) => this.policyAnnotations.get(key),
    });
    if ((opts.policies ?? 'cluster') === 'cluster') {
      this.policyWatcher = new PolicyWatcher({
        kubeConfig: opts.kubeConfig,
        onChange: (p) => this.setPolicies(p),
        writeStatus: this.elector ? () => this.elector!.isLeader() : undefined,
        // A DaemonSet has no leader (a Lease polled by every node costs the API server more than
        // a few duplicate writes): spread the writes and let the first one win.
        statusSpreadMs: this.elector === undefined && opts.mode === 'daemonset' ? 10_000 : 0,
        logger: opts.logger,
        ...opts.informer,
      });
    }
    if ((opts.exceptions ?? 'cluster') === 'cluster') {
      this.exceptionWatcher = new ExceptionWatcher({
        kubeConfig: opts.kubeConfig,
        onChange: (e) => this.exceptions.replace(e),
        logger: opts.logger,
        ...opts.informer,
      });
    }
    this.params = new ParamWatcher({ kubeConfig: opts.kubeConfig, logger: opts.logger, ...opts.informer });
    const initial = Array.isArray(opts.policies) ? opts.policies : [];
    this.currentPolicies = initial;
    this.nodeRules = nodeTargetingRules(initial);
    this.engineValue = this.buildEngine(initial);
  }

  /** Whether the verdict's rule matches kind Node (its `kill` may signal host processes). */
  ruleTargetsNode(v: Verdict): boolean {
    return this.nodeRules(v);
  }

  get engine(): RuntimeEngine {
    return this.engineValue;
  }

  /** Caches synced and policies loaded: what /readyz reports. */
  get ready(): boolean {
    return (
      this.pods.synced && (this.policyWatcher?.synced ?? true) && (this.exceptionWatcher?.synced ?? true)
    );
  }

  async start(timeoutMs = 30_000): Promise<void> {
    this.elector?.start();
    this.started = true;
    // Reflectors for paramKinds start in the background: a kind the agent may not list (RBAC) must
    // not keep the agent from starting; until listed, its rules see no parameter.
    this.params.setPolicies(this.currentPolicies);
    await Promise.all([
      this.pods.start(timeoutMs),
      this.policyWatcher?.start(timeoutMs),
      this.exceptionWatcher?.start(timeoutMs),
    ]);
  }

  /** Stops watching, waits for running actions, writes pending reports, releases the lease. */
  async stop(flushTimeoutMs = 10_000): Promise<void> {
    await Promise.allSettled([...this.inFlight]);
    await this.reports
      ?.flush(flushTimeoutMs)
      .catch((err: unknown) => this.opts.logger?.warn({ err }, 'reports not fully flushed'));
    this.reports?.close();
    await Promise.all([
      this.pods.stop(),
      this.policyWatcher?.stop(),
      this.exceptionWatcher?.stop(),
      this.params.stop(),
      this.elector?.stop(),
    ]);
  }

  setPolicies(policies: readonly CompiledPolicy[]): void {
    this.policyAnnotations = new Map(
      policies.map((p) => [p.namespace !== undefined ? `${p.namespace}/${p.name}` : p.name, p.annotations]),
    );
    this.nodeRules = nodeTargetingRules(policies);
    this.currentPolicies = policies;
    if (this.started) this.params.setPolicies(policies);
    this.engineValue = this.buildEngine(policies);
    this.opts.onEngine?.(this.engineValue);
  }

  /** VerdictSink: report now, act in the background. */
  write(verdicts: Verdict[], _event: RuntimeEvent, origin?: EventOrigin): void {
    for (const v of verdicts) void this.handle(v, origin);
  }

  /** Reports a verdict and runs its actions; resolves with the outcomes. `origin`: untrusted when absent. */
  handle(v: Verdict, origin?: EventOrigin): Promise<ActionOutcome[]> {
    // Memory only; the report's Event request waits a macrotask (EventRecorder), so the action's
    // API request below goes out first.
    if (this.reports) this.reports.record(v);
    else {
      // Without reports the violation Event is raised per verdict; the recorder folds repeats.
      emitViolationEvent(this.events, v);
    }
    if (v.mode !== 'Enforce' || v.actions.length === 0) return Promise.resolve([]);
    const p = this.executor.execute(v, origin).catch((err: unknown) => {
      this.opts.logger?.error({ err, policy: v.policy, rule: v.rule }, 'action executor failed');
      return [];
    });
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
    return p;
  }

  /** Evaluates one event with the current engine and handles its verdicts. */
  async handleEvent(
    event: RuntimeEvent,
    origin?: EventOrigin,
  ): Promise<{ verdicts: Verdict[]; outcomes: ActionOutcome[] }> {
    const verdicts = this.engineValue.evaluate(event);
    const outcomes = (await Promise.all(verdicts.map((v) => this.handle(v, origin)))).flat();
    return { verdicts, outcomes };
  }

  private buildEngine(policies: readonly CompiledPolicy[]): RuntimeEngine {
    return createRuntimeEngine(policies, {
      lookup: this.attributionPods,
      nodeName: this.opts.nodeName,
      exceptions: this.exceptions,
      params: this.params,
      ...(this.opts.context ? { context: this.opts.context } : {}),
    });
  }
}
