/**
 * Tetragon gRPC input: subscribes to FineGuidanceSensors.GetEvents (server stream) on the agent's
 * unix socket (Helm default unix:///var/run/tetragon/tetragon.sock) or TCP (agent default
 * localhost:54321). Events are normalised to the export-JSON shape so the same Tetragon adapter
 * parses both inputs. The stream has no replay: on disconnect we re-subscribe with exponential
 * backoff (jittered, capped) and the gap is visible in the logs, in status "degraded" and in
 * kyverno_runtime_source_reconnects_total. The backoff only starts over after a subscription stayed
 * up for `backoff.resetAfterMs`, so an agent that accepts and drops streams at once cannot make us
 * re-subscribe in a tight loop.
 *
 * A message that does not decode (protobuf) or normalise is counted ("decode-error") and skipped:
 * we decode it ourselves instead of letting grpc-js fail the whole call, which would lose every
 * later event of the stream.
 *
 * Backpressure: messages are consumed with `for await` and each emit is awaited, so a full queue
 * stops reading; grpc-js then stops granting HTTP/2 flow-control window and the agent buffers (and,
 * past its own limit, drops and counts on its side).
 */
import * as grpc from '@grpc/grpc-js';
import type { AdaptOutcome } from '../../events/adapters/index.js';
import type { Logger } from '../../observability/logger.js';
import { sourceReconnects } from '../../observability/metrics.js';
import { emitAll, RecordReader } from '../record-reader.js';
import { SourceCounters, errorText } from '../records.js';
import type { EmitFn, EventSource, SourceStats } from '../types.js';
import { TetragonJson } from '../../events/adapters/tetragon-grpc.js';
import { loadTetragonProto } from './proto.js';

export const TETRAGON_EVENT_TYPES = [
  'PROCESS_EXEC',
  'PROCESS_EXIT',
  'PROCESS_KPROBE',
  'PROCESS_TRACEPOINT',
  'PROCESS_LOADER',
  'PROCESS_UPROBE',
  'PROCESS_THROTTLE',
  'PROCESS_LSM',
  'PROCESS_USDT',
  'RATE_LIMIT_INFO',
] as const;

/** A Tetragon Filter in its JSON form (as in Tetragon's export allow/deny lists). */
export interface TetragonFilter {
  binary_regex?: string[];
  namespace?: string[];
  health_check?: boolean;
  pid?: number[];
  event_set?: string[];
  pod_regex?: string[];
  arguments_regex?: string[];
  labels?: string[];
  policy_names?: string[];
  parent_binary_regex?: string[];
  container_id?: string[];
  in_init_tree?: boolean;
}

export interface TetragonGrpcOptions {
  name?: string;
  /** unix:///path, unix:/path, host:port. Default unix:///var/run/tetragon/tetragon.sock. */
  target?: string;
  /** Shorthand allow filter: event types (e.g. PROCESS_KPROBE). */
  eventTypes?: string[];
  /** Shorthand allow filter: Kubernetes namespaces. */
  namespaces?: string[];
  /** Shorthand allow filter: RE2 regexes on the pod name. */
  podRegex?: string[];
  /** Extra filters, ORed with the shorthand one. */
  allowList?: TetragonFilter[];
  denyList?: TetragonFilter[];
  /** Deny Tetragon's own health-check events (default true). */
  denyHealthCheck?: boolean;
  /**
   * Reconnect backoff: the delay doubles from `initialMs` up to `maxMs` (each wait jittered to
   * 50–100 %) and starts over only after a subscription lasted `resetAfterMs`. Default 250 ms → 30 s,
   * reset after 10 s.
   */
  backoff?: { initialMs?: number; maxMs?: number; resetAfterMs?: number };
  protoPath?: string;
  /**
   * Largest accepted message. Default 16 MiB. grpc-js refuses a bigger one before we see it and
   * fails the stream (we then re-subscribe with backoff).
   */
  maxMessageBytes?: number;
  /** TLS for TCP targets; the unix socket is plain (access is file permissions). */
  credentials?: grpc.ChannelCredentials;
  logger?: Logger;
}

