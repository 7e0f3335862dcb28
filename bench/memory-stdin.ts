/**
 * Resident memory of `run --source stdin` while it evaluates a long stream of violating events: the
 * built CLI (dist/) runs as its own process, every event produces a verdict (store row, JSON log line,
 * terminal line), and the child's VmRSS is sampled from /proc. Memory must level off, not grow with
 * the number of events. Usage: node --import tsx bench/memory-stdin.ts [events] (default 400 000);
 * needs `npm run build` first.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { printTable } from './support.js';

const total = Number(process.argv[2] ?? 400_000);
const repoRoot = resolve(import.meta.dirname, '..');
const cli = process.env.KR_CLI ?? join(repoRoot, 'dist/src/cli/main.js');
if (!existsSync(cli)) {
  console.error('dist/ is missing: run `npm run build` first');
  process.exit(1);
}

const dir = mkdtempSync(join(tmpdir(), 'kr-mem-'));
const policyFile = join(dir, 'policy.json');
writeFileSync(
  policyFile,
  JSON.stringify({
    apiVersion: 'runtime.kyverno.io/v1alpha1',
    kind: 'ClusterRuntimePolicy',
    metadata: { name: 'no-shells' },
    spec: {
      failureAction: 'Audit',
      rules: [
        {
          name: 'no-shell',
          match: { any: [{ resources: { kinds: ['Node'] } }] },
          restrict: {
            message: 'shell {{ event.process.binary }}',
            behaviors: ['process-exec'],
            pattern: { event: { process: { binary: '*/sh' } } },
          },
        },
      ],
    },
  }),
);

function eventLine(i: number): string {
  // Distinct pids and args: every event is a new row in the recent-events ring and a new id.
  return JSON.stringify({
    id: `mem-${i}`,
    time: new Date(1_700_000_000_000 + i).toISOString(),
    source: 'bench',
    behavior: 'process-exec',
    node: 'bench-node',
    process: { pid: 1000 + (i % 50_000), binary: '/bin/sh', args: ['-c', `echo ${i} ${'x'.repeat(64)}`] },
  });
}

function rssMiB(pid: number): number | undefined {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

const logFile = join(dir, 'run.log');
const child = spawn(
  process.execPath,
  [
    cli,
    'run',
    '--source',
    'stdin',
    '--policies',
    policyFile,
    '--db',
    join(dir, 'state.db'),
    '--log-file',
    logFile,
    '--listen',
    'off',
    ...(process.env.KR_EXTRA ? process.env.KR_EXTRA.split(' ') : []),
    '--mode',
    'audit',
  ],
  { stdio: ['pipe', 'ignore', 'inherit'] },
);
const samples: { sent: number; rss: number }[] = [];
let sent = 0;
const sampler = setInterval(() => {
  const rss = rssMiB(child.pid!);
  if (rss !== undefined) samples.push({ sent, rss });
}, 250);

const started = Date.now();
const CHUNK = 1000;
for (let i = 0; i < total; i += CHUNK) {
  let text = '';
  for (let j = i; j < Math.min(total, i + CHUNK); j++) text += eventLine(j) + '\n';
  sent = Math.min(total, i + CHUNK);
  if (!child.stdin.write(text)) await once(child.stdin, 'drain');
}
child.stdin.end();
const [code] = (await once(child, 'exit')) as [number | null];
clearInterval(sampler);
const seconds = (Date.now() - started) / 1000;

const peak = Math.max(...samples.map((s) => s.rss));
const at = (fraction: number): string => {
  const s = samples.find((x) => x.sent >= total * fraction);
  return s ? s.rss.toFixed(0) : '-';
};
const logFiles = ['', '.1', '.2', '.3'].map((s) => logFile + s).filter((f) => existsSync(f));
const logLines = logFiles
  .map(
    (f) =>
      readFileSync(f, 'utf8')
        .split('\n')
        .filter((l) => l.includes('"policy"')).length,
  )
  .reduce((a, b) => a + b, 0);
printTable([
  [
    'events',
    'exit',
    'seconds',
    'RSS 10%',
    'RSS 50%',
    'RSS 100%',
    'peak RSS MiB',
    'log files MiB',
    'verdict lines in log files',
  ],
  [
    String(total),
    String(code),
    seconds.toFixed(1),
    at(0.1),
    at(0.5),
    at(1),
    peak.toFixed(0),
    (
      ['', '.1', '.2', '.3']
        .map((s) => (existsSync(logFile + s) ? statSync(logFile + s).size : 0))
        .reduce((a, b) => a + b, 0) /
      1024 /
      1024
    ).toFixed(0),
    String(logLines),
  ],
]);
rmSync(dir, { recursive: true, force: true });
