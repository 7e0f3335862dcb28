/**
 * Reads NDJSON from any byte stream (stdin, a TCP socket) into RuntimeEvents through the input's
 * RecordReader. Iterating the stream with `for await` and awaiting each emit is the backpressure:
 * while the queue is full we stop reading, the stream's buffer fills, and the OS pushes back on the
 * writer (pipe or TCP window).
 */
import type { Readable } from 'node:stream';
import { LineSplitter, type LinePiece } from '../lines.js';
import type { RecordReader } from '../record-reader.js';
import type { EmitFn } from '../types.js';

export interface StreamReadOptions {
  reader: RecordReader;
  maxLineBytes: number;
  /** Label for logs (e.g. "stdin", "tcp 127.0.0.1:5555"). */
  origin: string;
  /** Bytes already read from the stream (after a TCP token line), handled before the stream. */
  prefix?: Buffer;
}

export async function readNdjsonStream(
  stream: Readable,
  emit: EmitFn,
  opts: StreamReadOptions,
): Promise<void> {
  const { reader, origin } = opts;
  const splitter = new LineSplitter(opts.maxLineBytes);
  const handle = async (p: LinePiece): Promise<void> => {
    if (p.kind === 'blank') return;
    if (p.kind === 'too-large') return reader.tooLarge({ origin, line: p.lineNo, bytes: p.bytes });
    const wait = reader.line(p.text, emit, { origin, line: p.lineNo });
    if (wait) await wait;
  };
  if (opts.prefix) for (const p of splitter.feed(opts.prefix)) await handle(p);
  for await (const chunk of stream) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    for (const p of splitter.feed(buf)) await handle(p);
  }
  // A last line without "\n" is still a record (a cut one is counted as malformed by the adapter).
  const last = splitter.flush();
  if (last) await handle(last);
}