export interface TetragonGrpcSource extends EventSource {
  /** Number of (re)subscriptions made so far. */
  readonly subscriptions: number;
}

/** What our deserializer yields: a decoded message, or why the bytes did not decode. */
type Decoded = { ok: true; msg: Record<string, unknown> } | { ok: false; detail: string };

interface MethodDef {
  path: string;
  requestSerialize(value: object): Buffer;
  responseDeserialize(bytes: Buffer): Record<string, unknown>;
}

export function buildGetEventsRequest(o: TetragonGrpcOptions): {
  allow_list: TetragonFilter[];
  deny_list: TetragonFilter[];
} {
  const allow: TetragonFilter[] = [...(o.allowList ?? [])];
  const shorthand: TetragonFilter = {};
  if (o.eventTypes?.length) {
    for (const t of o.eventTypes) {
      if (!(TETRAGON_EVENT_TYPES as readonly string[]).includes(t)) {
        throw new Error(
          `unknown Tetragon event type ${t}; expected one of ${TETRAGON_EVENT_TYPES.join(', ')}`,
        );
      }
    }
    shorthand.event_set = o.eventTypes;
  }
  if (o.namespaces?.length) shorthand.namespace = o.namespaces;
  if (o.podRegex?.length) shorthand.pod_regex = o.podRegex;
  if (Object.keys(shorthand).length > 0) allow.push(shorthand);
  const deny: TetragonFilter[] = [...(o.denyList ?? [])];
  if (o.denyHealthCheck ?? true) deny.push({ health_check: true });
  return { allow_list: allow, deny_list: deny };
}

/** What relaying one subscription's messages needs. */
interface StreamContext {
  target: string;
  counters: SourceCounters;
  reader: RecordReader;
  json: TetragonJson;
  log: Logger | undefined;
}

export function createTetragonGrpcSource(options: TetragonGrpcOptions = {}): TetragonGrpcSource {
  const target = options.target ?? 'unix:///var/run/tetragon/tetragon.sock';
  const counters = new SourceCounters(options.name ?? 'tetragon-grpc', 'tetragon-grpc');
  const log = options.logger;
  const reader = new RecordReader({ counters, format: 'tetragon', ...(log ? { logger: log } : {}) });
  const def = loadTetragonProto(options.protoPath);
  const json = new TetragonJson(def);
  const stream: StreamContext = { target, counters, reader, json, log };
  const request = json.toGrpc(buildGetEventsRequest(options), 'tetragon.GetEventsRequest');
  const getEvents = getEventsMethod(def);
  const deserialize = deserializerFor(getEvents);
  const serializeRequest = (value: object): Buffer => getEvents.requestSerialize(value);
  const initialMs = options.backoff?.initialMs ?? 250;
  const maxMs = options.backoff?.maxMs ?? 30_000;
  const resetAfterMs = options.backoff?.resetAfterMs ?? 10_000;
  const channelOptions = channelOptionsFor(options, initialMs, maxMs);
  const credentials = options.credentials ?? grpc.credentials.createInsecure();
  let client: grpc.Client | undefined;
  let call: grpc.ClientReadableStream<Decoded> | undefined;
  let stopped = false;
  let loop: Promise<void> | undefined;
  let wake: (() => void) | undefined;
  let subscriptions = 0;

  async function consume(emit: EmitFn): Promise<void> {
    let delay = initialMs;
    while (!stopped) {
      client ??= new grpc.Client(target, credentials, channelOptions);
      call = client.makeServerStreamRequest(getEvents.path, serializeRequest, deserialize, request);
      subscriptions++;
      if (subscriptions > 1) sourceReconnects.inc({ source: counters.name });
      const since = performance.now();
      try {
        await relay(call, emit, stream);
        if (!stopped) log?.warn({ target }, 'Tetragon closed the event stream; re-subscribing');
      } catch (err) {
        if (stopped) break;
        counters.lastError = errorText(err);
        log?.warn({ target, err: counters.lastError, retryInMs: delay }, 'Tetragon event stream failed');
      }
      if (stopped) break;
      counters.status = 'degraded';
      if (performance.now() - since >= resetAfterMs) delay = initialMs;
      // A fresh channel per attempt: grpc-js's own channel backoff would otherwise delay the retry
      // beyond ours (calls fail fast while the old channel sits in TRANSIENT_FAILURE).
      client?.close();
      client = undefined;
      // Jitter avoids every node's consumer reconnecting in lockstep after an agent restart.
      await sleep(delay * (0.5 + Math.random() * 0.5), (w) => (wake = w));
      wake = undefined;
      delay = Math.min(maxMs, delay * 2);
    }
  }

  return {
    name: counters.name,
    canWait: true,
    get subscriptions() {
      return subscriptions;
    },
    start(emit) {
      stopped = false;
      loop = consume(emit);
      return Promise.resolve();
    },
    async stop() {
      stopped = true;
      call?.cancel();
      wake?.();
      await loop;
      client?.close();
      client = undefined;
      counters.status = 'stopped';
    },
    stats(): SourceStats {
      return counters.snapshot();
    },
  };
}

