/**
 * The one source factory of both run modes: a description of an input (what the flags said) → a
 * started-on-attach EventSource. Local mode builds one source, the cluster agent any number; the
 * options each input takes are the same in both.
 */
import type { SensorHints } from '../engine/runtime/index.js';
import type { Logger } from '../observability/logger.js';
import { createFileTailSource, drainGate } from '../sources/file-tail/index.js';
import { createHttpSource, type HttpTlsOptions } from '../sources/http/index.js';
import { createStdinSource, createTcpSource } from '../sources/ndjson/index.js';
import type { InputFormat } from '../sources/records.js';
import {
  BpftraceSensor,
  ContainerMetadataEnricher,
  createRuntimeLookups,
  ensureSensorPrerequisites,
  runtimeSocketsToUse,
  type ContainerEnrichment,
  type RuntimeSocket,
} from '../sources/sensor/index.js';
import type { PlanEnvironment } from '../sources/sensor/kernel-kill.js';
import type { EventSource } from '../sources/types.js';
import { clusterContainerEnrichment, type RuntimePodFallback } from './runtime-pods.js';

/** Where a network input listens: a TCP address or a unix socket. */
export type SourceAddress = { kind: 'unix'; path: string } | { kind: 'tcp'; host: string; port: number };

/** Authentication and limits of a listening input (the input's defaults when absent). */
export interface ListenerLimits {
  tokenFile?: string;
  socketMode?: number;
  maxConnections?: number;
  requestTimeoutMs?: number;
}

export type SourceSpec =
  | {
      kind: 'sensor';
      /** Install bpftrace when missing. */
      install: boolean;
      hints: SensorHints;
      node?: string;
      attachTimeoutMs?: number;
      /** In-kernel kill on or off, BPF LSM (see kernel-kill.ts); absent = off. */
      enforcement?: PlanEnvironment;
      /**
       * Container runtime sockets to name containers from; undefined = the default sockets that
       * exist on this host, [] = none.
       */
      containerRuntimeSockets?: RuntimeSocket[];
      /** Deadline of one container lookup (the longest an event waits for it). */
      containerRuntimeTimeoutMs?: number;
      /**
       * Cluster agent: the API server's pods come first. Events of a pod it lists are not looked up;
       * the pods the runtime names for the others are learnt as attribution's fallback.
       */
      clusterPods?: RuntimePodFallback;
    }
  | {
      kind: 'tetragon-file' | 'file';
      path: string;
      format: InputFormat;
      /** Where the position is saved; absent = not saved (every start at the end). */
      statePath?: string;
      /** No new line for this long while running = stale (metric, /healthz, log). */
      staleAfterMs?: number;
    }
  | { kind: 'stdin'; format: InputFormat }
  | ({ kind: 'http'; listen?: SourceAddress; tls?: HttpTlsOptions } & ListenerLimits)
  | ({ kind: 'tcp'; listen?: SourceAddress; format?: InputFormat; idleTimeoutMs?: number } & ListenerLimits)
  | { kind: 'tetragon-grpc'; target?: string };

export interface SourceContext {
  logger: Logger;
  /** Resolves once the pipeline has evaluated everything queued (the file tail saves its position after it). */
  drained: () => Promise<void>;
  /** Human-readable progress (the sensor's prerequisites). */
  say?: (message: string) => void;
}

function listenOptions(spec: { listen?: SourceAddress } & ListenerLimits): {
  host?: string;
  port?: number;
  socketPath?: string;
  socketMode?: number;
  tokenFile?: string;
} {
  const l = spec.listen;
  return {
    ...(l?.kind === 'tcp' && { host: l.host, port: l.port }),
    ...(l?.kind === 'unix' && { socketPath: l.path }),
    ...(spec.socketMode !== undefined && { socketMode: spec.socketMode }),
    ...(spec.tokenFile !== undefined && { tokenFile: spec.tokenFile }),
  };
}

type SensorSpec = Extract<SourceSpec, { kind: 'sensor' }>;

