/**
 * Local mode (`kyverno-runtime run`) assembled: source → bounded queue/pipeline → RuntimeEngine →
 * sinks (terminal, SQLite store, violation metrics, JSON log, live stream, local action runner).
 * Returns a handle whose `stop()` drains, flushes, detaches the sensor's probes and closes
 * everything, in that order.
 */
import type { ActionOutcome } from '../contracts/actions.js';
import { LocalActionRunner } from '../actions/local-runner.js';
import type { RuntimeEvent } from '../events/types.js';
import type { Verdict } from '../contracts/verdict.js';
import { createLogFile, type Logger } from '../observability/logger.js';
import { createPipeline, RuleErrorReporter, type Pipeline, type VerdictSink } from '../pipeline/index.js';
import {
  createStoreSink,
  openStore,
  sampleEvaluatedIntoTimeline,
  type ReportStore,
} from '../reports/store/index.js';
import { createLocalServer, type LocalServer } from '../server/index.js';
import type { InputFormat } from '../sources/records.js';
import { BpftraceSensor, type RuntimeSocket } from '../sources/sensor/index.js';
import { ensureKernelBlockLoader, KernelBlocker } from '../sources/kernel-block/index.js';
import {
  planEnforcement,
  type EnforcementPlan,
  type PlanEnvironment,
} from '../sources/sensor/kernel-kill.js';
import { detectBpfLsm, type BpfLsmStatus } from '../host/lsm.js';
import type { EventSource } from '../sources/types.js';
import { killTrustProblem, SourceTrustError } from '../sources/trust.js';
import type { RuntimeEngine } from '../engine/runtime/index.js';
import type { PolicySummary, RuleEnforcement } from '../engine/api/runtime.js';
import type { AppHandle } from './handle.js';
import { loadContextFiles } from '../policy/context-file.js';
import { PolicySet } from './policy-set.js';
import { violationMetricsSink, verdictLogSink } from './sinks.js';
import { createSource, isListening, type SourceAddress, type SourceSpec } from './sources.js';

export const SOURCE_KINDS = [
  'sensor',
  'tetragon-file',
  'file',
  'stdin',
  'http',
  'tcp',
  'tetragon-grpc',
] as const;
export type SourceKind = (typeof SOURCE_KINDS)[number];
export const ACTION_MODES = ['policy', 'audit', 'dry-run'] as const;
export type ActionMode = (typeof ACTION_MODES)[number];

export interface LocalModeOptions {
  policies: string[];
  /** PolicyException files or folders (`--exception`), besides those among the policy paths. */
  exceptions?: string[];
  /** Namespaces whose PolicyExceptions apply in every namespace and to Nodes. */
  exceptionNamespaces?: string[];
  /** `--context-file`: data for rule context entries (ConfigMaps, apiCall answers, global entries). */
  contextFiles?: string[];
  source: SourceKind;
  nodeName: string;
  db: string;
  /** Store retention (--store-max-violations, --store-retention); the store's defaults when absent. */
  storeRetention?: { maxViolations: number; maxAgeMs: number };
  /** undefined = no HTTP server. */
  listen?: { host: string; port: number };
  apiToken?: string;
  /** File of API tokens (wins over apiToken). */
  apiTokenFile?: string;
  install: boolean;
  /** How long the built-in sensor waits for bpftrace to attach (the sensor's default when absent). */
  sensorAttachTimeoutMs?: number;
  /** Container runtime sockets for the sensor's container metadata; undefined = defaults that exist, [] = none. */
  containerRuntimeSockets?: RuntimeSocket[];
  /** Deadline of one container metadata lookup (the sensor's default when absent). */
  containerRuntimeTimeoutMs?: number;
  logLevel: string;
  /** "-" = stderr. */
  logFile: string;
  /** JSON log file rotation (--log-max-size, --log-max-files); the logger's defaults when absent. */
  logRotation?: { maxBytes: number; maxFiles: number };
  actionMode: ActionMode;
  /** For file/tetragon-file sources. */
  file?: string;
  /** Where the file tail persists its position; undefined = not persisted (every start at the end). */
  tailState?: string;
  format?: InputFormat;
  /** For http/tcp sources: a TCP address or a unix socket. */
  sourceListen?: SourceAddress;
  /** Authentication and limits of the http/tcp sources (their defaults when absent). */
  sourceAuth?: {
    tokenFile?: string;
    socketMode?: number;
    maxConnections?: number;
    requestTimeoutMs?: number;
    idleTimeoutMs?: number;
  };
  /**
   * Let `kill` act on this source's events (--source-trusted-for-kill). Refused at start unless the
   * source is authenticated (see src/sources/trust.ts). The built-in sensor is trusted regardless.
   */
  sourceTrustedForKill?: boolean;
  tetragonTarget?: string;
  /** Sees every event the source emits and every verdict (the selftest); absent in normal runs. */
  observer?: { event: (event: RuntimeEvent) => void; sink: VerdictSink };
  /** Human-readable progress and errors (stderr). */
  say: (message: string) => void;
  /** Prints verdicts and action outcomes as they happen (the CLI's terminal output); absent = silent. */
  terminal?: VerdictPrinter;
}

