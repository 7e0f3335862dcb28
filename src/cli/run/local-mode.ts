/**
 * `kyverno-runtime run` assembled: source → bounded queue/pipeline → RuntimeEngine → sinks (terminal,
 * JSON log, SQLite store, live stream, local action runner). Returns a handle whose `stop()` drains,
 * flushes, detaches the sensor's probes and closes everything, in that order.
 */
import { dirname, join } from 'node:path';
import { mkdirSync } from 'node:fs';
import { pino } from 'pino';
import { LocalActionRunner } from '../../actions/local-runner.js';
import type { RuntimeEvent } from '../../events/types.js';
import type { Verdict } from '../../engine/verdict.js';
import { createLogger, type Logger } from '../../observability/logger.js';
import { violations as violationsMetric } from '../../observability/metrics.js';
import { createPipeline, RuleErrorReporter, type Pipeline, type VerdictSink } from '../../pipeline/index.js';
import {
  createStoreSink,
  openStore,
  sampleEvaluatedIntoTimeline,
  type ReportStore,
} from '../../reports/store/index.js';
import { createLocalServer, type LocalServer } from '../../server/index.js';
import { createFileTailSource } from '../../sources/file-tail/index.js';
import { createHttpSource } from '../../sources/http/index.js';
import { createStdinSource, createTcpSource } from '../../sources/ndjson/index.js';
import type { InputFormat } from '../../sources/records.js';
import { BpftraceSensor, ensureSensorPrerequisites } from '../../sources/sensor/index.js';
import { createTetragonGrpcSource } from '../../sources/tetragon-grpc/index.js';
import type { EventSource } from '../../sources/types.js';
import type { RuntimeEngine } from '../../engine/runtime/index.js';
import { PolicySet } from './policy-set.js';
import { TerminalSink } from './terminal.js';

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
  install: boolean;
  /** How long the built-in sensor waits for bpftrace to attach (the sensor's default when absent). */
  sensorAttachTimeoutMs?: number;
  logLevel: string;
  /** "-" = stderr. */
  logFile: string;
  actionMode: ActionMode;
  /** For file/tetragon-file sources. */
  file?: string;
  format?: InputFormat;
  /** For http/tcp sources. */
  sourceListen?: { host: string; port: number };
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

export function defaultDbPath(): string {
  if (process.env.KYVERNO_RUNTIME_STORE) return process.env.KYVERNO_RUNTIME_STORE;
  return process.getuid?.() === 0
    ? '/var/lib/kyverno-runtime/state.db'
    : join(process.cwd(), '.kyverno-runtime', 'state.db');
}

function jsonLogger(opts: LocalModeOptions): Logger {
  if (opts.logFile === '-') return createLogger({ level: opts.logLevel, destination: pino.destination(2) });
  mkdirSync(dirname(opts.logFile), { recursive: true });
  return createLogger({
    level: opts.logLevel,
    destination: pino.destination({ dest: opts.logFile, sync: false, mkdir: true }),
  });
}

async function createSource(
  opts: LocalModeOptions,
  policies: PolicySet,
  logger: Logger,
): Promise<EventSource> {
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
      });
    case 'stdin':
      return createStdinSource({ format: opts.format ?? 'auto', logger });
    case 'http':
      return createHttpSource({ host: opts.sourceListen?.host, port: opts.sourceListen?.port, logger });
    case 'tcp':
      return createTcpSource({
        host: opts.sourceListen?.host,
        port: opts.sourceListen?.port ?? 0,
        format: opts.format,
        logger,
      });
    case 'tetragon-grpc':
      return createTetragonGrpcSource({ target: opts.tetragonTarget, logger });
  }
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
  const runner = new LocalActionRunner({
    dryRun: opts.actionMode === 'dry-run',
    logger,
    onOutcome: (v, o) => {
      terminal.outcome(v, o);
      store.recordActionOutcome({ ...v, eventId: v.eventId }, o);
    },
  });
  let source: EventSource | undefined;
  let server: LocalServer | undefined;
  try {
    source = await createSource(opts, policies, logger);
    return await assemble(
      opts,
      { logger, policies, engine, store, terminal, runner, source },
      (s) => (server = s),
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
): Promise<LocalModeHandle> {
  let server: LocalServer | undefined;
  let sourceUp = false;
  // Before the server: its policy list reads the per-policy error counts.
  const ruleErrors = new RuleErrorReporter({ logger });
  if (opts.listen) {
    server = await createLocalServer({
      store,
      listen: opts.listen,
      auth: { token: opts.apiToken },
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
  if (opts.observer) {
    const emit = pipeline.emitter(source.name, source.canWait ?? false);
    const tap = opts.observer.event;
    await source.start((event) => {
      tap(event);
      return emit(event);
    });
  } else {
    await pipeline.attach(source);
  }
  sourceUp = true;
  if (source instanceof BpftraceSensor) {
    opts.say(
      `sensor: ${source.program?.probes.length ?? 0} tracepoints attached for ${[...policies.engine.sensorHints.behaviors].join(', ') || 'no behavior'}`,
    );
    for (const u of source.program?.unsupported ?? [])
      opts.say(`sensor: cannot watch ${u.behavior}: ${u.reason}`);
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
