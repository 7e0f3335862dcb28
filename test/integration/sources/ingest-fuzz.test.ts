/**
 * Property tests (fast-check) for every reader path: malformed JSON, huge lines, wrong types, binary
 * garbage and truncated streams are counted and skipped with a reason — never a crash, never a
 * silent loss.
 */
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { createFileTailSource } from '../../../src/sources/file-tail/index.js';
import { createHttpSource } from '../../../src/sources/http/index.js';
import { parsePayload, type BodyKind } from '../../../src/sources/http/payload.js';
import { LineSplitter } from '../../../src/sources/lines.js';
import { RecordReader } from '../../../src/sources/record-reader.js';
import { SourceCounters } from '../../../src/sources/records.js';
import { createStdinSource } from '../../../src/sources/ndjson/index.js';
import { TetragonJson } from '../../../src/events/adapters/tetragon-grpc.js';
import { loadTetragonProto, messageCodec } from '../../../src/sources/tetragon-grpc/index.js';
import { sampleLines } from './helpers.js';

const realLines = [
  ...sampleLines('tetragon', 'docs-current.jsonl'),
  ...sampleLines('falco', 'falco-alerts.jsonl'),
  ...sampleLines('kubearmor', 'docs-alerts-logs.jsonl').slice(0, 10),
  ...sampleLines('tracee', 'legacy-trace-event.jsonl').slice(0, 5),
];

/** A line that is real, cut short, type-mangled, garbage or huge. */
const hostileLine = fc.oneof(
  fc.constantFrom(...realLines),
  fc.constantFrom(...realLines).chain((l) => fc.nat({ max: l.length }).map((n) => l.slice(0, n))),
  fc.json(),
  fc.jsonValue().map((v) => JSON.stringify({ process_exec: v, output_fields: v, rule: v, time: v })),
  fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b).toString('latin1')),
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc.nat({ max: 5000 }).map((n) => '{"a":"' + 'x'.repeat(n)),
);

function splitAt(buf: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (buf.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const p of points) {
    out.push(buf.subarray(prev, p));
    prev = p;
  }
  out.push(buf.subarray(prev));
  return out;
}

