/**
 * Burst: 5k ev/s nominal, 10 s at 100k ev/s (a Tetragon kprobe storm), back to nominal — through the
 * real pipeline and RuntimeEngine (docs/examples policies), open-loop (events are offered on a
 * schedule, not when the engine is ready). Two input policies:
 *  - drop (HTTP-like, canWait=false): the queue fills, the excess is dropped and counted;
 *  - block (file/gRPC-like, canWait=true): the reader waits; the backlog stays in the input
 *    (file/kernel/agent), not in our memory.
 * Reports memory high-water marks, peak queue depth, drops by reason, the accounting check
 * (offered = evaluated + dropped: zero uncounted) and time to drain after the burst.
 * Baseline in the same run: engine-only throughput (no queue) on the same events.
 *
 * Run: npx tsx bench/burst.ts
 */
import { readFileSync } from 'node:fs';
import { adaptLine } from '../src/events/adapters/index.js';
import type { RuntimeEvent } from '../src/events/types.js';
import { createRuntimeEngine } from '../src/engine/runtime/index.js';
import { createPipeline } from '../src/pipeline/index.js';
import { loadPolicies } from '../src/policy/index.js';
import { printTable } from './support.js';

const NOMINAL = 5_000;
const BURST = 100_000;
const PHASES = [
  { rate: NOMINAL, seconds: 2 },
  { rate: BURST, seconds: 10 },
  { rate: NOMINAL, seconds: 4 },
];
const QUEUE = 10_000;
const TICK_MS = 5;
const MiB = 1024 * 1024;

const examples = new URL('../docs/examples/', import.meta.url).pathname;
const { policies } = await loadPolicies([examples]);
const engine = createRuntimeEngine(policies);

// Corpus: every example event plus the real Tetragon/Falco samples, adapted once.
const corpus: RuntimeEvent[] = [];
for (const file of [
  ...['shell-in-production', 'write-below-etc', 'outbound-connections', 'setuid-to-root'].map(
    (d) => `${examples}${d}/events.jsonl`,
  ),
  new URL('../../shared/samples/tetragon/docs-current.jsonl', import.meta.url).pathname,
  new URL('../../shared/samples/falco/falco-alerts.jsonl', import.meta.url).pathname,
]) {
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (line.trim() === '') continue;
    const out = adaptLine(line, 'auto');
    if (out.kind === 'events') corpus.push(...out.events);
  }
}

function engineOnly(): number {
  const end = performance.now() + 1000;
  let n = 0;
  while (performance.now() < end) {
    for (let i = 0; i < 100; i++) engine.evaluate(corpus[n++ % corpus.length]!);
  }
  return n;
}

interface Result {
  mode: string;
  offered: number;
  evaluated: number;
  dropped: Record<string, number>;
  peakQueue: number;
  peakBacklog: number;
  rssMiB: number;
  heapMiB: number;
  drainMs: number;
}

async function scenario(mode: 'drop' | 'block'): Promise<Result> {
  global.gc?.();
  const pipeline = createPipeline({ engine, queueSize: QUEUE, sinks: [{ name: 'count', write() {} }] });
  const canWait = mode === 'block';
  const base = process.memoryUsage();
  let rss = base.rss;
  let heap = base.heapUsed;
  let peakQueue = 0;
  let peakBacklog = 0;
  let offered = 0; // events the schedule says have arrived
  let submitted = 0;
  const sampler = setInterval(() => {
    const m = process.memoryUsage();
    rss = Math.max(rss, m.rss);
    heap = Math.max(heap, m.heapUsed);
    peakQueue = Math.max(peakQueue, pipeline.stats().queued);
    peakBacklog = Math.max(peakBacklog, offered - submitted);
  }, 20);
  const start = performance.now();
  const total = PHASES.reduce((s, p) => s + p.seconds, 0) * 1000;
  const burstEnd = (PHASES[0]!.seconds + PHASES[1]!.seconds) * 1000;
  let drainedAt = -1;
  const scheduleAt = (ms: number): number => {
    let due = 0;
    let t = 0;
    for (const p of PHASES) {
      const span = Math.min(Math.max(ms - t, 0), p.seconds * 1000);
      due += (span / 1000) * p.rate;
      t += p.seconds * 1000;
    }
    return Math.floor(due);
  };
  for (;;) {
    const now = performance.now() - start;
    // Drained: at a tick boundary nothing is queued and the input has no backlog.
    if (drainedAt < 0 && now > burstEnd && pipeline.stats().queued === 0 && offered - submitted === 0) {
      drainedAt = now;
    }
    offered = scheduleAt(Math.min(now, total));
    while (submitted < offered) {
      const wait = pipeline.submit(corpus[submitted % corpus.length]!, { source: `burst-${mode}`, canWait });
      submitted++;
      if (wait) await wait;
    }
    if (now >= total) break;
    await new Promise((r) => setTimeout(r, TICK_MS));
  }
  await pipeline.drain();
  if (drainedAt < 0) drainedAt = performance.now() - start;
  clearInterval(sampler);
  await pipeline.stop();
  const s = pipeline.stats();
  return {
    mode,
    offered: submitted,
    evaluated: s.evaluated,
    dropped: s.dropped,
    peakQueue,
    peakBacklog,
    rssMiB: (rss - base.rss) / MiB,
    heapMiB: (heap - base.heapUsed) / MiB,
    drainMs: drainedAt - burstEnd,
  };
}

const perSecond = engineOnly();
console.log(`corpus ${corpus.length} events, ${policies.length} policies; queue ${QUEUE}`);
console.log(`baseline: engine alone evaluates ${perSecond.toLocaleString('en-US')} ev/s on this machine\n`);
const rows = [
  [
    'input policy',
    'offered',
    'evaluated',
    'dropped (reason)',
    'uncounted',
    'peak queue',
    'peak backlog in input',
    'RSS +MiB (HWM)',
    'heap +MiB (HWM)',
    'drain after burst ms',
  ],
];
for (const mode of ['drop', 'block'] as const) {
  const r = await scenario(mode);
  const droppedTotal = Object.values(r.dropped).reduce((a, b) => a + b, 0);
  rows.push([
    mode === 'drop' ? 'drop (HTTP)' : 'block (file/gRPC)',
    r.offered.toLocaleString('en-US'),
    r.evaluated.toLocaleString('en-US'),
    Object.entries(r.dropped)
      .map(([k, v]) => `${v.toLocaleString('en-US')} ${k}`)
      .join(', ') || '0',
    String(r.offered - r.evaluated - droppedTotal),
    r.peakQueue.toLocaleString('en-US'),
    r.peakBacklog.toLocaleString('en-US'),
    r.rssMiB.toFixed(1),
    r.heapMiB.toFixed(1),
    r.drainMs.toFixed(0),
  ]);
}
console.log(`phases: ${PHASES.map((p) => `${p.seconds}s@${p.rate / 1000}k/s`).join(' → ')}`);
printTable(rows);
