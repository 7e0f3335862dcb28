/**
 * bench/ingest: a seeded generator makes a corpus of mixed Tetragon and Falco events (1M by default);
 * with 100 and 1000 policies we measure events/s per core through adapt + evaluate, beside bare
 * line splitting + JSON.parse of the same corpus in the same run, and the p50/p99 decision time.
 *
 *   npx tsx bench/ingest.ts            # BENCH_EVENTS=200000 for a quicker run
 */
import { adaptLine } from '../src/events/adapters/index.js';
import { createRuntimeEngine } from '../src/engine/runtime/index.js';
import { loadPolicyText } from '../src/policy/index.js';
import { seededRandom, pick, percentile, printTable } from './support.js';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 1_000_000);
const rand = seededRandom(42);

const namespaces = Array.from({ length: 50 }, (_, i) => `ns-${i}`);
const binaries = ['/bin/sh', '/bin/bash', '/usr/bin/curl', '/usr/sbin/nginx', '/usr/bin/python3', '/bin/ls'];
const falcoRules = [
  'Terminal shell in container',
  'Write below etc',
  'Contact K8S API Server From Container',
];

function tetragonExec(i: number): string {
  const ns = pick(rand, namespaces);
  return JSON.stringify({
    process_exec: {
      process: {
        exec_id: `ZXhlYy0${i}`,
        pid: 1000 + (i % 30000),
        uid: 0,
        cwd: '/',
        binary: pick(rand, binaries),
        arguments: '-c true',
        start_time: '2026-11-26T12:00:00.000000000Z',
        pod: {
          namespace: ns,
          name: `pod-${i % 500}`,
          container: {
            id: `containerd://${(i % 997).toString(16).padStart(12, '0')}`,
            name: 'app',
            image: { name: 'app:1' },
          },
          pod_labels: { app: `app-${i % 20}` },
          workload: `wl-${i % 100}`,
        },
      },
      parent: { pid: 999, binary: '/usr/bin/containerd-shim' },
    },
    node_name: 'worker-1',
    time: '2026-11-26T12:00:00.000000000Z',
  });
}

function tetragonConnect(i: number): string {
  return JSON.stringify({
    process_kprobe: {
      process: {
        exec_id: `Y29ubmVjdC${i}`,
        pid: 2000 + (i % 30000),
        uid: 1000,
        binary: '/usr/bin/curl',
        pod: {
          namespace: pick(rand, namespaces),
          name: `pod-${i % 500}`,
          container: { id: `containerd://c${i % 997}`, name: 'app' },
        },
      },
      function_name: 'tcp_connect',
      args: [
        {
          sock_arg: {
            family: 'AF_INET',
            type: 'SOCK_STREAM',
            protocol: 'IPPROTO_TCP',
            saddr: '10.0.0.5',
            daddr: `203.0.113.${i % 250}`,
            sport: 40000 + (i % 20000),
            dport: pick(rand, [443, 80, 5432, 53]),
          },
        },
      ],
      action: 'KPROBE_ACTION_POST',
    },
    node_name: 'worker-1',
    time: '2026-11-26T12:00:00.000000000Z',
  });
}

function falcoAlert(i: number): string {
  const rule = pick(rand, falcoRules);
  return JSON.stringify({
    uuid: `00000000-0000-4000-8000-${i.toString(16).padStart(12, '0')}`,
    output: `12:00:00.000000000: Notice ${rule} (user=root)`,
    priority: 'Notice',
    rule,
    time: '2026-11-26T12:00:00.000000000Z',
    source: 'syscall',
    hostname: 'worker-1',
    tags: ['container', 'shell'],
    output_fields: {
      'container.id': (i % 997).toString(16).padStart(12, '0'),
      'container.name': 'app',
      'k8s.ns.name': pick(rand, namespaces),
      'k8s.pod.name': `pod-${i % 500}`,
      'proc.name': 'sh',
      'proc.exepath': '/bin/sh',
      'proc.cmdline': 'sh -c id',
      'proc.pid': 3000 + (i % 30000),
      'user.uid': 0,
      'evt.type': rule === 'Write below etc' ? 'openat' : 'execve',
      'fd.name': rule === 'Write below etc' ? '/etc/shadow' : '<NA>',
    },
  });
}

function corpus(n: number): Buffer {
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    const r = rand();
    lines.push(r < 0.45 ? tetragonExec(i) : r < 0.75 ? tetragonConnect(i) : falcoAlert(i));
  }
  return Buffer.from(lines.join('\n') + '\n');
}

