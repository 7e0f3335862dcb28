/**
 * Probe and metrics endpoints for the in-cluster agent (controller-runtime conventions):
 * /healthz — the process and its event loop answer (never checks the API server: a liveness probe
 * that depends on the API server restarts every agent during an API server outage);
 * /readyz — caches synced and policies loaded; /metrics — Prometheus text.
 */
import { createServer, type Server } from 'node:http';
import { ingestConnectionsClosed, registry } from '../observability/metrics.js';

/** Probes and scrapes are few and quick; anything holding more sockets than this is abuse. */
const MAX_CONNECTIONS = 64;
const REQUEST_TIMEOUT_MS = 10_000;

export interface HealthServerOptions {
  host: string;
  port: number;
  ready: () => boolean;
  /**
   * Lines added to /healthz (still 200: a stale input is not fixed by a restart, and the probe
   * must not restart every agent over it), e.g. "stale: file:/… no new data for 12 min".
   */
  details?: () => string[];
}

export async function startHealthServer(opts: HealthServerOptions): Promise<Server> {
  const server = createServer(
    {
      // The server is reachable from the pod network: a client trickling a request or parking
      // idle sockets must not hold them for long (Node checks deadlines every 30 s by default).
      requestTimeout: REQUEST_TIMEOUT_MS,
      headersTimeout: REQUEST_TIMEOUT_MS,
      keepAliveTimeout: 5000,
      connectionsCheckingInterval: 1000,
    },
    (req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      if (req.method !== 'GET') {
        res.writeHead(405).end();
        return;
      }
      if (path === '/healthz' || path === '/livez') {
        const lines = opts.details?.() ?? [];
        res.writeHead(200, { 'content-type': 'text/plain' }).end(['ok', ...lines].join('\n') + '\n');
      } else if (path === '/readyz') {
        const ok = opts.ready();
        res
          .writeHead(ok ? 200 : 503, { 'content-type': 'text/plain' })
          .end(ok ? 'ok\n' : 'not ready: caches syncing\n');
      } else if (path === '/metrics') {
        registry
          .metrics()
          .then((text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text))
          .catch(() => res.writeHead(500).end());
      } else {
        res.writeHead(404).end();
      }
    },
  );
  server.maxConnections = MAX_CONNECTIONS;
  server.on('drop', () =>
    ingestConnectionsClosed.inc({ source: `health:${opts.port}`, reason: 'too-many-connections' }),
  );
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, resolve);
  });
  return server;
}

/** Closes the server; connections still open after `graceMs` are cut so shutdown is bounded. */
export function closeHealthServer(server: Server, graceMs = 2000): Promise<void> {
  return new Promise((resolve) => {
    const force = setTimeout(() => server.closeAllConnections(), graceMs);
    server.close(() => {
      clearTimeout(force);
      resolve();
    });
    server.closeIdleConnections();
  });
}
