/**
 * The one ingest path: every input's lines and records, the gRPC client's decoded records and the
 * sensor's built events go through RecordReader, which adapts, guards, counts and emits.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  EventBuilder,
  RecordKind,
  type ProcessView,
  type SensorRecord,
} from '../../../src/events/adapters/bpftrace.js';
import type { RuntimeEvent } from '../../../src/events/types.js';
import { RecordReader } from '../../../src/sources/record-reader.js';
import { SourceCounters } from '../../../src/sources/records.js';
import { sampleLines } from './helpers.js';

const ID = 'aa11bb22cc33dd44ee55ff6600778899aabbccddeeff00112233445566778899';

function reader(format: 'auto' | 'tetragon' = 'auto'): RecordReader {
  return new RecordReader({ counters: new SourceCounters('t', 'test'), format });
}

describe('RecordReader', () => {
  it('emits the events of good lines and counts each bad line by its reason', async () => {
    const r = reader();
    const out: RuntimeEvent[] = [];
    const lines = [...sampleLines('tetragon', 'docs-current.jsonl').slice(0, 3), '{"no":', '[1]'];
    for (const l of lines) await r.line(l, (e) => void out.push(e));
    assert.ok(out.length >= 1);
    assert.equal(r.counters.eventsIn, out.length);
    assert.equal(r.counters.dropped['malformed-json'], 1);
    assert.equal(r.counters.dropped['unknown-format'], 1);
  });

  it('waits on an emit that asks it to before handing over the next event', async () => {
    const r = reader();
    const line = JSON.stringify({ ...runtimeEvent('a'), raw: undefined });
    const seen: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((res) => (release = res));
    const first = r.line(line, (e) => {
      seen.push(e.id);
      return seen.length === 1 ? gate : undefined;
    });
    assert.ok(first instanceof Promise, 'a waiting emit makes the read wait');
    assert.deepEqual(seen, ['a']);
    release();
    await first;
    assert.equal(r.counters.eventsIn, 1);
  });

  it("passes the sensor's built events through the ingest guard once: long strings cut, deep events dropped", () => {
    const r = reader();
    const long = runtimeEvent('long');
    long.process = { pid: 1, args: ['x'.repeat(200_000)] };
    const [kept] = r.acceptBuilt(long);
    assert.ok(kept && kept.process!.args![0]!.length < 20_000);
    let deep: Record<string, unknown> = {};
    const deepEvent = runtimeEvent('deep') as unknown as Record<string, unknown>;
    deepEvent['process'] = deep;
    for (let i = 0; i < 100; i++) deep = deep['x'] = {};
    assert.deepEqual(r.acceptBuilt(deepEvent as unknown as RuntimeEvent), []);
    assert.equal(r.counters.eventsIn, 1);
    assert.equal(r.counters.dropped['too-deep'], 1);
  });
});

describe('bpftrace record mapping (events/adapters/bpftrace)', () => {
  it('builds the event from the record and the process answers it is given, without reading /proc', () => {
    const asked: string[] = [];
    const view: ProcessView = {
      link: (pid, name) => (asked.push(`${pid}/${name}`), name === 'exe' ? '/usr/bin/evil' : `/work/${name}`),
      cmdline: () => ['evil', '--flag'],
      cgroup: () => ({ containerId: ID.toUpperCase(), podUid: 'u-1', path: `/kubepods/podu-1/${ID}` }),
    };
    const builder = new EventBuilder({
      node: 'n1',
      clock: { wallNs: (ns) => BigInt(ns) + 1_700_000_000_000_000_000n },
      bootId: 'b00t',
      processes: view,
    });
    const record: SensorRecord = {
      kind: RecordKind.open,
      tid: 4242,
      pid: 4242,
      ppid: 1,
      uid: 0,
      nsecs: 5,
      cgroupId: 9,
      startBootNs: 77,
      execId: 3,
      comm: 'evil',
      fields: [0x41, 3, 2, 0, 0x100000],
      strings: [],
      resolved: { path: '/work/cwd/etc/shadow', complete: true, outsideRoot: false },
    };
    const built = builder.build(record);
    assert.ok('event' in built);
    const e = built.event;
    assert.equal(e.id, `bpftrace-b00t-5-4242-${RecordKind.open}`);
    assert.equal(e.behavior, 'file-write');
    assert.deepEqual(e.file, { path: '/work/cwd/etc/shadow', operation: 'create' });
    assert.equal(e.process?.binary, '/usr/bin/evil');
    assert.deepEqual(e.process?.args, ['--flag']);
    assert.equal(e.container?.id, ID, 'the container id is in the one normal form');
    assert.equal(e.pod?.uid, 'u-1');
    assert.ok(asked.includes('4242/exe') && asked.includes('4242/cwd'));
    assert.equal(e.raw && (e.raw as { fd?: number }).fd, 3);
  });
});

function runtimeEvent(id: string): RuntimeEvent {
  return { id, time: '2026-01-01T00:00:00Z', source: 'runtime', behavior: 'process-exec' };
}
