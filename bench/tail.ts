/**
 * Append → verdict latency on a tailed Tetragon export file: a writer appends one real-shaped
 * process_exec line every 5 ms (a shell in a prod-* pod, which the docs/examples policies flag);
 * the file tail → pipeline → RuntimeEngine → sink path records when the verdict arrives.
 * Baseline in the same run: the same path with polling (100 ms and 10 ms) instead of fs.watch.
 *
 * Run: npx tsx bench/tail.ts
 */
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRuntimeEngine } from '../src/engine/runtime/index.js';
import { createPipeline } from '../src/pipeline/index.js';
import { loadPolicies } from '../src/policy/index.js';
import { createFileTailSource } from '../src/sources/file-tail/index.js';
import { percentile, printTable } from './support.js';

const LINES = 600;
const INTERVAL_MS = 5;

const template = JSON.parse(
  readFileSync(new URL('../../shared/samples/tetragon/testdata-events.jsonl', import.meta.url), 'utf8').split(
    '\n',
  )[0]!,
) as { process_exec: { process: Record<string, unknown> & { pod: Record<string, unknown> } } };

function lineFor(i: number): string {
  const ev = structuredClone(template);
  ev.process_exec.process.exec_id = `bench-${i}`;
  ev.process_exec.process.binary = '/bin/sh';
  ev.process_exec.process.pod.namespace = 'prod-bench';
  return JSON.stringify(ev) + '\n';
}

async function run(
  mode: string,
  extra: { usePolling?: boolean; pollIntervalMs?: number },
): Promise<string[]> {
  const dir = mkdtempSync(join(tmpdir(), 'kr-bench-tail-'));
  const file = join(dir, 'tetragon.log');
  writeFileSync(file, '');
  const { policies } = await loadPolicies([new URL('../docs/examples', import.meta.url).pathname]);
  const written = new Float64Array(LINES);
  const latencies: number[] = [];
  let verdictEvents = 0;
  const pipeline = createPipeline({
    engine: createRuntimeEngine(policies),
    queueSize: 10_000,
    sinks: [
      {
        name: 'latency',
        write(_verdicts, event) {
          const i = Number((event.process?.execId ?? '').slice('bench-'.length));
          if (Number.isInteger(i) && written[i]! > 0) {
            latencies.push(performance.now() - written[i]!);
            verdictEvents++;
          }
        },
      },
    ],
  });
  const src = createFileTailSource({ path: file, startAt: 'beginning', ...extra });
  await pipeline.attach(src);
  let i = 0;
  await new Promise<void>((resolve) => {
    const t = setInterval(() => {
      written[i] = performance.now();
      appendFileSync(file, lineFor(i));
      if (++i === LINES) {
        clearInterval(t);
        resolve();
      }
    }, INTERVAL_MS);
  });
  const deadline = Date.now() + 3000;
  while (verdictEvents < LINES && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  await src.stop();
  await pipeline.stop();
  rmSync(dir, { recursive: true, force: true });
  latencies.sort((a, b) => a - b);
  const dropped = Object.values(src.stats().dropped).reduce((a, b) => a + b, 0);
  return [
    mode,
    String(LINES),
    String(verdictEvents),
    String(dropped),
    percentile(latencies, 50).toFixed(2),
    percentile(latencies, 99).toFixed(2),
    (latencies.at(-1) ?? NaN).toFixed(2),
  ];
}

const rows = [['mode', 'lines', 'verdicts', 'dropped', 'p50 ms', 'p99 ms', 'max ms']];
rows.push(await run('fs.watch (inotify)', {}));
rows.push(await run('baseline: poll 100 ms', { usePolling: true, pollIntervalMs: 100 }));
rows.push(await run('baseline: poll 10 ms', { usePolling: true, pollIntervalMs: 10 }));
console.log(
  `append → verdict latency, one line every ${INTERVAL_MS} ms, real engine (docs/examples policies)`,
);
printTable(rows);
