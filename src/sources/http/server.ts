/**
 * HTTP receiver for Falco http_output, Falcosidekick's webhook output, batched JSON, NDJSON,
 * CloudEvents and RuntimeEvent JSON. It answers 202 as soon as the body is parsed and queued —
 * Falco ignores the status and blocks its output worker on slow receivers — so evaluation never
 * happens on the request path. When the queue is full the events are dropped and counted
 * ("queue-full"): an HTTP client cannot be made to wait without stalling Falco.
 *
 * Security: bearer token (constant-time, from a file re-read on change) and/or mTLS, or a unix
 * socket created owner-only; refuses to listen beyond loopback without one of them unless
 * `allowUnauthenticated` (logged as a warning). A Host check stops DNS rebinding on loopback. Body
 * size, a whole-request deadline, an idle keep-alive timeout, a connection cap and a global rate
 * limit bound the work and the sockets one client can hold.
 */
import { readFileSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { createGunzip, createInflate } from 'node:zlib';
import Fastify, {
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import type { Logger } from '../../observability/logger.js';
import { RecordReader } from '../record-reader.js';
import { SourceCounters, READER_DROP_REASONS, type InputFormat } from '../records.js';
import type { EmitFn, EventSource, SourceStats } from '../types.js';
import { ListenPolicyError, hostCheckFor, isLoopbackHost, type TokenSource } from '../../net/access.js';
import {
  ConnectionGuard,
  DEFAULT_MAX_CONNECTIONS,
  DEFAULT_SHUTDOWN_GRACE_MS,
  listenOn,
  type ListenTarget,
  listenTarget,
  tokenSourceFor,
} from '../listen.js';
import {
  CLOUDEVENT_BATCH_TYPE,
  CLOUDEVENT_TYPE,
  JSON_TYPES,
  NDJSON_TYPES,
  bodyKindOf,
  parsePayload,
  type CeHeaders,
} from './payload.js';
import { TokenBucket } from '../../util/token-bucket.js';

export interface HttpTlsOptions {
  /** PEM contents or file paths. */
  key: string | Buffer;
  cert: string | Buffer;
  /** CA bundle used to verify client certificates (mTLS). */
  ca?: string | Buffer;
  /** Ask for and require a client certificate signed by `ca`. Default: true when `ca` is set. */
  requestCert?: boolean;
}

export interface HttpSourceOptions {
  name?: string;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 2801 (Falcosidekick's port, so Falco configs can point here unchanged). 0 = any free port. */
  port?: number;
  /**
   * Listen on this unix socket instead of host:port (created with `socketMode`, default 0600: only
   * the owner may connect, so the socket's permissions are the authentication).
   */
  socketPath?: string;
  socketMode?: number;
  /** Accepted bearer tokens (any of them). */
  authTokens?: string[];
  /** File of accepted bearer tokens, one per line, re-read when it changes (never in `ps`). */
  tokenFile?: string;
  tls?: HttpTlsOptions;
  /** Allow listening beyond loopback without token or mTLS. Logged as a warning. */
  allowUnauthenticated?: boolean;
  /** Largest accepted body. Default 1 MiB. */
  bodyLimitBytes?: number;
  /**
   * Time allowed to receive a whole request, headers and body, from its first byte (a client
   * trickling its body is cut off). Default 10 s.
   */
  requestTimeoutMs?: number;
  /** An idle keep-alive connection is closed after this. Default 5 s. */
  keepAliveTimeoutMs?: number;
  /** Concurrent connections; further ones are closed at once and counted. Default 256. */
  maxConnections?: number;
  /** On stop, connections still open after this are destroyed. Default 2 s. */
  shutdownGraceMs?: number;
  /** Global request budget; false disables. Default 5000 req/s, burst 10000. */
  rateLimit?: { ratePerSecond: number; burst: number } | false;
  logger?: Logger;
}

export interface HttpSource extends EventSource {
  /** The fastify instance (tests use `inject`). Routes exist right after creation. */
  readonly app: FastifyInstance;
  /** Bound TCP address once started (undefined on a unix socket). */
  address(): { host: string; port: number } | undefined;
  /** "127.0.0.1:2801" or "unix:/path", once started. */
  endpoint(): string | undefined;
  /** What authenticates a sender: empty when anyone who can reach the address may send. */
  readonly authenticatedBy: readonly ('token' | 'mtls' | 'unix-socket')[];
}

/** Paths and the format each one forces ("auto" detects per record). */
const ROUTES: Record<string, InputFormat> = {
  '/': 'auto',
  '/events': 'auto',
  '/falco': 'falco',
  '/cloudevents': 'cloudevents',
};

const MAX_SKIPPED_REPORTED = 20;

function pem(v: string | Buffer): string | Buffer {
  return typeof v === 'string' && !v.includes('-----BEGIN') ? readFileSync(v) : v;
}

export function createHttpSource(options: HttpSourceOptions = {}): HttpSource {
  const name = options.name ?? 'http';
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? 2801;
  const log = options.logger;
  const counters = new SourceCounters(name, 'http');
  const reader = new RecordReader({ counters, format: 'auto' });
  const target = listenTarget(options, host, port);
  const tokens = tokenSourceFor(options, 'HTTP receiver', log);
  const requestCert = options.tls ? (options.tls.requestCert ?? options.tls.ca !== undefined) : false;
  const authenticatedBy = authMethods(tokens !== undefined, requestCert, target);
  let emit: EmitFn | undefined;

  const app = createServer(options, requestCert);
  const guard = new ConnectionGuard(app.server, {
    source: name,
    maxConnections: options.maxConnections ?? DEFAULT_MAX_CONNECTIONS,
    onRefused: () => counters.drop('too-many-connections'),
  });
  // fastify answers these (408/400) and closes the socket; we count them.
  app.server.on('clientError', (err: NodeJS.ErrnoException) => {
    guard.closed(err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 'request-timeout' : 'bad-request');
  });
  registerAccessHook(app, counters, {
    // Browsers cannot reach a unix socket, so only TCP listeners need the DNS-rebinding guard.
    hostOk: target.kind === 'tcp' ? hostCheckFor(host) : undefined,
    tokens,
    bucket: rateLimiter(options),
  });
  registerBodyParsing(app);
  registerErrorHandler(app, counters, log);
  for (const [path, format] of Object.entries(ROUTES)) {
    app.post(path, (req, reply) => ingest(req, reply, format, counters, reader, emit));
  }
  app.get('/healthz', (_req, reply) => reply.send({ status: counters.status }));

  let bound: { host: string; port: number } | undefined;
  let shown: string | undefined;

  return {
    name,
    canWait: false,
    app,
    address: () => bound,
    endpoint: () => shown,
    authenticatedBy,
    async start(emitFn) {
      if (target.kind === 'tcp' && !isLoopbackHost(host) && authenticatedBy.length === 0)
        refuseOrWarnUnauthenticated(options, host, port, counters);
      emit = emitFn;
      await app.ready();
      shown = await listenOn(app.server, target);
      const addr = app.server.address();
      if (addr !== null && typeof addr === 'object') bound = { host: addr.address, port: addr.port };
      counters.status = 'running';
      log?.info(
        { address: shown, tls: options.tls !== undefined, authenticatedBy },
        'HTTP receiver listening',
      );
    },
    async stop() {
      counters.status = 'stopped';
      // Idle keep-alive connections go at once; requests in flight get the grace period.
      await guard.close(options.shutdownGraceMs ?? DEFAULT_SHUTDOWN_GRACE_MS, () =>
        app.server.closeIdleConnections(),
      );
      await app.close();
      tokens?.close();
      emit = undefined;
    },
    stats(): SourceStats {
      return counters.snapshot();
    },
  };
}

/** A listener beyond loopback with no authentication: refused, or allowed with a warning. */
function refuseOrWarnUnauthenticated(
  options: HttpSourceOptions,
  host: string,
  port: number,
  counters: SourceCounters,
): void {
  if (!options.allowUnauthenticated) {
    counters.status = 'failed';
    counters.lastError = 'unauthenticated listen refused';
    throw new ListenPolicyError(host);
  }
  options.logger?.warn(
    { host, port },
    'HTTP receiver listens beyond loopback WITHOUT authentication (allowUnauthenticated): anyone who can reach it can inject events',
  );
}

function rateLimiter(options: HttpSourceOptions): TokenBucket | undefined {
  if (options.rateLimit === false) return undefined;
  return new TokenBucket(options.rateLimit?.ratePerSecond ?? 5000, options.rateLimit?.burst ?? 10_000);
}

function authMethods(
  token: boolean,
  mtls: boolean,
  target: ListenTarget,
): ('token' | 'mtls' | 'unix-socket')[] {
  const methods: ('token' | 'mtls' | 'unix-socket')[] = [];
  if (token) methods.push('token');
  if (mtls) methods.push('mtls');
  if (target.kind === 'unix') methods.push('unix-socket');
  return methods;
}

/** The fastify instance with its body limit, deadlines and TLS. */
function createServer(options: HttpSourceOptions, requestCert: boolean): FastifyInstance {
  const requestTimeout = options.requestTimeoutMs ?? 10_000;
  const keepAliveTimeout = options.keepAliveTimeoutMs ?? 5000;
  // Node checks request deadlines on a timer (default every 30 s, which let a trickled body live
  // far past the deadline); checking a few times per deadline keeps the overshoot small.
  const deadlineChecks = {
    requestTimeout,
    headersTimeout: requestTimeout,
    keepAliveTimeout,
    connectionsCheckingInterval: Math.max(25, Math.min(1000, Math.floor(requestTimeout / 4))),
  };
  return Fastify({
    logger: false,
    bodyLimit: options.bodyLimitBytes ?? 1024 * 1024,
    requestTimeout,
    keepAliveTimeout,
    ...(options.tls
      ? {
          https: {
            ...deadlineChecks,
            key: pem(options.tls.key),
            cert: pem(options.tls.cert),
            ...(options.tls.ca ? { ca: pem(options.tls.ca) } : {}),
            requestCert,
            rejectUnauthorized: requestCert,
          },
        }
      : { http: deadlineChecks }),
  });
}

/** Host check (DNS rebinding), then for POSTs the bearer token and the global rate limit. */
function registerAccessHook(
  app: FastifyInstance,
  counters: SourceCounters,
  access: {
    hostOk: ((host: string | undefined) => boolean) | undefined;
    tokens: TokenSource | undefined;
    bucket: TokenBucket | undefined;
  },
): void {
  const { hostOk, tokens, bucket } = access;
  app.addHook('onRequest', async (req, reply) => {
    if (hostOk && !hostOk(req.headers.host)) {
      counters.drop('bad-host');
      await reply.code(403).send({
        error: 'bad-host',
        message: 'the Host header must name a loopback address or the address this receiver listens on',
      });
      return reply;
    }
    if (req.method !== 'POST') return;
    if (tokens && !tokens.authorizationOk(req.headers.authorization)) {
      counters.drop(READER_DROP_REASONS.unauthorized);
      await reply
        .code(401)
        .header('www-authenticate', 'Bearer realm="kyverno-runtime"')
        .send({ error: 'unauthorized', message: 'missing or invalid bearer token' });
      return reply;
    }
    if (bucket && !bucket.tryTake()) {
      counters.drop(READER_DROP_REASONS.rateLimited);
      await reply
        .code(429)
        .header('retry-after', String(bucket.secondsUntilToken()))
        .send({ error: 'rate-limited', message: 'request budget exceeded; retry later' });
      return reply;
    }
  });
}

/** Bodies as strings (parsed once, by us) and gzip/deflate decoding within the body limit. */
function registerBodyParsing(app: FastifyInstance): void {
  // Bodies arrive as strings and are parsed once, by us, so errors carry positions and batches can be
  // partially accepted.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(
    [...JSON_TYPES, ...NDJSON_TYPES, CLOUDEVENT_TYPE, CLOUDEVENT_BATCH_TYPE],
    { parseAs: 'string' },
    (_req, body, done) => {
      done(null, body);
    },
  );

  // Falco's http_output `compress_uploads` and most shippers send gzip. The decompressed stream is
  // what fastify counts against bodyLimit, so a zip bomb stops at the limit (413).
  app.addHook('preParsing', (req, _reply, payload, done) => {
    const encoding = (req.headers['content-encoding'] ?? 'identity').toLowerCase();
    if (encoding === 'identity') {
      done(null, payload);
      return;
    }
    if (encoding !== 'gzip' && encoding !== 'deflate') {
      done(
        Object.assign(new Error(`unsupported content-encoding ${encoding}`), {
          statusCode: 415,
          code: 'E_ENCODING',
        }),
      );
      return;
    }
    // receivedEncodedLength lets fastify compare Content-Length with the bytes that arrived on the wire.
    const inflated: Readable & { receivedEncodedLength: number } = Object.assign(
      payload.pipe(encoding === 'gzip' ? createGunzip() : createInflate()),
      { receivedEncodedLength: 0 },
    );
    payload.on('data', (chunk: Buffer) => (inflated.receivedEncodedLength += chunk.length));
    done(null, inflated);
  });
}

/** Every refused request gets a status, a reason a sender can act on, and a counted drop. */
function registerErrorHandler(app: FastifyInstance, counters: SourceCounters, log: Logger | undefined): void {
  app.setErrorHandler((err: FastifyError, _req, reply) => {
    if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      counters.drop(READER_DROP_REASONS.tooLarge);
      return reply
        .code(413)
        .send({ error: 'too-large', message: `body exceeds ${app.initialConfig.bodyLimit ?? 0} bytes` });
    }
    if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
      counters.drop('unsupported-media-type');
      return reply.code(415).send({
        error: 'unsupported-media-type',
        message:
          'use Content-Type application/json (Falco needs json_output: true), application/x-ndjson, ' +
          'application/cloudevents+json or application/cloudevents-batch+json',
      });
    }
    if (err.code === 'E_ENCODING') {
      counters.drop('unsupported-media-type');
      return reply
        .code(415)
        .send({ error: 'unsupported-media-type', message: `${err.message}; use gzip, deflate or none` });
    }
    if (err.code.startsWith('Z_')) {
      counters.drop(READER_DROP_REASONS.badPayload);
      return reply
        .code(400)
        .send({ error: 'bad-payload', message: `body is not valid gzip/deflate data (${err.code})` });
    }
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    if (status === 500) log?.error({ err }, 'http receiver error');
    counters.drop(READER_DROP_REASONS.badPayload);
    return reply.code(status).send({ error: err.code ?? 'error', message: err.message });
  });
}

