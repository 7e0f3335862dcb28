/**
 * A fake Tetragon agent for tests and benchmarks: a real grpc-js server implementing
 * FineGuidanceSensors.GetEvents from proto/tetragon.proto, streaming export-JSON events encoded
 * through the proto (so the client decodes real protobuf, exactly as from an agent).
 */
import * as grpc from '@grpc/grpc-js';
import { TetragonJson } from '../../../src/events/adapters/tetragon-grpc.js';
import { loadTetragonProto } from '../../../src/sources/tetragon-grpc/index.js';

export interface FakeTetragon {
  address: string;
  /** Requests received (allow/deny lists as decoded by the server). */
  requests: Record<string, unknown>[];
  /** Calls currently open. */
  open(): number;
  /** Events written so far, over all calls. */
  written(): number;
  /** Calls whose stream is full (the client stopped reading): the server waits for 'drain'. */
  blocked(): number;
  stop(): Promise<void>;
}

export interface FakeTetragonOptions {
  /** grpc bind address: unix:///path or 127.0.0.1:0. */
  bind: string;
  /**
   * Export-JSON events to stream to every subscriber. A Buffer is sent as is, as the bytes of one
   * message (a message that does not decode, as a buggy or hostile agent would send).
   */
  events: (Record<string, unknown> | Buffer)[];
  /** Send `events` this many times (default 1). */
  repeat?: number;
  /** End the stream after sending (default false: keep it open like a real agent). */
  endAfter?: boolean;
}

export async function startFakeTetragon(o: FakeTetragonOptions): Promise<FakeTetragon> {
  const def = loadTetragonProto();
  const json = new TetragonJson(def);
  const encoded = o.events.map((e) => (Buffer.isBuffer(e) ? e : json.toGrpc(e)));
  const pkg = grpc.loadPackageDefinition(def) as unknown as {
    tetragon: { FineGuidanceSensors: { service: grpc.ServiceDefinition } };
  };
  const real = pkg.tetragon.FineGuidanceSensors.service;
  const getEvents = real.GetEvents!;
  const service: grpc.ServiceDefinition = {
    ...real,
    GetEvents: {
      ...getEvents,
      responseSerialize: (v: unknown) => (Buffer.isBuffer(v) ? v : getEvents.responseSerialize(v)),
    },
  };
  const requests: Record<string, unknown>[] = [];
  const calls = new Set<grpc.ServerWritableStream<Record<string, unknown>, object>>();
  let written = 0;
  let blocked = 0;
  const server = new grpc.Server();
  server.addService(service, {
    GetEvents(call: grpc.ServerWritableStream<Record<string, unknown>, object>) {
      requests.push(call.request);
      calls.add(call);
      call.on('cancelled', () => calls.delete(call));
      call.on('close', () => calls.delete(call));
      const total = encoded.length * (o.repeat ?? 1);
      let i = 0;
      const pump = (): void => {
        while (i < total) {
          if (call.cancelled) return;
          const ok = call.write(encoded[i % encoded.length]!);
          i++;
          written++;
          if (!ok) {
            blocked++;
            call.once('drain', () => {
              blocked--;
              pump();
            });
            return;
          }
        }
        if (o.endAfter) call.end();
      };
      pump();
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(o.bind, grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  const address = o.bind.startsWith('unix:') ? o.bind : o.bind.replace(/:0$/, `:${port}`);
  return {
    address,
    requests,
    open: () => calls.size,
    written: () => written,
    blocked: () => blocked,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const c of calls) c.destroy();
        server.tryShutdown(() => resolve());
        setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, 500).unref();
      }),
  };
}