/**
 * The sensor's container enrichment for a spec: none without a runtime socket; in the cluster agent
 * (`clusterPods`) only for pods the API server does not list, teaching attribution's fallback.
 */
export async function containerEnrichmentFor(
  spec: SensorSpec,
  ctx: Pick<SourceContext, 'logger' | 'say'>,
): Promise<ContainerEnrichment | undefined> {
  const sockets = runtimeSocketsToUse(spec.containerRuntimeSockets);
  if (sockets.length === 0) return undefined;
  const names = sockets.map((x) => `${x.kind}:${x.path}`);
  ctx.say?.(`sensor: container metadata from ${names.join(', ')}`);
  ctx.logger.info({ sockets: names }, 'sensor: container metadata from the container runtime');
  const enricher = new ContainerMetadataEnricher({
    lookups: await createRuntimeLookups(sockets),
    ...(spec.containerRuntimeTimeoutMs !== undefined && { timeoutMs: spec.containerRuntimeTimeoutMs }),
  });
  return spec.clusterPods ? clusterContainerEnrichment(enricher, spec.clusterPods) : enricher;
}

export async function createSource(spec: SourceSpec, ctx: SourceContext): Promise<EventSource> {
  const { logger } = ctx;
  switch (spec.kind) {
    case 'sensor': {
      const host = await ensureSensorPrerequisites({
        install: spec.install,
        ...(ctx.say && { announce: ctx.say }),
      });
      ctx.say?.(`sensor: ${host.version} (${host.bpftrace})`);
      const enrichment = await containerEnrichmentFor(spec, ctx);
      return new BpftraceSensor({
        bpftrace: host.bpftrace,
        tracepointExists: host.tracepointExists,
        hints: spec.hints,
        node: spec.node,
        logger,
        ...(spec.attachTimeoutMs !== undefined && { attachTimeoutMs: spec.attachTimeoutMs }),
        ...(spec.enforcement !== undefined && { enforcement: spec.enforcement }),
        ...(enrichment !== undefined && { containerMetadata: enrichment }),
      });
    }
    case 'tetragon-file':
    case 'file':
      return createFileTailSource({
        path: spec.path,
        format: spec.format,
        logger,
        ...(spec.staleAfterMs !== undefined && { staleAfterMs: spec.staleAfterMs }),
        ...(spec.statePath !== undefined && {
          statePath: spec.statePath,
          // Saved only once the pipeline has evaluated what precedes the offset: at-least-once.
          commitGate: drainGate(ctx.drained),
        }),
      });
    case 'stdin':
      return createStdinSource({ format: spec.format, logger });
    case 'http':
      return createHttpSource({
        ...listenOptions(spec),
        ...(spec.maxConnections !== undefined && { maxConnections: spec.maxConnections }),
        ...(spec.requestTimeoutMs !== undefined && { requestTimeoutMs: spec.requestTimeoutMs }),
        ...(spec.tls !== undefined && { tls: spec.tls }),
        logger,
      });
    case 'tcp':
      return createTcpSource({
        ...listenOptions(spec),
        port: spec.listen?.kind === 'tcp' ? spec.listen.port : 0,
        format: spec.format,
        ...(spec.maxConnections !== undefined && { maxConnections: spec.maxConnections }),
        ...(spec.requestTimeoutMs !== undefined && { authTimeoutMs: spec.requestTimeoutMs }),
        ...(spec.idleTimeoutMs !== undefined && { idleTimeoutMs: spec.idleTimeoutMs }),
        logger,
      });
    case 'tetragon-grpc': {
      // gRPC and the proto loader are a large module graph: loaded only when this input is used.
      const { createTetragonGrpcSource } = await import('../sources/tetragon-grpc/index.js');
      return createTetragonGrpcSource({ target: spec.target, logger });
    }
  }
}

/** The http and tcp sources: a listener with an address and an authentication. */
export function isListening(
  s: EventSource,
): s is EventSource & { endpoint(): string | undefined; authenticatedBy: readonly string[] } {
  return 'endpoint' in s && typeof s.endpoint === 'function' && 'authenticatedBy' in s;
}
