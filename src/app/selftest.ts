/**
 * `kyverno-runtime selftest` / `run --selftest`: triggers a harmless instance of every behavior the
 * loaded policies watch, from processes in a throwaway cgroup that looks like a Kubernetes container,
 * and reports per behavior whether the sensor could attach, whether the event came through, what it
 * was attributed to, which policies fired and how long it took. It reports what happened; it never
 * adjusts the events to make a row pass.
 */
import { mkdirSync, mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { attributeEvent } from '../engine/runtime/attribution.js';
import type { RuntimeEngine } from '../engine/runtime/index.js';
import type { Verdict } from '../contracts/verdict.js';
import { BEHAVIORS, type Behavior, type RuntimeEvent } from '../events/types.js';
import type { Pipeline, VerdictSink } from '../pipeline/index.js';
import type { GeneratedProgram } from '../sources/sensor/program.js';
import {
  cgroup2Root,
  createFakeContainer,
  fileTargetFor,
  runProbe,
  SELFTEST_CONNECT_ADDR,
  SELFTEST_FS_SOURCE,
  syscallTable,
  type FakeContainer,
  type FileTarget,
  type ProbeRun,
} from './selftest-probes.js';

/** At most this many file prefixes are exercised (each is one tmpfs in the probe's namespace). */
const MAX_FILE_TARGETS = 4;
/** Events kept by the observer while a selftest runs (its own probes make a few dozen). */
const MAX_OBSERVED = 10_000;

/** What the probe for each behavior does, for the table and the docs. */
export const PROBE_ACTIONS: Record<Exclude<Behavior, 'alert'>, string> = {
  'process-exec': 'exec /bin/sh -c id',
  'volume-mount': 'tmpfs mount in a private mount namespace',
  'file-write': 'write below a watched prefix (tmpfs over it, private mount namespace)',
  'file-read': 'read below a watched prefix (same tmpfs)',
  'network-connect': `connect to ${SELFTEST_CONNECT_ADDR}:9 from an empty network namespace`,
  'network-listen': 'listen on 127.0.0.1 (ephemeral port) and connect to it',
  'network-accept': 'accept a loopback connection on 127.0.0.1 (ephemeral port)',
  'privilege-escalation': 'setresuid(nobody, root, root) then setuid(0)',
  ptrace: 'ptrace attach to its own child',
  'namespace-change': 'unshare(CLONE_NEWUTS)',
  'bpf-load': 'bpf(BPF_PROG_LOAD) of a 2-instruction socket filter',
  'module-load': 'finit_module on an invalid fd (refused by the kernel)',
};

export interface SelftestRow {
  behavior: Exclude<Behavior, 'alert'>;
  /** "attached", or why the behavior was not exercised. */
  probe: string;
  ran: boolean;
  seen: boolean;
  attributedTo?: string;
  /** policy/rule of every verdict on the row's event. */
  fired: string[];
  /** From the syscall (kernel time) to the verdict, or to the event's arrival when nothing fired. */
  latencyMs?: number;
  /** The probe's own failure, if it could not do its part. */
  error?: string;
}

export interface SelftestResult {
  rows: SelftestRow[];
  /** A cgroup that could not be removed. */
  leftover?: string;
  /** Every behavior that was exercised was seen and made at least one policy fire. */
  ok: boolean;
}

interface Observed {
  event: RuntimeEvent;
  at: number;
}

/** Collects events and verdicts during a selftest (bounded). */
export class SelftestObserver {
  readonly events: Observed[] = [];
  readonly verdicts = new Map<string, { verdicts: Verdict[]; at: number }>();
  dropped = 0;
  private closed = false;

  /** Stops collecting (a `run --selftest` goes on long after its selftest). */
  close(): void {
    this.closed = true;
  }

  readonly event = (event: RuntimeEvent): void => {
    if (this.closed) return;
    if (this.events.length >= MAX_OBSERVED) {
      this.dropped++;
      return;
    }
    this.events.push({ event, at: Date.now() });
  };

  readonly sink: VerdictSink = {
    name: 'selftest',
    write: (verdicts: Verdict[], event: RuntimeEvent) => {
      if (this.closed || this.verdicts.size >= MAX_OBSERVED) return;
      const entry = this.verdicts.get(event.id) ?? { verdicts: [], at: Date.now() };
      entry.verdicts.push(...verdicts);
      this.verdicts.set(event.id, entry);
    },
  };
}

export interface SelftestOptions {
  engine: RuntimeEngine;
  /** The sensor's attached program; undefined when the source is not the built-in sensor. */
  program: GeneratedProgram | undefined;
  pipeline: Pick<Pipeline, 'drain'>;
  observer: SelftestObserver;
  nodeName: string;
  /** How long to wait for the events after the probes ran. */
  timeoutMs?: number;
  say?: (m: string) => void;
}

const wait = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Kernel time of an event in wall ms (RFC 3339 with ns: the ms part is enough). */
function eventMs(e: RuntimeEvent): number {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,3})\d*)?Z$/.exec(e.time);
  return m ? Date.parse(`${m[1]}.${(m[2] ?? '0').padEnd(3, '0')}Z`) : Number.NaN;
}

