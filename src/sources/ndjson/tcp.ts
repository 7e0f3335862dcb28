/**
 * NDJSON over TCP (or a unix socket): each connection is an independent stream of lines. TCP carries
 * its own flow control, so this input waits (canWait) instead of dropping: a full queue pauses
 * reading and the sender's socket buffer fills.
 *
 * Authentication: with tokens configured, the first line of every connection must be one of them
 * (the raw token, no JSON), sent within `authTimeoutMs`; otherwise the connection gets
 * "ERR unauthorized" and is closed, counted. A unix socket is created owner-only (0600). Beyond
 * loopback, a token is required unless `allowUnauthenticated`.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { Logger } from '../../observability/logger.js';
import { ListenPolicyError, isLoopbackHost, type TokenSource } from '../../net/access.js';
import {
  ConnectionGuard,
  DEFAULT_MAX_CONNECTIONS,
  DEFAULT_SHUTDOWN_GRACE_MS,
  listenOn,
  listenTarget,
  tokenSourceFor,
} from '../listen.js';
import { RecordReader } from '../record-reader.js';
import { SourceCounters, type InputFormat } from '../records.js';
import type { EmitFn, EventSource, SourceStats } from '../types.js';
import { readNdjsonStream } from './stream-reader.js';

export interface TcpSourceOptions {
  name?: string;
  /** Default 127.0.0.1. */
  host?: string;
  /** 0 = any free port. */
  port: number;
  /** Listen on this unix socket instead (created with `socketMode`, default 0600). */
  socketPath?: string;
  socketMode?: number;
  format?: InputFormat;
  /** Longest line; longer ones are skipped unbuffered and counted "too-large". Default 1 MiB. */
  maxLineBytes?: number;
  /** Default 256. Further connections are refused and counted ("too-many-connections"). */
  maxConnections?: number;
  /** Accepted tokens: the first line of each connection must be one of them. */
  authTokens?: string[];
  /** File of accepted tokens, one per line, re-read when it changes. */
  tokenFile?: string;
  /** Time a connection has to send its token line. Default 10 s. */
  authTimeoutMs?: number;
  /**
   * A connection that sends nothing for this long is closed (counted "idle-timeout"); a connection
   * held back by backpressure is not idle. Default 5 min.
   */
  idleTimeoutMs?: number;
  /** On stop, connections still open after this are destroyed. Default 2 s. */
  shutdownGraceMs?: number;
  allowUnauthenticated?: boolean;
  logger?: Logger;
}

export interface TcpSource extends EventSource {
  /** Bound TCP address once started (undefined on a unix socket). */
  address(): { host: string; port: number } | undefined;
  /** "127.0.0.1:5555" or "unix:/path", once started. */
  endpoint(): string | undefined;
  /** What authenticates a sender: empty when anyone who can reach the address may send. */
  readonly authenticatedBy: readonly ('token' | 'unix-socket')[];
}

/** The token line is short; a client that streams bytes without a newline is not sending one. */
const MAX_TOKEN_LINE_BYTES = 4096;

type AuthResult = { ok: true; rest: Buffer } | { ok: false; reason: 'unauthorized' | 'auth-timeout' };

/** Reads the first line of `socket` and checks it against `tokens`; leaves the socket paused. */
function authenticate(socket: Socket, tokens: TokenSource, timeoutMs: number): Promise<AuthResult> {
  return new Promise((resolve) => {
    let held: Buffer = Buffer.alloc(0);
    const finish = (r: AuthResult): void => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('close', onEnd);
      socket.pause();
      resolve(r);
    };
    const onData = (chunk: Buffer): void => {
      held = held.length === 0 ? chunk : Buffer.concat([held, chunk]);
      const nl = held.indexOf(0x0a);
      if (nl === -1) {
        if (held.length > MAX_TOKEN_LINE_BYTES) finish({ ok: false, reason: 'unauthorized' });
        return;
      }
      const presented = held.toString('utf8', 0, nl).trim();
      if (nl > MAX_TOKEN_LINE_BYTES || !tokens.matches(presented)) {
        finish({ ok: false, reason: 'unauthorized' });
        return;
      }
      finish({ ok: true, rest: held.subarray(nl + 1) });
    };
    const onEnd = (): void => finish({ ok: false, reason: 'unauthorized' });
    const timer = setTimeout(() => finish({ ok: false, reason: 'auth-timeout' }), timeoutMs);
    socket.on('data', onData);
    socket.once('end', onEnd);
    socket.once('close', onEnd);
  });
}

/** What every connection's reader needs: where records go, its limits, and the set of live readers. */
interface ConnectionContext {
  records: RecordReader;
  counters: SourceCounters;
  readers: Set<Promise<void>>;
  idleTimeoutMs: number;
  maxLineBytes: number;
  log: Logger | undefined;
}

