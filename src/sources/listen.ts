/**
 * Listening and connection bookkeeping shared by the network inputs (HTTP receiver, NDJSON TCP):
 * a TCP address or a unix socket created owner-only, a cap on concurrent connections with refusals
 * counted, and a shutdown that closes every client connection within a bounded grace period (an
 * idle client must not keep the process alive after SIGTERM).
 */
import { KyvernoRuntimeError } from '../contracts/errors.js';
import { chmodSync, lstatSync, unlinkSync } from 'node:fs';
import { connect, type AddressInfo, type Server, type Socket } from 'node:net';
import { staticTokens, tokenFile, type TokenSource } from '../net/access.js';
import type { Logger } from '../observability/logger.js';
import { ingestConnections, ingestConnectionsClosed } from '../observability/metrics.js';

export type ListenTarget =
  | { kind: 'tcp'; host: string; port: number }
  /** `mode` defaults to 0o600: only the owner (root, for `run`) may connect. */
  | { kind: 'unix'; path: string; mode?: number };

/** How a network input listens and whom it accepts: the options the HTTP and TCP inputs share. */
export interface ListenAuthOptions {
  /** Listen on this unix socket instead of host:port. */
  socketPath?: string;
  socketMode?: number;
  /** Accepted tokens, one per line, re-read when the file changes (wins over authTokens). */
  tokenFile?: string;
  authTokens?: readonly string[];
}

/** Where an input listens: its unix socket when it has one, else host:port. */
export function listenTarget(options: ListenAuthOptions, host: string, port: number): ListenTarget {
  if (options.socketPath === undefined) return { kind: 'tcp', host, port };
  return {
    kind: 'unix',
    path: options.socketPath,
    ...(options.socketMode !== undefined && { mode: options.socketMode }),
  };
}

/** Tokens from a file (re-read on change), else the static ones, else none. `input` names it in logs. */
export function tokenSourceFor(
  options: ListenAuthOptions,
  input: string,
  log: Logger | undefined,
): TokenSource | undefined {
  if (options.tokenFile !== undefined) {
    return tokenFile(options.tokenFile, {
      onReload: (n) => log?.info({ tokens: n }, `${input}: token file re-read`),
      onError: (err) =>
        log?.error({ err: err.message }, `${input}: token file re-read failed; keeping the previous tokens`),
    });
  }
  return (options.authTokens ?? []).some((t) => t.length > 0)
    ? staticTokens(options.authTokens ?? [])
    : undefined;
}

export const DEFAULT_SOCKET_MODE = 0o600;
export const DEFAULT_MAX_CONNECTIONS = 256;
export const DEFAULT_SHUTDOWN_GRACE_MS = 2000;

export class SocketPathError extends KyvernoRuntimeError {
  constructor(message: string) {
    super('E_SOCKET_PATH', message);
  }
}

/** True when something accepts connections on the unix socket at `path`. */
function socketInUse(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/**
 * Removes a stale socket file left by a previous run, and nothing else: a regular file, a directory
 * or a symlink at the path is refused (never unlink what someone pointed us at), and a live socket
 * (another instance answering) is refused rather than hijacked.
 */
async function clearStaleSocket(path: string): Promise<void> {
  let st;
  try {
    st = lstatSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  if (!st.isSocket()) {
    throw new SocketPathError(`refusing to listen on unix:${path}: the path exists and is not a socket`);
  }
  if (await socketInUse(path)) {
    throw new SocketPathError(`refusing to listen on unix:${path}: another process is listening there`);
  }
  unlinkSync(path);
}

/** Listens on `target`; resolves with the address to show ("127.0.0.1:2801" or "unix:/path"). */
export async function listenOn(server: Server, target: ListenTarget): Promise<string> {
  if (target.kind === 'unix') await clearStaleSocket(target.path);
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    server.once('error', onError);
    const done = (): void => {
      server.off('error', onError);
      resolve();
    };
    if (target.kind === 'tcp') {
      server.listen(target.port, target.host, done);
      return;
    }
    // bind(2) creates the socket file with the process umask; a umask of 0177 makes it owner-only
    // from its first instant, so no client can connect in the window before the chmod below. The
    // bind of a path happens synchronously inside listen(), so the umask is restored right after.
    const old = process.umask(0o177);
    try {
      server.listen(target.path, done);
    } finally {
      process.umask(old);
    }
  });
  if (target.kind === 'unix') {
    chmodSync(target.path, target.mode ?? DEFAULT_SOCKET_MODE);
    return `unix:${target.path}`;
  }
  const addr = server.address() as AddressInfo;
  return addr.family === 'IPv6' ? `[${addr.address}]:${addr.port}` : `${addr.address}:${addr.port}`;
}

export interface ConnectionGuardOptions {
  /** Source name (metric label). */
  source: string;
  /** Concurrent connections allowed; further ones are closed at once and counted. */
  maxConnections: number;
  /** Called per refused connection (the source's own stats). */
  onRefused?: () => void;
}

/**
 * Tracks a server's client sockets: the cap (Node's `maxConnections`, which closes the surplus and
 * emits "drop"), the open-connections gauge, and a bounded close.
 */
export class ConnectionGuard {
  readonly sockets = new Set<Socket>();

  constructor(
    private readonly server: Server,
    private readonly opts: ConnectionGuardOptions,
  ) {
    server.maxConnections = opts.maxConnections;
    server.on('drop', () => {
      ingestConnectionsClosed.inc({ source: opts.source, reason: 'too-many-connections' });
      opts.onRefused?.();
    });
    server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      ingestConnections.inc({ source: opts.source });
      socket.once('close', () => {
        this.sockets.delete(socket);
        ingestConnections.dec({ source: opts.source });
      });
    });
  }

  /** Counts a connection the source itself cut (auth failure, timeout). */
  closed(reason: string): void {
    ingestConnectionsClosed.inc({ source: this.opts.source, reason });
  }

  /**
   * Stops accepting, lets `beforeForce` ask clients to finish (e.g. end idle HTTP keep-alives),
   * then destroys whatever is still open after `graceMs`. Resolves once the server is closed.
   */
  async close(graceMs: number, politely?: () => void): Promise<void> {
    const closed = new Promise<void>((resolve) => {
      if (!this.server.listening) {
        resolve();
        return;
      }
      this.server.close(() => resolve());
    });
    politely?.();
    if (this.sockets.size > 0) {
      const allGone = new Promise<void>((resolve) => {
        const check = (): void => {
          if (this.sockets.size === 0) resolve();
        };
        for (const s of this.sockets) s.once('close', check);
      });
      let timer: NodeJS.Timeout | undefined;
      const grace = new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)));
      await Promise.race([allGone, grace]);
      clearTimeout(timer);
      for (const s of this.sockets) {
        this.closed('shutdown');
        s.destroy();
      }
    }
    await closed;
  }
}
