/**
 * Cluster mode (`kyverno-runtime cluster`, what the Helm chart runs) assembled: sources → bounded
 * pipeline → RuntimeEngine → sinks (violation metrics, the cluster agent: PolicyReports, Events,
 * actions), with /healthz, /readyz and /metrics servers. Policies come from the CRDs, or from files
 * through the same policy host as local mode (reloaded on change, same metrics).
 */
import type { KubeConfig } from '@kubernetes/client-node';
import type { ActionExecutorOptions } from '../actions/executor.js';
import { killForVerdict } from '../actions/kill.js';
import { closeHealthServer, startHealthServer } from '../k8s/health-server.js';
import type { Logger } from '../observability/logger.js';
import { createPipeline, type VerdictSink } from '../pipeline/index.js';
import { formatPolicyError } from '../policy/index.js';
import type { ReportFlavor } from '../reports/policyreport/writer.js';
import { ensureKernelBlockLoader, KernelBlocker } from '../sources/kernel-block/index.js';
import type { HttpTlsOptions } from '../sources/http/index.js';
import { BpftraceSensor, type RuntimeSocket } from '../sources/sensor/index.js';
import type { EventSource } from '../sources/types.js';
import { killTrustProblem, SourceTrustError } from '../sources/trust.js';
import { ClusterAgent } from './cluster-agent.js';
import type { AppHandle } from './handle.js';
import { ContextCache } from '../k8s/context-cache.js';
import { PolicySet } from './policy-set.js';
import { violationMetricsSink } from './sinks.js';
import { createSource, type SourceSpec } from './sources.js';
import type { KillTrustableSource } from './kill-trust.js';

type TcpAddress = { host: string; port: number };

export interface ClusterModeOptions {
  kubeConfig: KubeConfig;
  /** daemonset: this node's pods only, actions only on them. deployment: the whole cluster. */
  mode: 'daemonset' | 'deployment';
  nodeName?: string;
  /** Release namespace: Lease and webhook Secrets (Events about Nodes go to `default`). */
  namespace?: string;
  /** Policy files or folders (reloaded when they change) instead of the CRDs. */
  policyFiles?: string[];
  /** PolicyException files (`--exception`, with policyFiles); without policyFiles the CRDs are watched. */
  exceptionFiles?: string[];
  /** Namespaces whose PolicyExceptions apply in every namespace and to Nodes. */
  exceptionNamespaces?: string[];
  /** Rule context entries: cache freshness and per-request timeout of their API server GETs. */
  contextTtlMs?: number;
  contextTimeoutMs?: number;
  reportFlavor?: ReportFlavor;
  /** false: no PolicyReports (violations still raise Events, actions still run). */
  reports?: boolean;
  /** Coalescing interval per PolicyReport (`--report-interval`). */
  reportIntervalMs?: number;
  /** Results kept per PolicyReport (`--report-max-results`). */
  reportMaxResults?: number;
  leaderElection?: boolean;
  dryRun?: boolean;
  /** Action limits and destinations; `kill` is wired here (it needs the host's PIDs). */
  actions?: Partial<Omit<ActionExecutorOptions, 'kubeConfig' | 'lookup' | 'events' | 'reports' | 'kill'>>;
  tetragonFile?: { path: string; statePath?: string; staleAfterMs?: number };
  tetragonGrpc?: string;
  http?: { listen: TcpAddress; tokenFile?: string; maxConnections?: number; tls?: HttpTlsOptions };
  sensor?: boolean;
  /**
   * Container runtime sockets the sensor asks about containers the API server has not listed;
   * undefined = the default sockets present, [] = none (`--container-runtime-socket none`).
   */
  containerRuntimeSockets?: RuntimeSocket[];
  /** Deadline of one container lookup (the longest an event waits for it). */
  containerRuntimeTimeoutMs?: number;
  killTrustedSources?: readonly KillTrustableSource[];
  health: TcpAddress;
  metrics: TcpAddress;
  logger: Logger;
}

export interface ClusterModeHandle extends AppHandle {
  readonly agent: ClusterAgent;
  /** The file policy host with `policyFiles`; absent when policies come from the CRDs. */
  readonly policies?: PolicySet;
}

/** Refuses trust for an input that is not configured or does not authenticate its senders. */
export function checkClusterKillTrust(
  trusted: readonly KillTrustableSource[],
  opts: { tetragonFile?: string; tetragonGrpc?: string; http?: string; httpTokenFile?: string },
): void {
  for (const kind of trusted) {
    const configured =
      kind === 'tetragon-file' ? opts.tetragonFile : kind === 'tetragon-grpc' ? opts.tetragonGrpc : opts.http;
    if (configured === undefined)
      throw new SourceTrustError(
        `--kill-trusted-sources: ${kind} is not enabled (no --${kind === 'http' ? 'http' : kind} given)`,
      );
    const problem = killTrustProblem({
      kind,
      flag: '--kill-trusted-sources',
      file: opts.tetragonFile,
      tetragonTarget: opts.tetragonGrpc,
      listen: opts.http,
      tokenFile: opts.httpTokenFile,
    });
    if (problem !== undefined) throw new SourceTrustError(problem);
  }
}

