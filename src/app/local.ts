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
import type { EventSource } from '../sources/types.js';
import { killTrustProblem, SourceTrustError } from '../sources/trust.js';
import type { RuntimeEngine } from '../engine/runtime/index.js';
import type { AppHandle } from './handle.js';
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

/** The one input of local mode, as the source factory takes it. */
function sourceSpec(opts: LocalModeOptions, policies: PolicySet): SourceSpec {
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
  const policies = new PolicySet({
    paths: opts.policies,
    nodeName: opts.nodeName,
    logger,
    // The store and the log may sit in a policy folder; their writes are not policy edits.
    ignore: [opts.db, `${opts.db}-wal`, `${opts.db}-shm`, `${opts.db}-journal`, opts.logFile],
  });
  const engine = await policies.load();
  opts.say(`policies: ${engine.policies.length} loaded from ${opts.policies.join(', ')}`);
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
  const runner = new LocalActionRunner({
    dryRun: opts.actionMode === 'dry-run',
    logger,
    ruleTargetsNode: policies.ruleTargetsNode,
    // Read at each kill: a restarted bpftrace has a new pid.
    protectedPids: () => (source instanceof BpftraceSensor && source.pid !== undefined ? [source.pid] : []),
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
    source = await createSource(sourceSpec(opts, policies), { logger, drained, say: opts.say });
    return await assemble(
      opts,
      { logger, policies, engine, store, terminal, runner, source },
      (s) => (server = s),
      (p) => (pipeline = p),
    );
  } catch (err) {
    // Nothing half-started stays behind: probes detached, port closed, store flushed.
    policies.close();
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
}

async function assemble(
  opts: LocalModeOptions,
  { logger, policies, engine, store, terminal, runner, source }: Parts,
  serverCreated: (s: LocalServer) => void,
  pipelineCreated: (p: Pipeline) => void,
): Promise<LocalModeHandle> {
  let server: LocalServer | undefined;
  let sourceUp = false;
  // Before the server: its policy list reads the per-policy error counts.
  const ruleErrors = new RuleErrorReporter({ logger });
  if (opts.listen) {
    server = await createLocalServer({
      store,
      listen: opts.listen,
      auth: opts.apiTokenFile !== undefined ? { tokenFile: opts.apiTokenFile } : { token: opts.apiToken },
      logger,
      policies: () => {
        return {
          policies: policies.engine.policies.map((p) => ({
            ...p,
            ruleErrors: ruleErrors.countFor(p.name, p.namespace),
          })),
          errors: policies.lastErrors,
        };
      },
      sources: () => [source.stats()],
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

  policies.onSwap(async ({ engine: next }) => {
    pipeline.setEngine(next);
    opts.say(`policies reloaded: ${next.policies.length} active`);
    if (source instanceof BpftraceSensor) {
      const changed = await source.updateHints(next.sensorHints);
      if (changed) opts.say(`sensor: probes regenerated (${source.program?.probes.length ?? 0} attached)`);
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
  if (source instanceof BpftraceSensor) {
    opts.say(
      `sensor: ${source.program?.probes.length ?? 0} tracepoints attached for ${[...policies.engine.sensorHints.behaviors].join(', ') || 'no behavior'}`,
    );
    for (const u of source.program?.unsupported ?? [])
      opts.say(`sensor: cannot watch ${u.behavior}: ${u.reason}`);
  }
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