function policySet(count: number): string {
  const docs: string[] = [];
  for (let i = 0; i < count; i++) {
    const ns = namespaces[i % namespaces.length]!;
    const kind = i % 4;
    const rule =
      kind === 0
        ? `behaviors: [process-exec]\n        pattern:\n          event:\n            process:\n              binary: "*/sh | */bash"`
        : kind === 1
          ? `behaviors: [network-connect]\n        conditions:\n          any:\n            - key: "{{ event.network.dport }}"\n              operator: AnyNotIn\n              value: [443, 53]`
          : kind === 2
            ? `behaviors: [file-write]\n        pattern:\n          event:\n            file:\n              path: "/etc/*"`
            : `behaviors: [alert, process-exec]\n        pattern:\n          event:\n            alert:\n              rule: "Terminal shell*"`;
    docs.push(`apiVersion: runtime.kyverno.io/v1alpha1
kind: ClusterRuntimePolicy
metadata:
  name: bench-${i}
spec:
  failureAction: Audit
  rules:
    - name: rule-${i}
      match:
        any:
          - resources:
              kinds: [Pod]
              namespaces: ["${ns}"]
      restrict:
        message: "bench {{ event.process.binary }}"
        ${rule}
`);
  }
  return docs.join('---\n');
}

function splitLines(buf: Buffer, onLine: (line: string) => void): void {
  let start = 0;
  for (;;) {
    const nl = buf.indexOf(10, start);
    if (nl < 0) break;
    if (nl > start) onLine(buf.toString('utf8', start, nl));
    start = nl + 1;
  }
}

function measureBaseline(buf: Buffer): number {
  let n = 0;
  const t0 = process.hrtime.bigint();
  splitLines(buf, (line) => {
    if (JSON.parse(line) !== null) n++;
  });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  return n / seconds;
}

function measureEngine(buf: Buffer, policies: number) {
  const loaded = loadPolicyText(policySet(policies), `bench-${policies}.yaml`);
  if (loaded.errors.length > 0)
    throw new Error(`policy errors: ${JSON.stringify(loaded.errors.slice(0, 3))}`);
  const engine = createRuntimeEngine(loaded.policies);
  let events = 0;
  let verdicts = 0;
  let skipped = 0;
  const t0 = process.hrtime.bigint();
  splitLines(buf, (line) => {
    const outcome = adaptLine(line, 'auto');
    if (outcome.kind === 'skipped') {
      skipped++;
      return;
    }
    for (const e of outcome.events) {
      events++;
      verdicts += engine.evaluate(e).length;
    }
  });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;

  // Decision latency: adapt + evaluate of one event, timed alone on a sample of the corpus.
  const samples: number[] = [];
  let i = 0;
  splitLines(buf, (line) => {
    if (i++ % 20 !== 0) return;
    const s = process.hrtime.bigint();
    const outcome = adaptLine(line, 'auto');
    if (outcome.kind === 'events') for (const e of outcome.events) engine.evaluate(e);
    samples.push(Number(process.hrtime.bigint() - s) / 1000);
  });
  samples.sort((a, b) => a - b);
  return {
    rate: events / seconds,
    events,
    verdicts,
    skipped,
    p50: percentile(samples, 50),
    p99: percentile(samples, 99),
  };
}

const buf = corpus(EVENTS);
console.log(
  `corpus: ${EVENTS} events (${(buf.length / 1e6).toFixed(0)} MB), seed 42; one core (single thread)`,
);
const baseline = measureBaseline(buf);
const rows: string[][] = [
  ['run', 'events/s per core', 'ratio to bare', 'p50 µs/event', 'p99 µs/event', 'violations', 'skipped'],
];
rows.push(['bare split + JSON.parse', baseline.toFixed(0), '1.00', '-', '-', '-', '-']);
for (const n of [100, 1000]) {
  const r = measureEngine(buf, n);
  rows.push([
    `adapt + evaluate, ${n} policies`,
    r.rate.toFixed(0),
    (r.rate / baseline).toFixed(2),
    r.p50.toFixed(1),
    r.p99.toFixed(1),
    String(r.verdicts),
    String(r.skipped),
  ]);
}
printTable(rows);
console.log('goal: ratio >= 0.50 and p99 <= 100 µs per event');
