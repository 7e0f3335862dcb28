/**
 * Built-in sensor benchmark: a syscall-heavy workload (loopback connects, file writes under a watched
 * prefix, execs) run in a child process twice in the same run — without the sensor (baseline) and
 * with it attached — then:
 *   - overhead: workload throughput with the sensor / without;
 *   - capture: events received per syscall made, per behavior (anything missing is a drop);
 *   - latency: kernel timestamp of the syscall → verdict produced by the engine, p50/p99.
 * Needs root and bpftrace. Run: npx tsx bench/sensor.ts  (≈ 30–60 s, most of it bpftrace compiling).
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRuntimeEngine } from '../src/engine/runtime/index.js';
import type { RuntimeEvent } from '../src/events/types.js';
import { loadPolicyText } from '../src/policy/index.js';
import { BpftraceSensor } from '../src/sources/sensor/sensor.js';
import { ensureSensorPrerequisites } from '../src/sources/sensor/prerequisites.js';
import { percentile } from './support.js';

const CONNECTS = 1000;
const WRITES = 1000;
const EXECS = 100;

const dir = mkdtempSync(join(tmpdir(), 'kr-bench-sensor-'));
const watched = join(dir, 'watched') + '/';
mkdirSync(watched);

const POLICY = `
apiVersion: runtime.kyverno.io/v1alpha1
kind: ClusterRuntimePolicy
metadata: { name: bench }
spec:
  failureAction: Audit
  rules:
    - name: connects
      match: { any: [{ resources: { kinds: [Node] } }] }
      restrict: { message: connect, behaviors: [network-connect], pattern: { event: { network: { daddr: 127.0.0.1 } } } }
    - name: writes
      match: { any: [{ resources: { kinds: [Node] } }] }
      restrict: { message: write, behaviors: [file-write], pattern: { event: { file: { path: '${watched}*' } } } }
    - name: execs
      match: { any: [{ resources: { kinds: [Node] } }] }
      restrict: { message: exec, behaviors: [process-exec], pattern: { event: { process: { binary: /bin/true } } } }
`;

/** The workload, as a node script run in a child (the sensor never reports its own process). */
const WORKLOAD = `
const net = require('net'), fs = require('fs'), cp = require('child_process');
const [port, dir, connects, writes, execs] = process.argv.slice(1);
(async () => {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < +connects; i++) {
    await new Promise((r) => net.connect(+port, '127.0.0.1').on('close', r).on('error', r));
  }
  for (let i = 0; i < +writes; i++) fs.writeFileSync(dir + 'f' + (i % 50), 'x');
  for (let i = 0; i < +execs; i++) cp.execFileSync('/bin/true');
  const ns = Number(process.hrtime.bigint() - t0);
  process.stdout.write(JSON.stringify({ ns, pid: process.pid }));
})();
`;

async function runWorkload(port: number): Promise<{ seconds: number; pid: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['-e', WORKLOAD, String(port), watched, String(CONNECTS), String(WRITES), String(EXECS)],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`workload exited ${String(code)}`));
      const r = JSON.parse(out) as { ns: number; pid: number };
      resolve({ seconds: r.ns / 1e9, pid: r.pid });
    });
  });
}

async function main(): Promise<void> {
  const host = await ensureSensorPrerequisites({ install: false });
  const loaded = loadPolicyText(POLICY, 'bench-policy.yaml');
  if (loaded.errors.length > 0) throw new Error(loaded.errors.map((e) => e.message).join('; '));
  const engine = createRuntimeEngine(loaded.policies, { nodeName: 'bench' });
  const server = createServer((s) => s.end());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;

  // Warm-up (page cache, JIT), then the baseline without the sensor. The baseline runs again after
  // the sensor is detached and the two are averaged: on a shared machine, load drifts.
  await runWorkload(port);
  const before = await runWorkload(port);

  const events: RuntimeEvent[] = [];
  const latenciesMs: number[] = [];
  let verdicts = 0;
  const sensor = new BpftraceSensor({
    bpftrace: host.bpftrace,
    tracepointExists: host.tracepointExists,
    hints: engine.sensorHints,
    node: 'bench',
  });
  const attachStart = performance.now();
  await sensor.start((e) => {
    events.push(e);
    const v = engine.evaluate(e);
    if (v.length > 0) {
      verdicts += v.length;
      // Kernel monotonic ns of the syscall → now (same clock: CLOCK_MONOTONIC).
      const kernelNs = (e.raw as { nsecs: number }).nsecs;
      latenciesMs.push(Number(process.hrtime.bigint() - BigInt(kernelNs)) / 1e6);
    }
  });
  const attachSeconds = (performance.now() - attachStart) / 1000;
  const withSensor = await runWorkload(port);
  await new Promise((r) => setTimeout(r, 500)); // let the last events arrive
  await sensor.stop();
  const afterRun = await runWorkload(port);
  const baseline = { seconds: (before.seconds + afterRun.seconds) / 2 };
  server.close();

  const mine = events.filter((e) => e.process?.pid === withSensor.pid || e.parent?.pid === withSensor.pid);
  const count = (pred: (e: RuntimeEvent) => boolean): number => mine.filter(pred).length;
  const connects = count((e) => e.behavior === 'network-connect' && e.network?.dport === port);
  const writes = count((e) => e.behavior === 'file-write' && (e.file?.path ?? '').startsWith(watched));
  const execs = count((e) => e.behavior === 'process-exec' && e.process?.binary === '/bin/true');
  const ops = CONNECTS + WRITES + EXECS;
  latenciesMs.sort((a, b) => a - b);
  const stats = sensor.stats();

  const rows: [string, string, string][] = [
    [
      'workload ops/s (baseline, no sensor)',
      (ops / baseline.seconds).toFixed(0),
      `before ${(ops / before.seconds).toFixed(0)}, after ${(ops / afterRun.seconds).toFixed(0)}`,
    ],
    ['workload ops/s (sensor attached)', (ops / withSensor.seconds).toFixed(0), ''],
    [
      'throughput ratio (sensor / baseline)',
      (baseline.seconds / withSensor.seconds).toFixed(3),
      '1.0 = no overhead',
    ],
    [
      'connect events / connects',
      `${connects} / ${CONNECTS}`,
      ((100 * connects) / CONNECTS).toFixed(1) + '%',
    ],
    ['file-write events / writes', `${writes} / ${WRITES}`, ((100 * writes) / WRITES).toFixed(1) + '%'],
    ['exec events / execs', `${execs} / ${EXECS}`, ((100 * execs) / EXECS).toFixed(1) + '%'],
    ['sensor drops (lost/malformed)', JSON.stringify(stats.dropped), ''],
    ['verdicts', String(verdicts), ''],
    ['syscall → verdict p50 (ms)', percentile(latenciesMs, 50).toFixed(2), ''],
    ['syscall → verdict p99 (ms)', percentile(latenciesMs, 99).toFixed(2), ''],
    ['bpftrace compile + attach (s)', attachSeconds.toFixed(1), ''],
  ];
  const w0 = Math.max(...rows.map((r) => r[0].length));
  const w1 = Math.max(...rows.map((r) => r[1].length));
  console.log(`\nbench/sensor — ${CONNECTS} connects, ${WRITES} writes, ${EXECS} execs per pass\n`);
  for (const [a, b, c] of rows) console.log(`${a.padEnd(w0)}  ${b.padStart(w1)}  ${c}`);
  rmSync(dir, { recursive: true, force: true });
}

main().catch((err: unknown) => {
  console.error((err as Error).message);
  rmSync(dir, { recursive: true, force: true });
  process.exitCode = 1;
});