/** Parses a body, queues its events (never waiting) and answers 202 with what was accepted and skipped. */
async function ingest(
  req: FastifyRequest,
  reply: FastifyReply,
  format: InputFormat,
  counters: SourceCounters,
  reader: RecordReader,
  emit: EmitFn | undefined,
): Promise<unknown> {
  const body = typeof req.body === 'string' ? req.body : '';
  const kind = bodyKindOf(req.headers['content-type']);
  if (kind === undefined || body.trim() === '') {
    counters.drop(READER_DROP_REASONS.badPayload);
    return reply.code(400).send({ error: 'bad-payload', message: 'empty body' });
  }
  const result = parsePayload(body, kind, reader, format, ceHeaders(req));
  if (!result.ok) {
    // Every bad record of a batch is one drop, not the whole batch.
    if (result.skipped) for (const s of result.skipped) counters.drop(s.reason);
    else counters.drop(result.reason);
    return reply.code(400).send({
      error: result.reason,
      message: result.message,
      position: result.position,
      ...(result.skipped && {
        skipped: result.skipped.slice(0, MAX_SKIPPED_REPORTED),
        skippedTotal: result.skipped.length,
      }),
    });
  }
  for (const s of result.skipped) counters.drop(s.reason);
  counters.eventsIn += result.events.length;
  if (emit) {
    // canWait=false: the pipeline drops and counts when full; never await here.
    for (const e of result.events) void emit(e);
  }
  return reply.code(202).send({
    accepted: result.events.length,
    records: result.records,
    skipped: result.skipped.slice(0, MAX_SKIPPED_REPORTED),
    skippedTotal: result.skipped.length,
  });
}

function ceHeaders(req: FastifyRequest): CeHeaders | undefined {
  if (req.headers['ce-specversion'] === undefined) return undefined;
  const out: CeHeaders = {};
  for (const [k, v] of Object.entries(req.headers)) {
    if (k.startsWith('ce-') && typeof v === 'string') out[k.slice(3)] = v;
  }
  out.datacontenttype = 'application/json';
  return out;
}