/** What cluster mode does with verdicts: count them, then report and act (the agent). */
export function clusterModeSinks(agent: VerdictSink): VerdictSink[] {
  return [violationMetricsSink(), agent];
}

/** The inputs the flags enabled, each with whether the operator trusts it for kill. */
function sourceSpecs(
  opts: ClusterModeOptions,
  agent: ClusterAgent,
): { spec: SourceSpec; trusted: boolean }[] {
  const trusted = new Set<string>(opts.killTrustedSources ?? []);
  const specs: { spec: SourceSpec; trusted: boolean }[] = [];
  if (opts.tetragonFile)
    specs.push({
      spec: { kind: 'tetragon-file', format: 'tetragon', ...opts.tetragonFile },
      trusted: trusted.has('tetragon-file'),
    });
  if (opts.tetragonGrpc !== undefined)
    specs.push({
      spec: { kind: 'tetragon-grpc', target: opts.tetragonGrpc },
      trusted: trusted.has('tetragon-grpc'),
    });
  if (opts.http)
    specs.push({
      spec: {
        kind: 'http',
        listen: { kind: 'tcp', ...opts.http.listen },
        ...(opts.http.tokenFile !== undefined && { tokenFile: opts.http.tokenFile }),
        ...(opts.http.maxConnections !== undefined && { maxConnections: opts.http.maxConnections }),
        ...(opts.http.tls !== undefined && { tls: opts.http.tls }),
      },
      trusted: trusted.has('http'),
    });
  // The sensor trusts itself (it reads the kernel); last, so that its hints are the synced engine's.
  if (opts.sensor === true)
    specs.push({
      spec: {
        kind: 'sensor',
        install: false,
        hints: agent.engine.sensorHints,
        ...(opts.nodeName !== undefined && { node: opts.nodeName }),
        ...(opts.containerRuntimeSockets !== undefined && {
          containerRuntimeSockets: opts.containerRuntimeSockets,
        }),
        ...(opts.containerRuntimeTimeoutMs !== undefined && {
          containerRuntimeTimeoutMs: opts.containerRuntimeTimeoutMs,
        }),
        // After the pod cache, never over it: the API server is authoritative.
        clusterPods: agent.attributionPods,
      },
      trusted: false,
    });
  return specs;
}

function hasStaleness(s: EventSource): s is EventSource & { staleFor(): number | undefined } {
  return 'staleFor' in s && typeof s.staleFor === 'function';
}

/** /healthz lines for inputs that went quiet while running (the file tail's stale signal). */
function staleDetails(sources: readonly EventSource[]): string[] {
  const out: string[] = [];
  for (const s of sources) {
    const idle = hasStaleness(s) ? s.staleFor() : undefined;
    if (typeof idle === 'number')
      out.push(`stale: ${s.name}: no new data for ${Math.floor(idle / 60_000)} min`);
  }
  return out;
}