/** A sink that also shows the local action runner's outcomes, below the verdict line. */
export interface VerdictPrinter extends VerdictSink {
  outcome(v: Verdict, o: ActionOutcome): void;
}

export interface LocalModeHandle extends AppHandle {
  readonly server?: LocalServer;
  readonly store: ReportStore;
  /** The one source of local mode (also `sources[0]`). */
  readonly source: EventSource;
  readonly policies: PolicySet;
  readonly logger: Logger;
}

function jsonLogger(opts: LocalModeOptions): Logger {
  return createLogFile({
    path: opts.logFile,
    level: opts.logLevel,
    ...(opts.logRotation ?? {}),
  });
}

/**
 * Whether the sensor's probes may kill in the kernel: only for the built-in sensor's own events and
 * only when actions run as the policies say (never under --action-mode audit or dry-run).
 */
export function kernelKillEnvironment(
  source: SourceKind,
  mode: ActionMode,
  lsm?: BpfLsmStatus,
): PlanEnvironment {
  const env: PlanEnvironment = {};
  if (source !== 'sensor') env.kernelKillOff = `events come from --source ${source}, not the built-in sensor`;
  else if (mode !== 'policy') env.kernelKillOff = `--mode ${mode}`;
  if (lsm !== undefined) env.bpfLsm = lsm.available;
  return env;
}

/** One line per restrict rule that asks for kill or block, then the warnings. */
export function enforcementLines(plan: EnforcementPlan): string[] {
  const lines: string[] = [];
  for (const r of plan.rules) {
    const name = `${r.namespace ? `${r.namespace}/` : ''}${r.policy}/${r.rule}`;
    if (r.path !== 'report-only') lines.push(`enforcement: ${name}: ${r.path} (${r.reason})`);
    if (r.warning !== undefined) lines.push(`warning: ${name}: ${r.warning}`);
  }
  return lines;
}

/** Policy summaries with each restrict rule's enforcement path. */
export function withEnforcement<P extends PolicySummary>(policies: readonly P[], plan: EnforcementPlan): P[] {
  const byRule = new Map(plan.rules.map((r) => [`${r.namespace ?? ''}\u0000${r.policy}\u0000${r.rule}`, r]));
  return policies.map((p) => ({
    ...p,
    rules: p.rules.map((rule) => {
      const e = byRule.get(`${p.namespace ?? ''}\u0000${p.name}\u0000${rule.name}`);
      if (rule.type !== 'restrict' || e === undefined) return rule;
      const enforcement: RuleEnforcement = { path: e.path, reason: e.reason };
      if (e.warning !== undefined) enforcement.warning = e.warning;
      return { ...rule, enforcement };
    }),
  }));
}

/** The one input of local mode, as the source factory takes it. */
function sourceSpec(opts: LocalModeOptions, policies: PolicySet, enforcement: PlanEnvironment): SourceSpec {
  const a = opts.sourceAuth ?? {};
  if (opts.source !== 'http' && opts.source !== 'tcp') {
    if (opts.sourceListen || a.tokenFile !== undefined)
      throw new Error(
        `--source-listen and --source-token-file apply to --source http|tcp, not ${opts.source}`,
      );
  }
  const listener = {
    listen: opts.sourceListen,
    ...(a.tokenFile !== undefined && { tokenFile: a.tokenFile }),
    ...(a.socketMode !== undefined && { socketMode: a.socketMode }),
    ...(a.maxConnections !== undefined && { maxConnections: a.maxConnections }),
    ...(a.requestTimeoutMs !== undefined && { requestTimeoutMs: a.requestTimeoutMs }),
  };
  switch (opts.source) {
    case 'sensor':
      return {
        kind: 'sensor',
        install: opts.install,
        hints: policies.engine.sensorHints,
        node: opts.nodeName,
        enforcement,
        ...(opts.sensorAttachTimeoutMs !== undefined && { attachTimeoutMs: opts.sensorAttachTimeoutMs }),
        ...(opts.containerRuntimeSockets !== undefined && {
          containerRuntimeSockets: opts.containerRuntimeSockets,
        }),
        ...(opts.containerRuntimeTimeoutMs !== undefined && {
          containerRuntimeTimeoutMs: opts.containerRuntimeTimeoutMs,
        }),
      };
    case 'tetragon-file':
    case 'file':
      if (!opts.file) throw new Error(`--source ${opts.source} needs --file <path>`);
      return {
        kind: opts.source,
        path: opts.file,
        format: opts.format ?? (opts.source === 'tetragon-file' ? 'tetragon' : 'auto'),
        ...(opts.tailState !== undefined && { statePath: opts.tailState }),
      };
    case 'stdin':
      return { kind: 'stdin', format: opts.format ?? 'auto' };
    case 'http':
      return { kind: 'http', ...listener };
    case 'tcp':
      return {
        kind: 'tcp',
        ...listener,
        format: opts.format,
        ...(a.idleTimeoutMs !== undefined && { idleTimeoutMs: a.idleTimeoutMs }),
      };
    case 'tetragon-grpc':
      return { kind: 'tetragon-grpc', target: opts.tetragonTarget };
  }
}

