/**
 * NDJSON over TCP: each connection is an independent stream of lines. TCP carries its own flow
 * control, so this input waits (canWait) instead of dropping: a full queue pauses reading and the
 * sender's socket buffer fills. There is no per-connection authentication in plain NDJSON, so the
 * same rule as HTTP applies: beyond loopback only with `allowUnauthenticated` (use HTTP with a
 * bearer token or mTLS for remote senders).
 */
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type { Logger } from '../../observability/logger.js';
import { ListenPolicyError, isLoopbackHost } from '../http/auth.js';
import { SourceCounters, type InputFormat } from '../records.js';
import type { EventSource, SourceStats } from '../types.js';
import { readNdjsonStream } from './stream-reader.js';

export interface TcpSourceOptions {
  name?: string;
  /** Default 127.0.0.1. */
  host?: string;
  /** 0 = any free port. */
  port: number;
  format?: InputFormat;
  maxLineBytes?: number;
  /** Default 64. Further connections are refused and counted ("too-many-connections"). */
  maxConnections?: number;
  allowUnauthenticated?: boolean;
  logger?: Logger;
}

export interface TcpSource extends EventSource {
  address(): { host: string; port: number } | undefined;
}

export function createTcpSource(options: TcpSourceOptions): TcpSource {
  const host = options.host ?? '127.0.0.1';
  const counters = new SourceCounters(options.name ?? 'tcp', 'ndjson-tcp');
  const maxConnections = options.maxConnections ?? 64;
  const sockets = new Set<Socket>();
  const readers = new Set<Promise<void>>();
  let server: Server | undefined;
  let bound: { host: string; port: number } | undefined;

  return {
    name: counters.name,
    canWait: true,
    address: () => bound,
    async start(emit) {
      if (!isLoopbackHost(host)) {
        if (!options.allowUnauthenticated) throw new ListenPolicyError(host);
        options.logger?.warn(
          { host, port: options.port },
          'NDJSON TCP input listens beyond loopback WITHOUT authentication',
        );
      }
      server = createServer((socket) => {
        if (sockets.size >= maxConnections) {
          counters.drop('too-many-connections');
          socket.destroy();
          return;
        }
        sockets.add(socket);
        const origin = `tcp ${socket.remoteAddress ?? '?'}:${socket.remotePort ?? 0}`;
        const reader = readNdjsonStream(socket, emit, {
          format: options.format ?? 'auto',
          maxLineBytes: options.maxLineBytes ?? 1024 * 1024,
          counters,
          origin,
          ...(options.logger ? { logger: options.logger } : {}),
        })
          .catch((err: unknown) => {
            // A reset connection ends that stream only; the listener keeps serving.
            counters.lastError = err instanceof Error ? err.message : String(err);
            options.logger?.warn({ err, origin }, 'NDJSON TCP connection failed');
          })
          .finally(() => {
            sockets.delete(socket);
            readers.delete(reader);
          });
        readers.add(reader);
      });
      const srv = server;
      await new Promise<void>((resolve, reject) => {
        srv.once('error', reject);
        srv.listen(options.port, host, () => {
          srv.off('error', reject);
          resolve();
        });
      });
      const addr = srv.address() as AddressInfo;
      bound = { host: addr.address, port: addr.port };
      counters.status = 'running';
    },
    async stop() {
      counters.status = 'stopped';
      const srv = server;
      if (!srv) return;
      const closed = new Promise<void>((resolve) => srv.close(() => resolve()));
      for (const s of sockets) s.end();
      await Promise.all([...readers]);
      for (const s of sockets) s.destroy();
      await closed;
    },
    stats(): SourceStats {
      return counters.snapshot();
    },
  };
}