export async function runSelftest(opts: SelftestOptions): Promise<SelftestResult> {
  const say = opts.say ?? ((): void => undefined);
  const hints = opts.engine.sensorHints;
  const unsupported = new Map(opts.program?.unsupported.map((u) => [u.behavior, u.reason]) ?? []);
  const syscalls = syscallTable();
  const rows: SelftestRow[] = [];
  for (const behavior of BEHAVIORS) {
    if (behavior === 'alert') continue;
    let probe = 'attached';
    if (!hints.behaviors.has(behavior)) probe = 'not watched by the loaded policies';
    else if (!opts.program) probe = 'the source is not the built-in sensor';
    else if (unsupported.has(behavior)) probe = `not attached: ${unsupported.get(behavior)}`;
    else if (!syscalls) probe = `no syscall table for ${process.arch}`;
    rows.push({ behavior, probe, ran: false, seen: false, fired: [] });
  }
  const toRun = rows.filter((r) => r.probe === 'attached');
  if (toRun.length === 0 || !syscalls) return { rows, ok: toRun.length === 0 && rows.length > 0 };

  const scratch = mkdtempSync(join(tmpdir(), 'kyverno-runtime-selftest-'));
  const root = cgroup2Root();
  let container: FakeContainer | undefined;
  try {
    if (root) container = createFakeContainer(root);
    else say('selftest: no cgroup v2 mounted: probes run in this process\u2019s cgroup');
  } catch (err) {
    say(
      `selftest: cannot create the throwaway cgroup (${(err as Error).message}): probes run in this process\u2019s cgroup`,
    );
  }
  // Without a cgroup of our own, a probe's events are recognised by pid only.
  const procsFile = container ? join(container.dir, 'cgroup.procs') : '/dev/null';
  const mountDir = join(scratch, 'mnt');
  mkdirSync(mountDir);

  const wantWrite = toRun.some((r) => r.behavior === 'file-write');
  const wantRead = toRun.some((r) => r.behavior === 'file-read');
  const targets: FileTarget[] =
    hints.filePathPrefixes.length > 0
      ? hints.filePathPrefixes.slice(0, MAX_FILE_TARGETS).map(fileTargetFor)
      : [{ mountDir: scratch, mkdirs: [], file: join(scratch, 'kyverno-runtime-selftest') }];

  const runs = new Map<Behavior, ProbeRun>();
  const started = Date.now();
  try {
    for (const row of toRun) {
      if (row.behavior === 'file-read' && wantWrite) continue; // one probe does both
      const [probe, args] = probeFor(row.behavior, mountDir, targets, wantWrite, wantRead);
      const run = await runProbe(row.behavior, procsFile, probe, args, syscalls);
      runs.set(row.behavior, run);
      if (row.behavior === 'file-write') runs.set('file-read', run);
    }
    const pids = new Set([...runs.values()].map((r) => r.pid).filter((p) => p !== undefined));
    const ours = (e: RuntimeEvent): boolean =>
      container
        ? e.cgroup?.path === container.path || pids.has(e.process?.pid ?? -1)
        : pids.has(e.process?.pid ?? -1);
    const files = new Set(targets.map((t) => t.file));
    const shells = new Set(['/bin/sh', realShell()]);
    const matches: Record<Exclude<Behavior, 'alert'>, (e: RuntimeEvent) => boolean> = {
      // The sensor names the executable the kernel loaded: /bin/sh through its symlinks (dash on Debian).
      'process-exec': (e) => shells.has(e.process?.binary ?? ''),
      'volume-mount': (e) => e.mount?.target === mountDir && e.mount.source === SELFTEST_FS_SOURCE,
      'file-write': (e) => files.has(e.file?.path ?? ''),
      'file-read': (e) => files.has(e.file?.path ?? ''),
      'network-connect': (e) => e.network?.daddr === SELFTEST_CONNECT_ADDR,
      'network-listen': () => true,
      'network-accept': (e) => e.network?.daddr === '127.0.0.1',
      'privilege-escalation': (e) => e.privilege?.toUid === 0 && e.privilege.fromUid === 65534,
      ptrace: () => true,
      'namespace-change': () => true,
      'bpf-load': () => true,
      'module-load': () => true,
    };
    const find = (row: SelftestRow): Observed | undefined =>
      opts.observer.events.find(
        (o) =>
          o.event.behavior === row.behavior &&
          o.at >= started &&
          ours(o.event) &&
          matches[row.behavior](o.event),
      );
    const deadline = Date.now() + (opts.timeoutMs ?? 20_000);
    while (Date.now() < deadline && toRun.some((r) => find(r) === undefined)) await wait(50);
    // Every event seen is evaluated before its verdicts are read.
    await Promise.race([opts.pipeline.drain(), wait(Math.max(1000, deadline - Date.now()))]);

    for (const row of toRun) {
      row.ran = true;
      const run = runs.get(row.behavior);
      if (run?.error) row.error = run.error;
      const seen = find(row);
      if (!seen) continue;
      row.seen = true;
      const fired = opts.observer.verdicts.get(seen.event.id);
      row.fired = (fired?.verdicts ?? []).map((v) => `${v.policy}/${v.rule}`);
      row.attributedTo = attribution(seen.event, fired?.verdicts[0], opts.nodeName);
      const t = eventMs(seen.event);
      if (Number.isFinite(t)) row.latencyMs = Math.max(0, (fired?.at ?? seen.at) - t);
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  opts.observer.close();
  const leftover = await container?.remove();
  const ok = toRun.every((r) => r.seen && r.fired.length > 0);
  return leftover ? { rows, ok, leftover } : { rows, ok };
}

function probeFor(
  behavior: Behavior,
  mountDir: string,
  targets: FileTarget[],
  write: boolean,
  read: boolean,
): [string, string[]] {
  switch (behavior) {
    case 'process-exec':
      return ['exec', []];
    case 'volume-mount':
      return ['mount', [mountDir]];
    case 'file-write':
    case 'file-read':
      return [
        'files',
        [
          write && read ? 'both' : write ? 'write' : 'read',
          ...targets.flatMap((t) => [t.mountDir, t.mkdirs.join(':'), t.file]),
        ],
      ];
    case 'network-connect':
      return ['connect', []];
    case 'network-listen':
      return ['listen', []];
    case 'network-accept':
      return ['accept', []];
    case 'privilege-escalation':
      return ['privilege', []];
    case 'ptrace':
      return ['ptrace', []];
    case 'namespace-change':
      return ['namespace', []];
    case 'bpf-load':
      return ['bpf', []];
    case 'module-load':
    case 'alert':
      return ['module', []];
  }
}

/** "Pod ns/name" or "Node name", and the container the cgroup named, if any. */
function attribution(event: RuntimeEvent, verdict: Verdict | undefined, node: string): string {
  const ref = verdict?.resource ?? attributeEvent(event, undefined, node).ref;
  const name = ref.namespace ? `${ref.namespace}/${ref.name}` : ref.name;
  const container = event.container?.id ? ` (cgroup of container ${event.container.id.slice(0, 12)})` : '';
  return `${ref.kind} ${name}${container}`;
}

/** The table as printed (plain text, one row per behavior). */
export function formatSelftestTable(result: SelftestResult): string {
  const header = ['behavior', 'probe', 'event seen', 'attributed to', 'policies fired', 'latency'];
  const lines = result.rows.map((r) => [
    r.behavior,
    r.error ? `${r.probe}; probe failed: ${r.error}` : r.probe,
    r.ran ? (r.seen ? 'yes' : 'NO') : '-',
    r.attributedTo ?? '-',
    r.ran ? r.fired.join(', ') || 'none' : '-',
    r.latencyMs === undefined ? '-' : `${Math.round(r.latencyMs)} ms`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => (l[i] ?? '').length)));
  const fmt = (cells: string[]): string =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  const out = [fmt(header), fmt(widths.map((w) => '-'.repeat(w))), ...lines.map(fmt)];
  const ran = result.rows.filter((r) => r.ran);
  const passed = ran.filter((r) => r.seen && r.fired.length > 0);
  out.push(
    '',
    `${passed.length}/${ran.length} exercised behaviors seen and fired` +
      (result.leftover ? `; could not remove cgroup ${result.leftover}` : ''),
  );
  return out.join('\n') + '\n';
}

/** /bin/sh as the kernel resolves it when it is executed. */
function realShell(): string {
  try {
    return realpathSync('/bin/sh');
  } catch {
    return '/bin/sh';
  }
}
