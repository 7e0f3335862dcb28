/** The local HTTP server's own metrics (see docs/metrics.md). */
import { Counter, Gauge } from 'prom-client';
import { registry } from '../observability/metrics.js';

export const sseClients = new Gauge({
  name: 'kyverno_runtime_sse_clients',
  help: 'Clients connected to the live verdict stream (/api/stream).',
  registers: [registry],
});

export const sseMessagesDropped = new Counter({
  name: 'kyverno_runtime_sse_clients_dropped_total',
  help: 'Stream clients disconnected by the server, by reason (slow: their buffer overflowed; limit: too many clients).',
  labelNames: ['reason'] as const,
  registers: [registry],
});

export const httpRequestsRejected = new Counter({
  name: 'kyverno_runtime_http_rejected_total',
  help: 'Local API requests refused before routing, by reason (unauthorized, bad-host).',
  labelNames: ['reason'] as const,
  registers: [registry],
});