export function createTcpSource(options: TcpSourceOptions): TcpSource {
  const host = options.host ?? '127.0.0.1';
  const counters = new SourceCounters(options.name ?? 'tcp', 'ndjson-tcp');
  const log = options.logger;
  const target = listenTarget(options, host, options.port);
  const tokens = tokenSourceFor(options, 'NDJSON TCP input', log);
  const authenticatedBy: ('token' | 'unix-socket')[] = [];
  if (tokens) authenticatedBy.push('token');
  if (target.kind === 'unix') authenticatedBy.push('unix-socket');
  const authTimeoutMs = options.authTimeoutMs ?? 10_000;
  const graceMs = options.shutdownGraceMs ?? DEFAULT_SHUTDOWN_GRACE_MS;
  const ctx: ConnectionContext = {
    records: new RecordReader({
      counters,
      format: options.format ?? 'auto',
      ...(log ? { logger: log } : {}),
    }),
    counters,
    readers: new Set(),
    idleTimeoutMs: options.idleTimeoutMs ?? 5 * 60_000,
    maxLineBytes: options.maxLineBytes ?? 1024 * 1024,
    log,
  };
  let server: Server | undefined;
  let guard: ConnectionGuard | undefined;
  let bound: { host: string; port: number } | undefined;
  let shown: string | undefined;

  return {
    name: counters.name,
    canWait: true,
    address: () => bound,
    endpoint: () => shown,
    authenticatedBy,
    async start(emit) {
      if (target.kind === 'tcp' && !isLoopbackHost(host) && !tokens) {
        if (!options.allowUnauthenticated) throw new ListenPolicyError(host);
        log?.warn(
          { host, port: options.port },
          'NDJSON TCP input listens beyond loopback WITHOUT authentication',
        );
      }
      const srv = createServer((socket) => {
        socket.on('error', () => undefined); // a reset is the reader's business, never a crash
        if (tokens) authenticateThenRead(socket, emit, tokens, authTimeoutMs, g, ctx);
        else readConnection(socket, emit, undefined, g, ctx);
      });
      const g = new ConnectionGuard(srv, {
        source: counters.name,
        maxConnections: options.maxConnections ?? DEFAULT_MAX_CONNECTIONS,
        onRefused: () => counters.drop('too-many-connections'),
      });
      server = srv;
      guard = g;
      shown = await listenOn(srv, target);
      const addr = srv.address();
      if (addr !== null && typeof addr === 'object') bound = { host: addr.address, port: addr.port };
      counters.status = 'running';
      log?.info({ address: shown, authenticatedBy }, 'NDJSON TCP input listening');
    },
    async stop() {
      counters.status = 'stopped';
      tokens?.close();
      if (!server || !guard) return;
      const g = guard;
      // Ask senders to finish (FIN), give them the grace period, then cut what is left: an idle
      // client that never closes its side must not hold the shutdown.
      await g.close(graceMs, () => {
        for (const s of g.sockets) s.end();
      });
      await settleWithin(ctx.readers, graceMs);
    },
    stats(): SourceStats {
      return counters.snapshot();
    },
  };
}

/** The first line must be a token: then the rest of the connection is read, else it is refused. */
function authenticateThenRead(
  socket: Socket,
  emit: EmitFn,
  tokens: TokenSource,
  timeoutMs: number,
  guard: ConnectionGuard,
  ctx: ConnectionContext,
): void {
  void authenticate(socket, tokens, timeoutMs).then((r) => {
    if (r.ok) readConnection(socket, emit, r.rest, guard, ctx);
    else refuse(socket, r.reason, ctx.counters, guard);
  });
}

/** Counts the refusal, tells the peer, and closes its socket. */
function refuse(
  socket: Socket,
  reason: 'unauthorized' | 'auth-timeout',
  counters: SourceCounters,
  guard: ConnectionGuard,
): void {
  counters.drop(reason);
  guard.closed(reason);
  if (socket.destroyed) return;
  socket.end('ERR unauthorized\n');
  // The peer may not read our reply; do not keep its socket for it.
  setTimeout(() => socket.destroy(), 1000).unref();
}

/** Streams one connection's lines into `emit`, closing it when idle (but not when held by backpressure). */
function readConnection(
  socket: Socket,
  emit: EmitFn,
  prefix: Buffer | undefined,
  guard: ConnectionGuard,
  ctx: ConnectionContext,
): void {
  const origin = `tcp ${socket.remoteAddress ?? 'unix'}:${socket.remotePort ?? 0}`;
  // A reader parked on a full queue reads nothing, which is backpressure, not idleness.
  let waiting = 0;
  socket.setTimeout(ctx.idleTimeoutMs);
  socket.on('timeout', () => {
    if (waiting > 0) {
      socket.setTimeout(ctx.idleTimeoutMs);
      return;
    }
    guard.closed('idle-timeout');
    socket.destroy();
  });
  const tracked: EmitFn = (e) => {
    const wait = emit(e);
    if (!wait) return;
    waiting++;
    return wait.finally(() => waiting--);
  };
  const reader = readNdjsonStream(socket, tracked, {
    reader: ctx.records,
    maxLineBytes: ctx.maxLineBytes,
    origin,
    ...(prefix && prefix.length > 0 ? { prefix } : {}),
  })
    .catch((err: unknown) => {
      // A reset connection ends that stream only; the listener keeps serving.
      ctx.counters.lastError = err instanceof Error ? err.message : String(err);
      ctx.log?.debug({ err, origin }, 'NDJSON TCP connection ended with an error');
    })
    .finally(() => ctx.readers.delete(reader));
  ctx.readers.add(reader);
}

/**
 * Waits for the readers, at most `graceMs`: readers parked on a full queue finish when the pipeline
 * drains or refuses them, and a stuck sink must not hold the source's stop.
 */
async function settleWithin(readers: Set<Promise<void>>, graceMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([Promise.all([...readers]), new Promise<void>((r) => (timer = setTimeout(r, graceMs)))]);
  clearTimeout(timer);
}
