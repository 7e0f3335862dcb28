/**
 * The live verdict stream (Server-Sent Events). Each client has a bounded buffer: while its socket is
 * congested, messages queue there; when the buffer overflows the client is disconnected and counted
 * (reason "slow") so one stalled browser never holds memory or slows the engine. Heartbeat comments
 * keep proxies from closing idle streams and let clients detect a dead server.
 */
import type { ServerResponse } from 'node:http';
import type { Verdict } from '../contracts/verdict.js';
import { toStreamVerdict } from './wire.js';
import { sseClients, sseMessagesDropped } from './metrics.js';

export interface SseOptions {
  /** Messages queued per client before it is dropped. Default 256. */
  maxBuffered?: number;
  /** Default 15 s. */
  heartbeatMs?: number;
  /** Default 100. */
  maxClients?: number;
}

interface Client {
  res: ServerResponse;
  queue: string[];
  congested: boolean;
}

export class SseHub {
  private readonly clients = new Set<Client>();
  private readonly maxBuffered: number;
  private readonly maxClients: number;
  private readonly heartbeat: NodeJS.Timeout;
  private nextId = 1;
  dropped = 0;

  constructor(options: SseOptions = {}) {
    this.maxBuffered = options.maxBuffered ?? 256;
    this.maxClients = options.maxClients ?? 100;
    this.heartbeat = setInterval(() => this.send(': heartbeat\n\n'), options.heartbeatMs ?? 15_000);
    this.heartbeat.unref();
  }

  get size(): number {
    return this.clients.size;
  }

  /** Takes over a response as an event stream. Returns false (and ends it) when at the client limit. */
  attach(res: ServerResponse, extraHeaders: Record<string, string> = {}): boolean {
    if (this.clients.size >= this.maxClients) {
      sseMessagesDropped.inc({ reason: 'limit' });
      res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '5', ...extraHeaders });
      res.end(JSON.stringify({ error: { code: 'STREAM_CLIENT_LIMIT', message: 'too many stream clients' } }));
      return false;
    }
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
      ...extraHeaders,
    });
    const client: Client = { res, queue: [], congested: false };
    this.clients.add(client);
    sseClients.set(this.clients.size);
    res.on('close', () => this.remove(client));
    res.on('drain', () => this.pump(client));
    this.write(client, 'retry: 2000\n: connected\n\n');
    return true;
  }

  publish(verdicts: readonly Verdict[]): void {
    if (this.clients.size === 0 || verdicts.length === 0) return;
    for (const v of verdicts) {
      this.send(`id: ${this.nextId++}\nevent: verdict\ndata: ${JSON.stringify(toStreamVerdict(v))}\n\n`);
    }
  }

  private send(message: string): void {
    for (const c of this.clients) this.write(c, message);
  }

  private write(c: Client, message: string): void {
    if (c.congested) {
      if (c.queue.length >= this.maxBuffered) {
        this.dropped++;
        sseMessagesDropped.inc({ reason: 'slow' });
        this.remove(c);
        c.res.destroy();
        return;
      }
      c.queue.push(message);
      return;
    }
    c.congested = !c.res.write(message);
  }

  private pump(c: Client): void {
    c.congested = false;
    while (c.queue.length > 0 && !c.congested) c.congested = !c.res.write(c.queue.shift()!);
  }

  private remove(c: Client): void {
    if (this.clients.delete(c)) sseClients.set(this.clients.size);
  }

  close(): void {
    clearInterval(this.heartbeat);
    for (const c of this.clients) c.res.end();
    this.clients.clear();
    sseClients.set(0);
  }
}
