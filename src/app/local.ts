/**
 * `kyverno-runtime run` assembled: source → bounded queue/pipeline → RuntimeEngine → sinks (terminal,
 * JSON log, SQLite store, live stream, local action runner). Returns a handle whose `stop()` drains,
 * flushes, detaches the sensor's probes and closes everything, in that order.
 */
import { join } from 'node:path';
import { LocalActionRunner } from '../actions/local-runner.js';
import type { RuntimeEvent } from '../events/types.js';
import type { Verdict } from '../contracts/verdict.js';
import { createLogFile, type Logger } from '../observability/logger.js';
import { violations as violationsMetric } from '../observability/metrics.js';
import { createPipeline, RuleErrorReporter, type Pipeline, type VerdictSink } from '../pipeline/index.js';
import {
  createStoreSink,
  openStore,
  sampleEvaluatedIntoTimeline,
  type ReportStore,
} from '../reports/store/index.js';
import { createLocalServer, type LocalServer } from '../server/index.js';
import { createFileTailSource, drainGate } from '../sources/file-tail/index.js';
import { createHttpSource } from '../sources/http/index.js';
import { createStdinSource, createTcpSource } from '../sources/ndjson/index.js';
import type { InputFormat } from '../sources/records.js';
import { BpftraceSensor, ensureSensorPrerequisites } from '../sources/sensor/index.js';
import { createTetragonGrpcSource } from '../sources/tetragon-grpc/index.js';
import type { EventSource } from '../sources/types.js';
import { killTrustProblem, SourceTrustError } from '../sources/trust.js';
import type { SourceAddress } from '../cli/listen-address.js';
import type { RuntimeEngine } from '../engine/runtime/index.js';
import { PolicySet } from './policy-set.js';
import { TerminalSink } from '../cli/run/terminal.js';

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
  out?: NodeJS.WritableStream & { isTTY?: boolean };
}

export interface LocalModeHandle {
  readonly server?: LocalServer;
  readonly store: ReportStore;
  readonly pipeline: Pipeline;
  readonly source: EventSource;
  readonly policies: PolicySet;
  readonly logger: Logger;
  /** Resolves when the source ended by itself (stdin EOF); never for live sources. */
  readonly ended: Promise<void>;
  stop(): Promise<void>;
}

/** File name of the tail position, next to the store unless --tail-state says otherwise. */
export const TAIL_STATE_FILE = 'tail-state.json';

/** Where a root agent keeps its state (the store, the tail position); else under the working directory. */
export function defaultStateDir(): string {
  return process.getuid?.() === 0 ? '/var/lib/kyverno-runtime' : join(process.cwd(), '.kyverno-runtime');
}

export function defaultDbPath(): string {
  if (process.env.KYVERNO_RUNTIME_STORE) return process.env.KYVERNO_RUNTIME_STORE;
  return process.getuid?.() === 0
    ? '/var/lib/kyverno-runtime/state.db'
    : join(process.cwd(), '.kyverno-runtime', 'state.db');
}

function jsonLogger(opts: LocalModeOptions): Logger {
  return createLogFile({
    path: opts.logFile,
    level: opts.logLevel,
    ...(opts.logRotation ?? {}),
  });
}

/** Where the http/tcp source listens and how senders authenticate. */
function listenOptions(opts: LocalModeOptions): {
  host?: string;
  port?: number;
  socketPath?: string;
  socketMode?: number;
  tokenFile?: string;
} {
  const l = opts.sourceListen;
  const a = opts.sourceAuth ?? {};
  return {
    ...(l?.kind === 'tcp' && { host: l.host, port: l.port }),
    ...(l?.kind === 'unix' && { socketPath: l.path }),
    ...(a.socketMode !== undefined && { socketMode: a.socketMode }),
    ...(a.tokenFile !== undefined && { tokenFile: a.tokenFile }),
  };
}