export async function startClusterMode(opts: ClusterModeOptions): Promise<ClusterModeHandle> {
  const { logger } = opts;
  const trustedKinds = opts.killTrustedSources ?? [];
  checkClusterKillTrust(trustedKinds, {
    tetragonFile: opts.tetragonFile?.path,
    tetragonGrpc: opts.tetragonGrpc,
    http: opts.http ? `${opts.http.listen.host}:${opts.http.listen.port}` : undefined,
    httpTokenFile: opts.http?.tokenFile,
  });

  let policies: PolicySet | undefined;
  if (opts.policyFiles) {
    policies = new PolicySet({
      paths: opts.policyFiles,
      nodeName: opts.nodeName,
      logger,
      // The agent builds its engine from the compiled policies (with its pod cache and context).
      retainEngine: false,
      ...(opts.exceptionFiles ? { exceptionPaths: opts.exceptionFiles } : {}),
      ...(opts.exceptionNamespaces ? { exceptionNamespaces: opts.exceptionNamespaces } : {}),
    });
    await policies.load();
    for (const e of policies.lastErrors) logger.error({ error: formatPolicyError(e) }, 'policy rejected');
  }

  let sensor: BpftraceSensor | undefined;
  let blocker: KernelBlocker | undefined;
  const agent: ClusterAgent = new ClusterAgent({
    kubeConfig: opts.kubeConfig,
    mode: opts.mode,
    nodeName: opts.nodeName,
    namespace: opts.namespace,
    policies: policies ? [...policies.compiled] : 'cluster',
    // With policy files, exceptions come from files too (those among them and --exception).
    exceptions: policies ? [...policies.exceptions] : 'cluster',
    ...(opts.exceptionNamespaces ? { exceptionNamespaces: opts.exceptionNamespaces } : {}),
    context: new ContextCache({
      kubeConfig: opts.kubeConfig,
      logger,
      ...(opts.contextTtlMs !== undefined ? { ttlMs: opts.contextTtlMs } : {}),
      ...(opts.contextTimeoutMs !== undefined ? { timeoutMs: opts.contextTimeoutMs } : {}),
    }),
    reportFlavor: opts.reportFlavor,
    reports: opts.reports,
    ...(opts.reportIntervalMs !== undefined && { reportMinIntervalMs: opts.reportIntervalMs }),
    ...(opts.reportMaxResults !== undefined && { reportMaxResults: opts.reportMaxResults }),
    leaderElection: opts.leaderElection,
    dryRun: opts.dryRun,
    actions: {
      ...opts.actions,
      // kill needs the host's PIDs: only with the sensor or a trusted input (hostPID in the chart).
      ...((opts.sensor === true || trustedKinds.length > 0) && {
        kill: killForVerdict({
          dryRun: opts.dryRun,
          protectedPids: () => [
            ...(sensor?.pid !== undefined ? [sensor.pid] : []),
            ...(blocker?.pid !== undefined ? [blocker.pid] : []),
          ],
          ruleTargetsNode: (v): boolean => agent.ruleTargetsNode(v),
        }),
      }),
    },
    onEngine: (engine) => {
      pipeline.setEngine(engine);
      void sensor?.updateHints(engine.sensorHints);
      blocker?.update(engine.kernelBlockRules).catch((err: unknown) => {
        logger.error({ err }, 'block rules not updated in the kernel');
      });
    },
    logger,
  });
  // Engine swaps (onEngine above) come from the policy watchers, which start after this line.
  const pipeline = createPipeline({ engine: agent.engine, sinks: clusterModeSinks(agent), logger });

  const servers: Awaited<ReturnType<typeof startHealthServer>>[] = [];
  const sources: EventSource[] = [];
  const stopAll = async (): Promise<void> => {
    policies?.close();
    await Promise.allSettled(sources.map((s) => s.stop()));
    await pipeline.stop();
    await agent.stop();
    await Promise.all(servers.map((s) => closeHealthServer(s)));
  };
  try {
    const details = (): string[] => staleDetails(sources);
    servers.push(await startHealthServer({ ...opts.health, ready: () => agent.ready, details }));
    if (opts.metrics.port !== opts.health.port)
      servers.push(await startHealthServer({ ...opts.metrics, ready: () => agent.ready, details }));

    await agent.start();
    if (policies) {
      policies.onSwap(({ policies: next, exceptions }) => {
        agent.exceptions.replace(exceptions);
        agent.setPolicies(next);
      });
      policies.watch();
    }
    const drained = (): Promise<void> => pipeline.drain();
    for (const { spec, trusted } of sourceSpecs(opts, agent)) {
      const s = await createSource(spec, { logger, drained });
      if (s instanceof BpftraceSensor) sensor = s;
      sources.push(s);
      await pipeline.attach(s, trusted ? { trustedForKill: true } : undefined);
    }
    // `block` is decided in this node's kernel: a node-local agent (--sensor: host PIDs, BPF rights).
    if (opts.sensor === true && opts.dryRun !== true && agent.engine.kernelBlockRules.length > 0) {
      const loader = await ensureKernelBlockLoader({
        install: false,
        announce: (m) => logger.info(m),
      });
      blocker = new KernelBlocker({
        loader,
        rules: agent.engine.kernelBlockRules,
        ...(opts.nodeName !== undefined && { node: opts.nodeName }),
        logger,
        say: (m) => logger.warn(m),
      });
      sources.push(blocker);
      await pipeline.attach(blocker, { trustedForKill: true });
      logger.info({ rules: blocker.load.loaded }, 'block: cgroup connect program attached');
    }
  } catch (err) {
    // Nothing half-started stays behind: ports closed, sources stopped, the lease released.
    await stopAll().catch(() => undefined);
    throw err;
  }
  if (sources.length === 0)
    logger.warn('no event source: pass --tetragon-file, --tetragon-grpc, --http or --sensor');
  logger.info(
    { mode: opts.mode, node: opts.nodeName, sources: sources.map((s) => s.name) },
    'kyverno-runtime cluster agent running',
  );

  let stopping: Promise<void> | undefined;
  return {
    agent,
    policies,
    pipeline,
    sources,
    // Every cluster input is live: a run ends only when stopped.
    ended: new Promise<void>(() => undefined),
    stop: () => (stopping ??= stopAll()),
  };
}