describe('fuzz: line splitting', () => {
  it('accounts for every byte and yields the same lines however the stream is chunked', () => {
    fc.assert(
      fc.property(
        fc.array(hostileLine, { maxLength: 20 }),
        fc.array(fc.nat(), { maxLength: 10 }),
        fc.boolean(),
        (lines, cuts, trailingNewline) => {
          const text = lines.join('\n') + (trailingNewline ? '\n' : '');
          const buf = Buffer.from(text, 'utf8');
          const splitter = new LineSplitter(1024);
          const pieces = splitAt(buf, cuts).flatMap((c) => splitter.feed(c));
          const last = splitter.flush();
          if (last) pieces.push(last);
          assert.equal(
            pieces.reduce((n, p) => n + p.bytes, 0),
            buf.length,
            'bytes accounted',
          );
          const expected = text.split('\n');
          if (text.endsWith('\n') || text === '') expected.pop(); // nothing after the last newline
          assert.equal(pieces.length, expected.length, 'one piece per line');
          pieces.forEach((p, i) => {
            const want = expected[i]!;
            if (p.kind === 'too-large') assert.ok(Buffer.byteLength(want) > 1024);
            else if (p.kind === 'line') assert.equal(p.text, want.replace(/\r$/, ''));
            else assert.equal(want.trim(), '');
          });
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('fuzz: HTTP payloads', () => {
  it('parsePayload never throws and always gives events or a reason', () => {
    const reader = new RecordReader({ counters: new SourceCounters('fuzz', 'http'), format: 'auto' });
    const kinds: BodyKind[] = ['json', 'ndjson', 'cloudevent', 'cloudevent-batch'];
    fc.assert(
      fc.property(
        fc.array(hostileLine, { maxLength: 8 }),
        fc.constantFrom(...kinds),
        fc.boolean(),
        (lines, kind, asArray) => {
          const body = asArray ? `[${lines.join(',')}]` : lines.join('\n');
          const r = parsePayload(body, kind, reader, 'auto');
          if (r.ok) {
            for (const s of r.skipped) assert.ok(s.reason.length > 0 && s.at.length > 0);
          } else {
            assert.ok(r.reason.length > 0);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('the receiver answers hostile bodies with 202 or a 4xx JSON error, never 5xx', async () => {
    const src = createHttpSource({ port: 0, rateLimit: false, bodyLimitBytes: 16 * 1024 });
    await src.start(() => undefined);
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.array(hostileLine, { maxLength: 5 }),
          fc.constantFrom(
            'application/json',
            'application/x-ndjson',
            'application/cloudevents+json',
            'text/plain',
            'application/octet-stream',
          ),
          async (lines, contentType) => {
            const res = await src.app.inject({
              method: 'POST',
              url: '/',
              headers: { 'content-type': contentType },
              payload: lines.join('\n'),
            });
            assert.ok([202, 400, 413, 415].includes(res.statusCode), `${res.statusCode} ${res.body}`);
            assert.equal(typeof res.json(), 'object');
          },
        ),
        { numRuns: 150 },
      );
    } finally {
      await src.stop();
    }
  });
});

describe('fuzz: stream and file readers', () => {
  it('stdin: every non-blank line yields events or exactly one counted drop', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(hostileLine, { maxLength: 15 }),
        fc.array(fc.nat(), { maxLength: 6 }),
        async (lines, cuts) => {
          const stream = new PassThrough();
          let events = 0;
          const src = createStdinSource({ stream, maxLineBytes: 2048 });
          await src.start(() => {
            events++;
          });
          const buf = Buffer.from(lines.join('\n'), 'utf8');
          for (const c of splitAt(buf, cuts)) stream.write(c);
          stream.end();
          await src.done;
          const s = src.stats();
          const drops = Object.values(s.dropped).reduce((a, b) => a + b, 0);
          const nonBlank = lines
            .join('\n')
            .split('\n')
            .filter((l) => l.trim() !== '').length;
          assert.equal(s.eventsIn, events);
          assert.ok(drops <= nonBlank);
          assert.ok(drops + events >= nonBlank, `lines ${nonBlank}, drops ${drops}, events ${events}`);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('file tail: hostile content and a truncated last write never crash the tail', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kr-fuzz-tail-'));
    try {
      let run = 0;
      await fc.assert(
        fc.asyncProperty(
          fc.array(hostileLine, { maxLength: 10 }),
          fc.string({ maxLength: 50 }),
          async (lines, tail) => {
            const file = join(dir, `f${run++}.log`);
            writeFileSync(file, '');
            let events = 0;
            const src = createFileTailSource({ path: file, startAt: 'beginning', maxLineBytes: 2048 });
            await src.start(() => {
              events++;
            });
            appendFileSync(file, lines.map((l) => l + '\n').join('') + tail);
            await src.settle();
            await src.stop();
            const s = src.stats();
            assert.notEqual(s.status, 'degraded', s.lastError);
            const drops = Object.values(s.dropped).reduce((a, b) => a + b, 0);
            const nonBlank = lines.filter((l) => l.trim() !== '').length;
            assert.ok(drops + events >= nonBlank);
          },
        ),
        { numRuns: 40 },
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('gRPC: garbage protobuf bytes either fail to decode or normalise without throwing', () => {
    const def = loadTetragonProto();
    const codec = messageCodec(def, 'tetragon.GetEventsResponse');
    const json = new TetragonJson(def);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        let decoded: Record<string, unknown>;
        try {
          decoded = codec.deserialize(Buffer.from(bytes));
        } catch {
          return; // grpc-js fails the stream on undecodable frames; the client re-subscribes
        }
        json.fromGrpc(decoded);
      }),
      { numRuns: 500 },
    );
  });
});