async function createSource(
  opts: LocalModeOptions,
  policies: PolicySet,
  logger: Logger,
  drained: () => Promise<void>,
): Promise<EventSource> {
  const a = opts.sourceAuth ?? {};
  if (opts.source !== 'http' && opts.source !== 'tcp') {
    if (opts.sourceListen || a.tokenFile !== undefined)
      throw new Error(
        `--source-listen and --source-token-file apply to --source http|tcp, not ${opts.source}`,
      );
  }
  switch (opts.source) {
    case 'sensor': {
      const host = await ensureSensorPrerequisites({ install: opts.install, announce: opts.say });
      opts.say(`sensor: ${host.version} (${host.bpftrace})`);
      return new BpftraceSensor({
        bpftrace: host.bpftrace,
        tracepointExists: host.tracepointExists,
        hints: policies.engine.sensorHints,
        node: opts.nodeName,
        logger,
        ...(opts.sensorAttachTimeoutMs !== undefined && { attachTimeoutMs: opts.sensorAttachTimeoutMs }),
      });
    }
    case 'tetragon-file':
    case 'file':
      if (!opts.file) throw new Error(`--source ${opts.source} needs --file <path>`);
      return createFileTailSource({
        path: opts.file,
        format: opts.format ?? (opts.source === 'tetragon-file' ? 'tetragon' : 'auto'),
        logger,
        ...(opts.tailState !== undefined && {
          statePath: opts.tailState,
          // Saved only once the pipeline has evaluated what precedes the offset: at-least-once.
          commitGate: drainGate(drained),
        }),
      });
    case 'stdin':
      return createStdinSource({ format: opts.format ?? 'auto', logger });
    case 'http':
      return createHttpSource({
        ...listenOptions(opts),
        ...(a.maxConnections !== undefined && { maxConnections: a.maxConnections }),
        ...(a.requestTimeoutMs !== undefined && { requestTimeoutMs: a.requestTimeoutMs }),
        logger,
      });
    case 'tcp':
      return createTcpSource({
        ...listenOptions(opts),
        port: opts.sourceListen?.kind === 'tcp' ? opts.sourceListen.port : 0,
        format: opts.format,
        ...(a.maxConnections !== undefined && { maxConnections: a.maxConnections }),
        ...(a.requestTimeoutMs !== undefined && { authTimeoutMs: a.requestTimeoutMs }),
        ...(a.idleTimeoutMs !== undefined && { idleTimeoutMs: a.idleTimeoutMs }),
        logger,
      });
    case 'tetragon-grpc':
      return createTetragonGrpcSource({ target: opts.tetragonTarget, logger });
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

/** The http and tcp sources: a listener with an address and an authentication. */
function isListening(
  s: EventSource,
): s is EventSource & { endpoint(): string | undefined; authenticatedBy: readonly string[] } {
  return 'endpoint' in s && typeof s.endpoint === 'function' && 'authenticatedBy' in s;
}

/** The JSON log of verdicts and action outcomes (one record each). */
function verdictLogSink(logger: Logger): VerdictSink {
  return {
    name: 'json-log',
    write(verdicts: Verdict[], event: RuntimeEvent) {
      for (const v of verdicts) {
        violationsMetric.inc({ policy: v.policy, rule: v.rule, behavior: v.behavior, mode: v.mode });
        logger.info(
          {
            policy: v.policy,
            rule: v.rule,
            mode: v.mode,
            resource: v.resource,
            container: v.container,
            behavior: v.behavior,
            eventId: v.eventId,
            eventTime: v.time,
            process: event.process,
            actions: v.actions,
          },
          v.message,
        );
      }
    },
  };
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
  const terminal = new TerminalSink({ out: opts.out });
  let source: EventSource | undefined;
  const runner = new LocalActionRunner({
    dryRun: opts.actionMode === 'dry-run',
    logger,
    ruleTargetsNode: policies.ruleTargetsNode,
    // Read at each kill: a restarted bpftrace has a new pid.
    protectedPids: () => (source instanceof BpftraceSensor && source.pid !== undefined ? [source.pid] : []),
    onOutcome: (v, o) => {
      terminal.outcome(v, o);
      store.recordActionOutcome({ ...v, eventId: v.eventId }, o);
    },
  });
  let server: LocalServer | undefined;
  try {
    // The source exists before the pipeline; its commit gate drains the pipeline once assembled.
    let pipeline: Pipeline | undefined;
    const drained = (): Promise<void> => pipeline?.drain() ?? Promise.resolve();
    source = await createSource(opts, policies, logger, drained);
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
  terminal: TerminalSink;
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
  // The verdict line first, then the actions (whose outcomes the terminal prints below it).
  const sinks: VerdictSink[] = [terminal, createStoreSink(store), verdictLogSink(logger)];
  if (server) sinks.push(server.sink);
  if (opts.observer) sinks.push(opts.observer.sink);
  if (opts.actionMode !== 'audit') sinks.push(runner);
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
  return { server, store, pipeline, source, policies, logger, ended, stop };
}