/** The `unix:<path>` form of the listen address, when the source listens on a unix socket. */
function unixListen(listen: SourceAddress | undefined): string | undefined {
  return listen?.kind === 'unix' ? `unix:${listen.path}` : undefined;
}

/** Refuses --source-trusted-for-kill on an input that does not authenticate its senders. */
export function checkSourceTrust(opts: LocalModeOptions): void {
  if (opts.sourceTrustedForKill !== true) return;
  const problem = killTrustProblem({
    kind: opts.source,
    flag: '--source-trusted-for-kill',
    file: opts.file,
    tetragonTarget: opts.tetragonTarget,
    listen: unixListen(opts.sourceListen),
    tokenFile: opts.sourceAuth?.tokenFile,
  });
  if (problem !== undefined) throw new SourceTrustError(problem);
}

/** What local mode does with verdicts, in order: print, store, count, log, stream, observe, act. */
export function localModeSinks(parts: {
  terminal?: VerdictSink;
  store: ReportStore;
  logger: Logger;
  server?: LocalServer;
  observer?: VerdictSink;
  /** Absent in audit mode (no action runs). */
  runner?: VerdictSink;
}): VerdictSink[] {
  // The verdict line first, then the actions (whose outcomes the terminal prints below it).
  const sinks: VerdictSink[] = [];
  if (parts.terminal) sinks.push(parts.terminal);
  sinks.push(createStoreSink(parts.store), violationMetricsSink(), verdictLogSink(parts.logger));
  if (parts.server) sinks.push(parts.server.sink);
  if (parts.observer) sinks.push(parts.observer);
  if (parts.runner) sinks.push(parts.runner);
  return sinks;
}

