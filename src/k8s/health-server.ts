/**
 * Probe and metrics endpoints for the in-cluster agent (controller-runtime conventions):
 * /healthz — the process and its event loop answer (never checks the API server: a liveness probe
 * that depends on the API server restarts every agent during an API server outage);
 * /readyz — caches synced and policies loaded; /metrics — Prometheus text.
 */
import { createServer, type Server } from 'node:http';
import { registry } from '../observability/metrics.js';

export interface HealthServerOptions {
  host: string;
  port: number;
  ready: () => boolean;
}

export async function startHealthServer(opts: HealthServerOptions): Promise<Server> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET') {
      res.writeHead(405).end();
      return;
    }
    if (path === '/healthz' || path === '/livez') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
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
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, resolve);
  });
  return server;
}