function getEventsMethod(def: ReturnType<typeof loadTetragonProto>): MethodDef {
  const method = (def['tetragon.FineGuidanceSensors'] as unknown as Record<string, MethodDef> | undefined)
    ?.GetEvents;
  if (!method) throw new Error('the Tetragon proto has no FineGuidanceSensors.GetEvents');
  return method;
}

/** Never throws: grpc-js ends the call with INTERNAL when a deserializer throws. */
function deserializerFor(getEvents: MethodDef): (bytes: Buffer) => Decoded {
  return (bytes) => {
    try {
      return { ok: true, msg: getEvents.responseDeserialize(bytes) };
    } catch (err) {
      return { ok: false, detail: errorText(err) };
    }
  };
}

function channelOptionsFor(
  options: TetragonGrpcOptions,
  initialMs: number,
  maxMs: number,
): grpc.ChannelOptions {
  return {
    // Our loop owns the retry schedule: no subchannel shared with (and backed off by) other channels.
    'grpc.use_local_subchannel_pool': 1,
    'grpc.initial_reconnect_backoff_ms': initialMs,
    'grpc.max_reconnect_backoff_ms': maxMs,
    // Notice a silently dead agent (no FIN on a hung node) within ~40 s.
    'grpc.keepalive_time_ms': 30_000,
    'grpc.keepalive_timeout_ms': 10_000,
    'grpc.max_receive_message_length': options.maxMessageBytes ?? 16 * 1024 * 1024,
  };
}

/** Relays one subscription's messages until the stream ends; waits when the pipeline is full. */
async function relay(
  call: grpc.ClientReadableStream<Decoded>,
  emit: EmitFn,
  ctx: StreamContext,
): Promise<void> {
  const { target, counters, log } = ctx;
  for await (const decoded of call as AsyncIterable<Decoded>) {
    if (counters.status !== 'running') {
      counters.status = 'running';
      log?.info({ target }, 'subscribed to Tetragon events');
    }
    if (!decoded.ok) {
      counters.drop('decode-error');
      counters.lastError = `undecodable message: ${decoded.detail}`;
      log?.debug({ target, err: decoded.detail }, 'Tetragon message does not decode; skipped');
      continue;
    }
    const wait = emitAll(ctx.reader.accept(toRecord(decoded.msg, ctx), { target }), emit);
    if (wait) await wait;
  }
}

/** Never throws: a message the normaliser cannot handle is counted as "decode-error". */
function toRecord(msg: Record<string, unknown>, ctx: StreamContext): AdaptOutcome {
  try {
    return ctx.reader.adaptRecord(ctx.json.fromGrpc(msg));
  } catch (err) {
    return { kind: 'skipped', reason: 'decode-error', detail: errorText(err) };
  }
}

/** Sleeps `ms`; `onWake` receives the function that ends the sleep early (stop). */
function sleep(ms: number, onWake: (wake: () => void) => void): Promise<void> {
  return new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    onWake(() => {
      clearTimeout(t);
      resolve();
    });
  });
}
