/** /api/*: the store's views, policies and sources, and the live stream. */
import { KyvernoRuntimeError } from '../../contracts/errors.js';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { z } from 'zod';
import type { ReportStore } from '../../reports/store/index.js';
import type { SseHub } from '../sse.js';
import type { RateTracker } from '../rates.js';
import type { LocalServerProviders } from '../types.js';
import type { PoliciesResponse, SourcesResponse } from '../wire.js';
import { compact, eventsQuery, idParams, summaryQuery, timelineQuery, violationListQuery } from './query.js';

export class BadRequest extends KyvernoRuntimeError {
  constructor(message: string) {
    super('BAD_REQUEST', message);
  }
}

function parse<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const r = schema.safeParse(input);
  if (!r.success) {
    const issue = r.error.issues[0];
    const where = issue?.path.join('.') || 'query';
    throw new BadRequest(`${where}: ${issue?.message ?? 'invalid'}`);
  }
  return r.data;
}

export interface ApiDeps extends LocalServerProviders {
  store: ReportStore;
  hub: SseHub;
  rates: RateTracker;
  streamHeaders: () => Record<string, string>;
}

export function registerApi(app: FastifyInstance, deps: ApiDeps): void {
  const { store } = deps;

  app.get('/api/violations', (req) => {
    const { limit, cursor, offset, ...filter } = parse(violationListQuery, req.query);
    return store.listViolations(compact(filter), compact({ limit, cursor, offset }));
  });

  app.get('/api/violations/summary', (req) => {
    const { top, ...filter } = parse(summaryQuery, req.query);
    return store.breakdown(compact(filter), top);
  });

  app.get('/api/violations/:id', (req, reply: FastifyReply) => {
    const { id } = parse(idParams, req.params);
    const v = store.getViolation(id);
    if (!v) return reply.code(404).send({ error: { code: 'NOT_FOUND', message: `no violation ${id}` } });
    return v;
  });

  app.get('/api/events', (req) => {
    const q = parse(eventsQuery, req.query);
    return { items: store.recentEvents(q.limit ?? 100, q.before) };
  });

  app.get('/api/timeline', (req) => {
    const q = parse(timelineQuery, req.query);
    const minutes = q.minutes ?? 60;
    const step = q.step ?? Math.max(1, Math.ceil(minutes / 120));
    const now = Date.now();
    return { step, buckets: store.timeline(now - (minutes - 1) * 60_000, now, step) };
  });

  app.get('/api/policies', (): PoliciesResponse => {
    const { policies, errors, kernel } = deps.policies();
    return kernel === undefined ? { policies, errors } : { policies, errors, kernel };
  });

  app.get('/api/sources', (): SourcesResponse => ({
    sources: deps.sources().map((s) => ({ ...s, eventsPerSecond: deps.rates.rate(s.name, s.eventsIn) })),
  }));

  app.get('/api/stats', () => ({ store: store.stats(), streamClients: deps.hub.size }));

  app.get('/api/stream', (req, reply) => {
    reply.hijack();
    deps.hub.attach(reply.raw, deps.streamHeaders());
    // Keep the socket open indefinitely: the default timeouts are for request/response exchanges.
    req.raw.socket.setTimeout(0);
  });
}
