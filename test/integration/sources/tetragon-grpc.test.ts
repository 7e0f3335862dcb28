import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { adaptRecord } from '../../../src/events/adapters/index.js';
import { TetragonJson } from '../../../src/events/adapters/tetragon-grpc.js';
import {
  buildGetEventsRequest,
  createTetragonGrpcSource,
  loadTetragonProto,
  messageCodec,
} from '../../../src/sources/tetragon-grpc/index.js';
import { startFakeTetragon, type FakeTetragon } from './fake-tetragon.js';
import { collector, sampleLines, waitFor, WAIT_MS } from './helpers.js';

const native = ['docs-current.jsonl', 'testdata-events.jsonl', 'docs-history.jsonl'].flatMap((f) =>
  sampleLines('tetragon', f).map((l) => JSON.parse(l) as Record<string, unknown>),
);

/** Samples the adapter turns into exactly one event each. */
const adaptable = native.filter((e) => {
  const out = adaptRecord(e, 'tetragon');
  return out.kind === 'events' && out.events.length === 1;
});

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === 'object') {
    return Object.fromEntries(
      Object.keys(v)
        .sort()
        .map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]),
    );
  }
  return v;
}

describe('Tetragon gRPC normalisation', () => {
  it('decodes protobuf to exactly the export JSON (wrappers, timestamps, 64-bit ints, enums)', () => {
    const def = loadTetragonProto();
    const json = new TetragonJson(def);
    const codec = messageCodec(def, 'tetragon.GetEventsResponse');
    for (const e of native) {
      const wire = codec.serialize(json.toGrpc(e));
      const back = json.fromGrpc(codec.deserialize(wire));
      assert.deepEqual(sortKeys(back), sortKeys(e));
    }
  });

  it('builds allow/deny filters with Tetragon field names', () => {
    const req = buildGetEventsRequest({
      eventTypes: ['PROCESS_KPROBE'],
      namespaces: ['prod'],
      podRegex: ['^web-'],
    });
    assert.deepEqual(req, {
      allow_list: [{ event_set: ['PROCESS_KPROBE'], namespace: ['prod'], pod_regex: ['^web-'] }],
      deny_list: [{ health_check: true }],
    });
    assert.throws(
      () => buildGetEventsRequest({ eventTypes: ['PROCESS_BOGUS'] }),
      /unknown Tetragon event type/,
    );
  });
});

describe('Tetragon gRPC client against a fake agent', () => {
  let dir: string;
  let fake: FakeTetragon | undefined;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'kr-grpc-'));
  });
  afterEach(async () => {
    await fake?.stop();
    fake = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  it('streams real events over a unix socket and sends the filters', async () => {
    const target = `unix://${join(dir, 'tetragon.sock')}`;
    fake = await startFakeTetragon({ bind: target, events: native });
    const expected = native.flatMap((e) => {
      const out = adaptRecord(e, 'tetragon');
      return out.kind === 'events' ? out.events.map((x) => x.id) : [];
    });
    const c = collector();
    const src = createTetragonGrpcSource({
      target,
      eventTypes: ['PROCESS_EXEC', 'PROCESS_KPROBE'],
      namespaces: ['default'],
    });
    await src.start(c.emit);
    try {
      await waitFor(() => c.events.length === expected.length, WAIT_MS, 'events');
      assert.deepEqual(
        c.events.map((e) => e.id),
        expected,
        'same events, same ids as from the export JSON',
      );
      assert.equal(src.stats().status, 'running');
      const req = fake.requests[0] as { allow_list: unknown[]; deny_list: unknown[] };
      assert.deepEqual(req.allow_list, [
        { event_set: ['PROCESS_EXEC', 'PROCESS_KPROBE'], namespace: ['default'] },
      ]);
      assert.deepEqual(req.deny_list, [{ health_check: { value: true } }]);
    } finally {
      await src.stop();
    }
  });

  it('reaches a TCP target (localhost:54321 style)', async () => {
    fake = await startFakeTetragon({ bind: '127.0.0.1:0', events: adaptable.slice(0, 3) });
    const c = collector();
    const src = createTetragonGrpcSource({ target: fake.address });
    await src.start(c.emit);
    try {
      await waitFor(() => c.events.length >= 1, WAIT_MS, 'events over TCP');
    } finally {
      await src.stop();
    }
  });

  it('reconnects with backoff when the agent is absent, restarts or ends the stream', async () => {
    const sock = join(dir, 'tetragon.sock');
    const target = `unix://${sock}`;
    const c = collector();
    const src = createTetragonGrpcSource({ target, backoff: { initialMs: 20, maxMs: 100 } });
    await src.start(c.emit); // agent not there yet
    try {
      await waitFor(() => src.subscriptions >= 2, WAIT_MS, 'retries while absent');
      assert.equal(src.stats().status, 'degraded');
      fake = await startFakeTetragon({ bind: target, events: adaptable.slice(0, 2), endAfter: true });
      await waitFor(() => c.events.length >= 2, WAIT_MS, 'first stream');
      await waitFor(() => c.events.length >= 4, WAIT_MS, 're-subscribed after the stream ended');
      await fake.stop();
      fake = await startFakeTetragon({ bind: target, events: adaptable.slice(0, 2) });
      const before = c.events.length;
      await waitFor(() => c.events.length >= before + 2, WAIT_MS, 'after agent restart');
    } finally {
      await src.stop();
    }
    assert.equal(src.stats().status, 'stopped');
  });

  it('stops reading the stream while the pipeline makes it wait (backpressure)', async () => {
    const target = `unix://${join(dir, 'tetragon.sock')}`;
    // 20 rounds of the samples (~460 events, ~800 KB of JSON): several times what the HTTP/2 flow
    // control windows and stream buffers hold (the agent gets ~80 out before it must wait), and no
    // more, since decoding them all after release takes seconds on a loaded machine.
    const total = adaptable.length * 20;
    const agent = await startFakeTetragon({ bind: target, events: adaptable, repeat: 20 });
    fake = agent; // stopped by afterEach
    let got = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const src = createTetragonGrpcSource({ target });
    await src.start(async () => {
      got++;
      if (got === 1) await gate;
    });
    try {
      await waitFor(() => got === 1, WAIT_MS, 'first event');
      // The agent fills the stream and then waits for room (not a fixed sleep: how soon it gets
      // there depends on the machine's load), and keeps waiting while the first emit does.
      await waitFor(() => agent.blocked() > 0, WAIT_MS, 'agent waiting for the client to read');
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(got, 1, 'nothing consumed while the first emit waits');
      assert.ok(agent.blocked() > 0, 'the agent is still waiting');
      assert.ok(agent.written() < total, `the agent sent all ${total} events: nothing held it back`);
      release();
      await waitFor(() => got === total, WAIT_MS, 'all events after release');
    } finally {
      await src.stop();
    }
  });

  it('stops promptly while waiting to reconnect', async () => {
    // "Promptly" means without sitting out the backoff: the bound is half the backoff, far above
    // what a loaded machine needs to stop, and far below what waiting for the retry would take.
    const backoffMs = 60_000;
    const src = createTetragonGrpcSource({
      target: `unix://${join(dir, 'none.sock')}`,
      backoff: { initialMs: backoffMs },
    });
    await src.start(() => undefined);
    await waitFor(() => src.subscriptions >= 1, WAIT_MS, 'first attempt');
    await new Promise((r) => setTimeout(r, 50));
    const t0 = Date.now();
    await src.stop();
    const took = Date.now() - t0;
    assert.ok(took < backoffMs / 2, `stop took ${took} ms`);
    assert.equal(src.subscriptions, 1, 'no retry happened');
  });
});
