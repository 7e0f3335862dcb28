import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { createStdinSource, createTcpSource } from '../../../src/sources/ndjson/index.js';
import { ListenPolicyError } from '../../../src/sources/http/index.js';
import { collector, sampleLines, waitFor, WAIT_MS } from './helpers.js';

const falco = sampleLines('falco', 'falco-alerts.jsonl').find((l) =>
  l.includes('Terminal shell in container'),
)!;
const tetragon = sampleLines('tetragon', 'testdata-events.jsonl');

describe('NDJSON on stdin', () => {
  it('reads mixed-tool lines, skips bad ones by reason, and ends with the stream', async () => {
    const stream = new PassThrough();
    const c = collector();
    const src = createStdinSource({ stream, maxLineBytes: 4096 });
    await src.start(c.emit);
    stream.write(`${falco}\n`);
    stream.write('{"broken": \n');
    stream.write(`{"pad":"${'x'.repeat(10_000)}"}\n`);
    stream.write(tetragon[0]!.slice(0, 100)); // split across writes
    stream.end(`${tetragon[0]!.slice(100)}\n${tetragon[1]}`); // last line without newline
    await src.done;
    assert.deepEqual(
      c.events.map((e) => e.source),
      ['falco', 'tetragon', 'tetragon'],
    );
    const s = src.stats();
    assert.equal(s.dropped['malformed-json'], 1);
    assert.equal(s.dropped['too-large'], 1);
    assert.equal(s.status, 'stopped');
  });

  it('stops reading while the pipeline makes it wait', async () => {
    const stream = new PassThrough({ highWaterMark: 16 });
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let got = 0;
    const src = createStdinSource({ stream });
    await src.start(async () => {
      got++;
      if (got === 1) await gate;
    });
    for (let i = 0; i < 3; i++) stream.write(`${tetragon[0]}\n`);
    // Wait for the first emit to be pending (not a fixed sleep: on a loaded machine the first line
    // may not even be read yet), then give the reader room to misbehave before checking it did not.
    await waitFor(() => got === 1, WAIT_MS, 'first line');
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(got, 1, 'nothing read ahead while the first emit waits');
    release();
    stream.end();
    await src.done;
    assert.equal(got, 3);
  });
});

describe('NDJSON on TCP', () => {
  it('accepts lines from several connections on loopback', async () => {
    const c = collector();
    const src = createTcpSource({ port: 0 });
    await src.start(c.emit);
    try {
      const { port } = src.address()!;
      await Promise.all(
        [0, 1].map(
          (i) =>
            new Promise<void>((resolve, reject) => {
              const s = connect(port, '127.0.0.1', () => {
                s.end(`${tetragon[i]}\nnot-json\n`);
              });
              s.on('close', () => resolve());
              s.on('error', reject);
            }),
        ),
      );
      await waitFor(() => c.events.length === 2, WAIT_MS, 'tcp events');
      assert.equal(src.stats().dropped['malformed-json'], 2);
    } finally {
      await src.stop();
    }
  });

  it('refuses connections beyond maxConnections, counted', async () => {
    const c = collector();
    const src = createTcpSource({ port: 0, maxConnections: 1 });
    await src.start(c.emit);
    try {
      const { port } = src.address()!;
      // The first connection holds the only slot once the server has taken it: an event read from
      // it proves that (a fixed sleep after 'connect' does not, on a loaded machine).
      const first = connect(port, '127.0.0.1');
      first.write(`${tetragon[0]}\n`);
      await waitFor(() => c.events.length === 1, WAIT_MS, 'first connection served');
      const second = connect(port, '127.0.0.1');
      await new Promise((r) => second.once('close', r));
      assert.equal(src.stats().dropped['too-many-connections'], 1);
      first.destroy();
    } finally {
      await src.stop();
    }
  });

  it('refuses to listen beyond loopback unless explicitly allowed', async () => {
    const src = createTcpSource({ host: '0.0.0.0', port: 0 });
    await assert.rejects(
      src.start(() => undefined),
      ListenPolicyError,
    );
  });
});