export async function startLocalMode(opts: LocalModeOptions): Promise<LocalModeHandle> {
  checkSourceTrust(opts);
  const logger = jsonLogger(opts);
  const contextFile = opts.contextFiles?.length ? await loadContextFiles(opts.contextFiles) : undefined;
  for (const e of contextFile?.errors ?? [])
    opts.say(`context file error: ${e.file}:${e.line}:${e.col}: ${e.message}`);
  const policies = new PolicySet({
    ...(contextFile ? { context: contextFile.provider } : {}),
    paths: opts.policies,
    nodeName: opts.nodeName,
    logger,
    ...(opts.exceptions ? { exceptionPaths: opts.exceptions } : {}),
    ...(opts.exceptionNamespaces ? { exceptionNamespaces: opts.exceptionNamespaces } : {}),
    // The store and the log may sit in a policy folder; their writes are not policy edits.
    ignore: [opts.db, `${opts.db}-wal`, `${opts.db}-shm`, `${opts.db}-journal`, opts.logFile],
  });
  await policies.load();
  const engine = policies.engine;
  opts.say(`policies: ${engine.policies.length} loaded from ${opts.policies.join(', ')}`);
  const lsm = await detectBpfLsm({ bpftrace: 'bpftrace' });
  const enforcement = kernelKillEnvironment(opts.source, opts.actionMode, lsm);
  opts.say(
    `enforcement: BPF LSM ${lsm.available ? 'available' : 'not available'} (${lsm.detail}); in-kernel kill ${
      enforcement.kernelKillOff === undefined ? 'on' : `off (${enforcement.kernelKillOff})`
    }`,
  );
  for (const e of policies.lastErrors) opts.say(`policy error: ${e.file}:${e.line}:${e.col}: ${e.message}`);

  const store = openStore(opts.db, {
    onError: (err) => logger.error({ err }, 'store write failed'),
    ...(opts.storeRetention
      ? {
          maxViolations: opts.storeRetention.maxViolations,
          maxViolationAgeMs: opts.storeRetention.maxAgeMs,
        }
      : {}),
  });
  const terminal = opts.terminal;
  let source: EventSource | undefined;
  const blocker: { current?: KernelBlocker } = {};
  const runner = new LocalActionRunner({
    dryRun: opts.actionMode === 'dry-run',
    logger,
    ruleTargetsNode: policies.ruleTargetsNode,
    // Read at each kill: a restarted bpftrace has a new pid.
    protectedPids: () => [
      ...(source instanceof BpftraceSensor && source.pid !== undefined ? [source.pid] : []),
      ...(blocker.current?.pid !== undefined ? [blocker.current.pid] : []),
    ],
    onOutcome: (v, o) => {
      terminal?.outcome(v, o);
      store.recordActionOutcome({ ...v, eventId: v.eventId }, o);
    },
  });
  let server: LocalServer | undefined;
  try {
    // The source exists before the pipeline; its commit gate drains the pipeline once assembled.
    let pipeline: Pipeline | undefined;
    const drained = (): Promise<void> => pipeline?.drain() ?? Promise.resolve();
    source = await createSource(sourceSpec(opts, policies, enforcement), { logger, drained, say: opts.say });
    return await assemble(
      opts,
      { logger, policies, engine, store, terminal, runner, source, blocker, lsm, enforcement },
      (s) => (server = s),
      (p) => (pipeline = p),
    );
  } catch (err) {
    // Nothing half-started stays behind: probes detached, port closed, store flushed.
    policies.close();
    await blocker.current?.stop().catch(() => undefined);
    await source?.stop().catch(() => undefined);
    await server?.close().catch(() => undefined);
    store.close();
    logger.flush();
    throw err;
  }
}

interface Parts {
  logger: Logger;
  policies: PolicySet;
  engine: RuntimeEngine;
  store: ReportStore;
  terminal: VerdictPrinter | undefined;
  runner: LocalActionRunner;
  source: EventSource;
  /** The cgroup connect program of `block` rules, once some Enforce policy has one. */
  blocker: { current?: KernelBlocker };
  lsm: BpfLsmStatus;
  enforcement: PlanEnvironment;
}

/** One line per `block` rule that falls back to its user-space kill, for `run`'s start and reloads. */
export function blockFallbackLines(policies: readonly PolicySummary[]): string[] {
  const lines: string[] = [];
  for (const p of policies)
    for (const r of p.rules)
      if (r.block?.enforcement === 'user-space-kill')
        lines.push(
          `block: ${p.name}/${r.name} is not decided in the kernel (${r.block.reason ?? ''}): falls back to its user-space kill`,
        );
  return lines;
}

