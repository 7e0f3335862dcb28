/**
 * bench/enforcement: what enforcing in the kernel costs and gains.
 *
 * connectLatency: the cost of the `block` program on every connect() of the host. One process (Python:
 * a tight loop, timed with perf_counter_ns around connect+close to a loopback listener) measures the
 * latency without the cgroup connect program, with it holding one kernel rule, with it holding the
 * maximum (256 rules, none matching: the longest walk), and without it again (drift check) — all in
 * this one run, so the ratio compares like with like.
 *
 *   npx tsx bench/enforcement.ts [N=20000]        (root; builds the program on first use)
 */
import { execFile } from 'node:child_process';
import { createServer } from 'node:net';
import { promisify } from 'node:util';
import type { KernelBlockRule } from '../src/contracts/kernel-block.js';
import { ensureKernelBlockLoader, KernelBlocker } from '../src/sources/kernel-block/index.js';
import { printTable } from './support.js';

const run = promisify(execFile);
const N = Number(process.argv.slice(2).find((a) => !a.startsWith('--')) ?? 20_000);

const LOOP = `
import socket, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
out = []
for _ in range(n):
    s = socket.socket()
    t = time.perf_counter_ns()
    s.connect(('127.0.0.1', port))
    out.append(time.perf_counter_ns() - t)
    s.close()
out.sort()
print(out[len(out) // 2], out[len(out) * 99 // 100])
`;

async function measure(port: number, n: number): Promise<{ p50: number; p99: number }> {
  const { stdout } = await run('python3', ['-c', LOOP, String(port), String(n)]);
  const [p50, p99] = stdout.trim().split(' ').map(Number) as [number, number];
  return { p50, p99 };
}

/** Rules that never match the benchmark's connects (another port), so every connect is walked and allowed. */
function rules(count: number): KernelBlockRule[] {
  return Array.from({ length: count }, (_, i) => ({
    policy: 'bench',
    rule: `r${i}`,
    scope: { kind: 'all' as const },
    protocols: ['tcp' as const],
    ports: [{ lo: 1 + i, hi: 1 + i }],
    cidrs: ['192.0.2.0/24'],
  }));
}

export async function connectLatency(n: number): Promise<void> {
  if (process.getuid?.() !== 0) {
    console.log('connect latency: skipped (needs root to attach the cgroup program)');
    return;
  }
  const server = createServer((s) => s.destroy());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  const loader = await ensureKernelBlockLoader({ announce: (m) => console.log(m) });
  await measure(port, Math.min(n, 2000)); // warm-up: socket caches, Python start
  const rows: { phase: string; p50: number; p99: number }[] = [];
  rows.push({ phase: 'no program', ...(await measure(port, n)) });
  const blocker = new KernelBlocker({ loader, rules: rules(1) });
  await blocker.start(() => undefined);
  try {
    rows.push({ phase: 'attached, 1 rule', ...(await measure(port, n)) });
    await blocker.update(rules(256));
    rows.push({ phase: 'attached, 256 rules', ...(await measure(port, n)) });
  } finally {
    await blocker.stop();
  }
  rows.push({ phase: 'no program (again)', ...(await measure(port, n)) });
  server.close();
  const base = (rows[0]!.p50 + rows[3]!.p50) / 2;
  console.log(`\nconnect() to 127.0.0.1, ${n} per phase (µs; ratio = p50 / mean p50 without the program)`);
  printTable([
    ['phase', 'p50 µs', 'p99 µs', 'p50 ratio'],
    ...rows.map((r) => [
      r.phase,
      (r.p50 / 1000).toFixed(1),
      (r.p99 / 1000).toFixed(1),
      (r.p50 / base).toFixed(2),
    ]),
  ]);
}

async function main(): Promise<void> {
  await connectLatency(N);
}

await main();
