/**
 * The local HTTP server of `kyverno-runtime run`: probes, Prometheus metrics, the JSON API over the
 * embedded store, the live verdict stream and the dashboard's static assets. Loopback by default;
 * beyond loopback it requires a bearer token unless explicitly told otherwise.
 */
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { AddressInfo } from 'node:net';
import type { RuntimeEvent } from '../events/types.js';
import type { Verdict } from '../contracts/verdict.js';
import { createLogger, type Logger } from '../observability/logger.js';
import { registry } from '../observability/metrics.js';
import { CursorError, type ReportStore } from '../reports/store/index.js';
import {
  checkListenSafety,
  hostCheckFor,
  isLoopbackHost,
  staticTokens,
  tokenFile,
  type TokenSource,
} from '../net/access.js';
import { httpRequestsRejected } from './metrics.js';
import { RateTracker } from './rates.js';
import { BadRequest, registerApi } from './routes/api.js';
import { SseHub, type SseOptions } from './sse.js';
import { defaultUiDir, loadAssets } from './static.js';
import type { LocalServerProviders } from './types.js';

export type { LocalServerProviders } from './types.js';
export { ServerConfigError, isLoopbackHost } from '../net/access.js';
export { SseHub } from './sse.js';
export { toStreamVerdict, type StreamVerdict, type PoliciesResponse, type SourcesResponse } from './wire.js';

export interface LocalServerOptions extends LocalServerProviders {
  store: ReportStore;
  /** Default 127.0.0.1:8080 (as `run --listen`). Port 0 picks a free port. */
  listen?: { host?: string; port?: number };
  auth?: {
    /** Bearer token required on /api/* and /metrics (probes and the dashboard shell stay open). */
    token?: string;
    /** File of accepted bearer tokens, one per line, re-read when it changes (instead of `token`). */
    tokenFile?: string;
    /** Allow listening beyond loopback without a token. */
    allowUnauthenticated?: boolean;
  };
  /** Built dashboard assets. Default: dist/ui of this package. */
  uiDir?: string;
  /** Concurrent connections (dashboard tabs, stream clients, scrapers). Default 256. */
  maxConnections?: number;
  /** On close, connections still open after this are destroyed. Default 2 s. */
  shutdownGraceMs?: number;
  logger?: Logger;
  stream?: SseOptions;
}

export interface LocalServer {
  /** http://host:port/ actually bound. */
  readonly url: string;
  readonly app: FastifyInstance;
  /** Sends verdicts to every stream client. */
  publish(verdicts: readonly Verdict[]): void;
  /** A pipeline VerdictSink that publishes to the stream. */
  readonly sink: { readonly name: string; write(verdicts: Verdict[], event: RuntimeEvent): void };
  close(): Promise<void>;
}

export const DEFAULT_LISTEN = { host: '127.0.0.1', port: 8080 } as const;
export const DEFAULT_API_MAX_CONNECTIONS = 256;

const SECURITY_HEADERS: Record<string, string> = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'content-security-policy':
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'",
};

function isProtected(url: string): boolean {
  return url.startsWith('/api/') || url === '/api' || url.startsWith('/metrics');
}

export async function createLocalServer(options: LocalServerOptions): Promise<LocalServer> {
  const host = options.listen?.host ?? DEFAULT_LISTEN.host;
  const port = options.listen?.port ?? DEFAULT_LISTEN.port;
  const tokens = apiTokens(options);
  checkListenSafety(host, tokens !== undefined, options.auth?.allowUnauthenticated ?? false);
  // Without a token on loopback, the Host header is the only thing stopping DNS rebinding.
  const hostOk = !tokens && isLoopbackHost(host) ? hostCheckFor(host) : undefined;

  const app = createServer(options);
  const hub = new SseHub(options.stream);
  const rates = new RateTracker();
  const assets = loadAssets(options.uiDir ?? defaultUiDir());
  // Sample sources every 2 s so events/s is meaningful even on the first /api/sources call.
  const sampler = setInterval(() => {
    for (const s of options.sources()) rates.rate(s.name, s.eventsIn);
  }, 2000);
  sampler.unref();

  registerAccessHooks(app, hostOk, tokens);
  registerErrorHandler(app, options.logger);
  registerProbes(app, () => options.ready());
  registerApi(app, { ...options, store: options.store, hub, rates, streamHeaders: () => SECURITY_HEADERS });
  registerDashboard(app, assets);

  await app.listen({ host, port });
  const addr = app.server.address() as AddressInfo;
  const shownHost = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  const url = `http://${shownHost}:${addr.port}/`;

  const publish = (verdicts: readonly Verdict[]): void => hub.publish(verdicts);
  return {
    url,
    app,
    publish,
    sink: { name: 'stream', write: (verdicts) => publish(verdicts) },
    async close() {
      clearInterval(sampler);
      hub.close();
      tokens?.close();
      // app.close() waits for every open connection; a client that keeps one open (a stalled
      // stream, a hung request) must not hold the shutdown, so after the grace they are cut.
      const force = setTimeout(() => app.server.closeAllConnections(), options.shutdownGraceMs ?? 2000);
      app.server.closeIdleConnections();
      try {
        await app.close();
      } finally {
        clearTimeout(force);
      }
    },
  };
}