async function assemble(
  opts: LocalModeOptions,
  { logger, policies, engine, store, terminal, runner, source, blocker, lsm, enforcement }: Parts,
  serverCreated: (s: LocalServer) => void,
  pipelineCreated: (p: Pipeline) => void,
): Promise<LocalModeHandle> {
  let server: LocalServer | undefined;
  let sourceUp = false;
  // Before the server: its policy list reads the per-policy error counts.
  const ruleErrors = new RuleErrorReporter({ logger });
  // The sensor's plan is the one its running program enforces; other sources only report the path.
  const plan = (): EnforcementPlan =>
    source instanceof BpftraceSensor
      ? source.enforcement
      : planEnforcement(policies.engine.sensorHints.rules ?? [], enforcement);
  if (opts.listen) {
    server = await createLocalServer({
      store,
      listen: opts.listen,
      auth: opts.apiTokenFile !== undefined ? { tokenFile: opts.apiTokenFile } : { token: opts.apiToken },
      logger,
      policies: () => {
        return {
          policies: withEnforcement(policies.engine.policies, plan()).map((p) => ({
            ...p,
            ruleErrors: ruleErrors.countFor(p.name, p.namespace),
          })),
          errors: policies.lastErrors,
          kernel: {
            bpfLsm: lsm.available,
            bpfLsmDetail: lsm.detail,
            inKernelKill: enforcement.kernelKillOff === undefined,
            inKernelKillDetail:
              enforcement.kernelKillOff ?? 'the sensor kills for rules decided at the syscall',
          },
        };
      },
      sources: () => [source.stats(), ...(blocker.current ? [blocker.current.stats()] : [])],
      ready: () => sourceUp,
    });
    serverCreated(server);
  }
  const sinks = localModeSinks({
    terminal,
    store,
    logger,
    server,
    observer: opts.observer?.sink,
    ...(opts.actionMode !== 'audit' && { runner }),
  });
  const pipeline = createPipeline({ engine, sinks, logger, ruleErrors });
  pipelineCreated(pipeline);

  // `block` acts: only when actions run for real (not --action-mode audit or dry-run).
  const blocking = opts.actionMode === 'policy';
  const syncBlocker = async (next: RuntimeEngine): Promise<void> => {
    for (const line of blockFallbackLines(next.policies)) opts.say(line);
    if (!blocking) return;
    if (blocker.current) {
      const load = await blocker.current.update(next.kernelBlockRules);
      opts.say(`block: ${load.loaded} kernel rules loaded (maps updated, program still attached)`);
      return;
    }
    if (next.kernelBlockRules.length === 0) return;
    const loader = await ensureKernelBlockLoader({ install: opts.install, announce: opts.say });
    const b = new KernelBlocker({
      loader,
      rules: next.kernelBlockRules,
      node: opts.nodeName,
      logger,
      say: opts.say,
    });
    blocker.current = b; // before start: a failed start is still stopped by the caller
    await pipeline.attach(b, { trustedForKill: true });
    opts.say(
      `block: cgroup connect4/connect6 program attached (loader pid ${String(b.pid)}), ${b.load.loaded} kernel rules loaded`,
    );
  };

  policies.onSwap(async ({ engine: next }) => {
    pipeline.setEngine(next);
    opts.say(`policies reloaded: ${next.policies.length} active`);
    await syncBlocker(next).catch((err: unknown) => {
      logger.error({ err }, 'block rules not updated in the kernel');
      opts.say(`block: the kernel rules were not updated: ${(err as Error).message}`);
    });
    if (source instanceof BpftraceSensor) {
      const changed = await source.updateHints(next.sensorHints);
      if (changed) {
        opts.say(`sensor: probes regenerated (${source.program?.probes.length ?? 0} attached)`);
        for (const line of enforcementLines(source.enforcement)) opts.say(line);
      }
    }
  });
  policies.onRejected((errors) => {
    for (const e of errors)
      opts.say(
        `policy reload rejected, keeping the previous set: ${e.file}:${e.line}:${e.col}: ${e.message}`,
      );
  });
  policies.watch();

  const stopSampler = sampleEvaluatedIntoTimeline(store);
  // The sensor trusts itself; another input only when the operator said so (checked at start).
  const trustedForKill = opts.sourceTrustedForKill === true || source.trustedForKill === true;
  if (opts.observer) {
    const emit = pipeline.emitter(source.name, source.canWait ?? false, trustedForKill);
    const tap = opts.observer.event;
    await source.start((event) => {
      tap(event);
      return emit(event);
    });
  } else {
    await pipeline.attach(source, { trustedForKill });
  }
  sourceUp = true;
  await syncBlocker(policies.engine);
  if (source instanceof BpftraceSensor) {
    opts.say(
      `sensor: ${source.program?.probes.length ?? 0} tracepoints attached for ${[...policies.engine.sensorHints.behaviors].join(', ') || 'no behavior'}`,
    );
    for (const u of source.program?.unsupported ?? [])
      opts.say(`sensor: cannot watch ${u.behavior}: ${u.reason}`);
  }
  for (const line of enforcementLines(plan())) opts.say(line);
  if (isListening(source)) {
    const by = source.authenticatedBy.length > 0 ? source.authenticatedBy.join(' + ') : 'none (loopback)';
    opts.say(`source: ${source.name} listening on ${source.endpoint() ?? '?'} (authentication: ${by})`);
  }
  if (server) opts.say(`api: ${server.url} (dashboard, /api/violations, /metrics)`);
  opts.say(`store: ${opts.db}`);
  if (opts.logFile !== '-') opts.say(`json log: ${opts.logFile}`);

  const ended =
    'done' in source && source.done instanceof Promise
      ? (source.done as Promise<void>)
      : new Promise<void>(() => undefined);

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      policies.close();
      sourceUp = false;
      await blocker.current?.stop(); // detaches the cgroup connect program
      await source.stop(); // detaches the sensor's probes
      await pipeline.stop(); // drains what was queued through every sink
      await stopSampler();
      await server?.close();
      store.close(); // flush + WAL checkpoint
      logger.flush();
    })();
    return stopping;
  };
  return { server, store, pipeline, source, sources: [source], policies, logger, ended, stop };
}
