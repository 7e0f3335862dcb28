/**
 * Tetragon gRPC ingest: events/s from a fake Tetragon agent (a child process streaming real sample
 * events through proto/tetragon.proto over a unix socket) into our client, (a) ingest only
 * (decode + normalise + adapt) and (b) through the pipeline and RuntimeEngine. Baselines in the same
 * run, in this process: protobuf decode alone, and decode + normalise + adapt without gRPC.
 *
 * Run: npx tsx bench/ingest-grpc.ts
 */
import { fork } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { adaptRecord } from '../src/events/adapters/index.js';
import { createRuntimeEngine } from '../src/engine/runtime/index.js';
import { createPipeline } from '../src/pipeline/index.js';
import { loadPolicies } from '../src/policy/index.js';
import {
  createTetragonGrpcSource,
  loadTetragonProto,
  messageCodec,
} from '../src/sources/tetragon-grpc/index.js';
import { TetragonJson } from '../src/events/adapters/tetragon-grpc.js';
import { startFakeTetragon } from '../test/integration/sources/fake-tetragon.js';
import { printTable } from './support.js';

const SECONDS = 5;
const events = ['docs-current.jsonl', 'testdata-events.jsonl', 'docs-history.jsonl'].flatMap((f) =>
  readFileSync(new URL(`../../shared/samples/tetragon/${f}`, import.meta.url), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((e) => adaptRecord(e, 'tetragon').kind === 'events'),
);

async function serveFake(address: string): Promise<void> {
  process.on('disconnect', () => process.exit(0)); // never outlive the bench (no orphaned servers)
  await startFakeTetragon({ bind: address, events, repeat: 100_000_000 });
  process.send!('ready');
}

function inProcess(label: string, fn: (buf: Buffer) => void, buffers: Buffer[]): string[] {
  const warm = performance.now() + 1000; // let the JIT settle first
  for (let w = 0; performance.now() < warm; w++) fn(buffers[w % buffers.length]!);
  const end = performance.now() + 2000;
  let n = 0;
  let bytes = 0;
  const t0 = performance.now();
  while (performance.now() < end) {
    for (let i = 0; i < 100; i++) {
      const b = buffers[n++ % buffers.length]!;
      bytes += b.length;
      fn(b);
    }
  }
  const s = (performance.now() - t0) / 1000;
  return [label, Math.round(n / s).toLocaleString('en-US'), (bytes / s / 1024 / 1024).toFixed(1), '-'];
}

async function overGrpc(label: string, target: string, withEngine: boolean): Promise<string[]> {
  const { policies } = await loadPolicies([new URL('../docs/examples', import.meta.url).pathname]);
  const pipeline = createPipeline({ engine: createRuntimeEngine(policies), queueSize: 10_000 });
  let n = 0;
  const src = createTetragonGrpcSource({ target });
  if (withEngine) await pipeline.attach(src);
  else
    await src.start(() => {
      n++;
    });
  await new Promise((r) => setTimeout(r, 1000)); // warm-up
  const count = () => (withEngine ? pipeline.stats().evaluated : n);
  const c0 = count();
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  const c1 = count();
  const s = (performance.now() - t0) / 1000;
  await src.stop();
  await pipeline.stop();
  const dropped = Object.values(src.stats().dropped).reduce((a, b) => a + b, 0);
  return [label, Math.round((c1 - c0) / s).toLocaleString('en-US'), '-', String(dropped)];
}

async function main(): Promise<void> {
  const def = loadTetragonProto();
  const codec = messageCodec(def, 'tetragon.GetEventsResponse');
  const json = new TetragonJson(def);
  const buffers = events.map((e) => codec.serialize(json.toGrpc(e)));
  const avg = buffers.reduce((a, b) => a + b.length, 0) / buffers.length;
  const rows = [['path', 'events/s', 'MB/s', 'skipped']];
  rows.push(inProcess('baseline: protobuf decode alone', (b) => void codec.deserialize(b), buffers));
  rows.push(
    inProcess(
      'baseline: decode + normalise + adapt (no gRPC)',
      (b) => void adaptRecord(json.fromGrpc(codec.deserialize(b)), 'tetragon'),
      buffers,
    ),
  );
  const dir = mkdtempSync(join(tmpdir(), 'kr-bench-grpc-'));
  const target = `unix://${join(dir, 'tetragon.sock')}`;
  const child = fork(new URL(import.meta.url).pathname, ['--serve', target], { stdio: 'inherit' });
  await new Promise((r) => child.once('message', r));
  try {
    rows.push(await overGrpc('gRPC stream → client (ingest only)', target, false));
    rows.push(await overGrpc('gRPC stream → pipeline → engine', target, true));
  } finally {
    child.kill();
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(
    `${events.length} real Tetragon events (avg ${avg.toFixed(0)} B protobuf), fake agent in a child process, unix socket`,
  );
  printTable(rows);
}

const i = process.argv.indexOf('--serve');
if (i >= 0) await serveFake(process.argv[i + 1]!);
else await main();