/** Tokens from a file (re-read on change), else the one given, else none. */
function apiTokens(options: LocalServerOptions): TokenSource | undefined {
  if (options.auth?.tokenFile !== undefined) {
    return tokenFile(options.auth.tokenFile, {
      onError: (err) =>
        options.logger?.error(
          { err: err.message },
          'API token file re-read failed; keeping the previous tokens',
        ),
    });
  }
  return options.auth?.token ? staticTokens([options.auth.token]) : undefined;
}

/** The fastify instance with its limits: tiny bodies, request deadlines, a connection cap. */
function createServer(options: LocalServerOptions): FastifyInstance {
  const loggerInstance: FastifyBaseLogger = options.logger ?? createLogger({ level: 'silent' });
  const app = Fastify({
    loggerInstance,
    // Per-request logs would drown the verdict log; errors are still logged.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 16 * 1024, // the API takes no bodies; anything bigger is abuse
    requestTimeout: 30_000,
    keepAliveTimeout: 5000,
    // Node checks request deadlines every 30 s by default; a trickling client would outlive them.
    http: { requestTimeout: 30_000, headersTimeout: 30_000, connectionsCheckingInterval: 1000 },
    return503OnClosing: true,
  });
  app.server.maxConnections = options.maxConnections ?? DEFAULT_API_MAX_CONNECTIONS;
  app.server.on('drop', () => httpRequestsRejected.inc({ reason: 'too-many-connections' }));
  return app;
}

/** Host check (DNS rebinding) and the bearer token on protected paths; security headers on every answer. */
function registerAccessHooks(
  app: FastifyInstance,
  hostOk: ((host: string | undefined) => boolean) | undefined,
  tokens: TokenSource | undefined,
): void {
  app.addHook('onRequest', async (req, reply) => {
    if (hostOk && !hostOk(req.headers.host)) {
      httpRequestsRejected.inc({ reason: 'bad-host' });
      return reply.code(403).send({ error: { code: 'BAD_HOST', message: 'Host must be a loopback name' } });
    }
    if (tokens && isProtected(req.url) && !tokens.authorizationOk(req.headers.authorization)) {
      httpRequestsRejected.inc({ reason: 'unauthorized' });
      return reply
        .code(401)
        .header('www-authenticate', 'Bearer realm="kyverno-runtime"')
        .send({ error: { code: 'UNAUTHORIZED', message: 'missing or wrong bearer token' } });
    }
  });
  app.addHook('onSend', async (_req, reply, payload) => {
    reply.headers(SECURITY_HEADERS);
    return payload;
  });
}

function registerErrorHandler(app: FastifyInstance, logger: Logger | undefined): void {
  app.setErrorHandler((err, _req, reply) => {
    if (err instanceof BadRequest || err instanceof CursorError) {
      return reply.code(400).send({ error: { code: err.code, message: err.message } });
    }
    const e = err as { statusCode?: number; code?: string; message?: string };
    if (e.statusCode !== undefined && e.statusCode >= 400 && e.statusCode < 500) {
      return reply
        .code(e.statusCode)
        .send({ error: { code: e.code ?? 'BAD_REQUEST', message: e.message ?? 'bad request' } });
    }
    logger?.error({ err }, 'local API request failed');
    return reply
      .code(500)
      .send({ error: { code: 'INTERNAL', message: 'internal error (see the server log)' } });
  });
}

function registerProbes(app: FastifyInstance, isReady: () => boolean): void {
  app.get('/healthz', () => ({ status: 'ok' }));
  app.get('/readyz', (_req, reply) => {
    const ready = isReady();
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not-ready' });
  });
  app.get('/metrics', async (_req, reply) => {
    return reply.type(registry.contentType).send(await registry.metrics());
  });
}

function registerDashboard(app: FastifyInstance, assets: ReturnType<typeof loadAssets>): void {
  // The dashboard: assets by exact path; any other GET outside /api is the single-page app.
  const index = assets.get('/index.html');
  app.setNotFoundHandler((req, reply) => {
    const path = req.url.split('?')[0] ?? '/';
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      return reply.code(404).send({ error: { code: 'NOT_FOUND', message: `${req.method} ${path}` } });
    }
    if (isProtected(path)) {
      return reply.code(404).send({ error: { code: 'NOT_FOUND', message: `no endpoint ${path}` } });
    }
    const asset = assets.get(path) ?? (path.startsWith('/assets/') ? undefined : index);
    if (!asset) {
      const message = index ? `no asset ${path}` : 'dashboard not built: run `npm run build`';
      return reply.code(404).send({ error: { code: 'NOT_FOUND', message } });
    }
    reply
      .header('etag', asset.etag)
      .header('cache-control', asset.immutable ? 'public, max-age=31536000, immutable' : 'no-cache')
      .type(asset.type);
    if (req.headers['if-none-match'] === asset.etag) return reply.code(304).send();
    return reply.send(asset.body);
  });
}
