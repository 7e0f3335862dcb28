/**
 * The Node side of `block`: runs the loader (one long-lived child, like the sensor's bpftrace), writes
 * the compiled kernel rules into its maps — again on every policy reload, without detaching — and turns
 * each denial it reports into a `network-connect` RuntimeEvent with `enforced: true`, naming the policy
 * and rule that decided it. An EventSource, so the denials go through the normal pipeline.
 *
 * The loader detaches on stdin EOF: if this process dies, the pipe closes and the program goes with it
 * (its bpf_link attachments belong to the loader's file descriptors).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import {
  KERNEL_BLOCK_MAX_CIDR4,
  KERNEL_BLOCK_MAX_CIDR6,
  KERNEL_BLOCK_MAX_PORTS,
  KERNEL_BLOCK_MAX_RANGES,
  KERNEL_BLOCK_MAX_RULES,
  type KernelBlockRule,
} from '../../contracts/kernel-block.js';
import { rfc3339Nano } from '../../events/adapters/bpftrace.js';
import type { RuntimeEvent } from '../../events/types.js';
import { readCgroupFile, readExe, readStartTicks } from '../../host/proc.js';
import type { Logger } from '../../observability/logger.js';
import {
  kernelBlockDenials,
  kernelBlockLost,
  kernelBlockOverflow,
  kernelBlockRules,
  kernelBlockUp,
} from '../../observability/metrics.js';
import { SourceCounters } from '../records.js';
import { MonotonicClock, readBootId } from '../sensor/proc.js';
import type { EmitFn, EventSource, SourceStats } from '../types.js';
import { KernelBlockError } from './build.js';

/** The input name of denials (src/actions/block.ts recognises it). */
export const KERNEL_BLOCK_SOURCE_NAME = 'kernel-block';
/** A loader line longer than this is not one the loader writes: dropped and counted. */
const MAX_LINE = 4096;
const NS_PER_TICK = 10_000_000; // USER_HZ 100, as /proc/<pid>/stat counts

export interface KernelBlockerOptions {
  loader: string;
  rules: readonly KernelBlockRule[];
  /** cgroup v2 directory the program is attached to, and against which cgroup paths resolve. */
  cgroupRoot?: string;
  node?: string;
  logger?: Logger;
  /** Lines for the operator ("block: 3 kernel rules loaded"). */
  say?: (message: string) => void;
  /** Wait this long for the loader to attach. Default 30 s. */
  attachTimeoutMs?: number;
}

/** What one policy set became in the maps. */
export interface KernelBlockLoad {
  loaded: number;
  /** Rules left out, each with why (a full map, a cgroup that does not exist). */
  skipped: { rule: KernelBlockRule; reason: string }[];
}

/** The cgroup v2 mount (on hybrid hosts it is not /sys/fs/cgroup itself). */
export function findCgroup2Root(mounts = '/proc/self/mounts'): string | undefined {
  for (const line of readFileSync(mounts, 'utf8').split('\n')) {
    const [, dir, type] = line.split(' ');
    if (type === 'cgroup2' && dir) return dir.replace(/\\040/g, ' ');
  }
  return undefined;
}

/** The kernel's id of a cgroup v2 directory is its inode number. */
export function cgroupIdOf(root: string, path: string): { id: string; level: number } | undefined {
  try {
    const st = statSync(join(root, path), { bigint: true });
    if (!st.isDirectory()) return undefined;
    return { id: st.ino.toString(), level: path.split('/').filter(Boolean).length };
  } catch {
    return undefined;
  }
}

interface Deny {
  type: 'deny';
  ktimeNs: string;
  pid: number;
  tgid: number;
  uid: number;
  comm: string;
  cgroupId: string;
  hook: number;
  family: number;
  protocol: number;
  addr: string;
  port: number;
  ruleId: number;
}

function isDeny(v: unknown): v is Deny {
  if (v === null || typeof v !== 'object') return false;
  const d = v as Record<string, unknown>;
  const int = (k: string): boolean => Number.isSafeInteger(d[k]);
  return (
    d.type === 'deny' &&
    ['pid', 'tgid', 'uid', 'hook', 'family', 'protocol', 'port', 'ruleId'].every(int) &&
    typeof d.ktimeNs === 'string' &&
    /^\d{1,20}$/.test(d.ktimeNs) &&
    typeof d.cgroupId === 'string' &&
    typeof d.comm === 'string' &&
    typeof d.addr === 'string'
  );
}

/**
 * The line protocol of one policy set (bpf/kblock/loader.c): `begin`, per rule a `rule` line then its
 * `port`/`cidr4`/`cidr6` entries, `commit`. A rule that does not fit is left out whole: a partial set
 * would deny more (a negated list) or less than the policy says.
 */
export function encodeRules(
  rules: readonly KernelBlockRule[],
  resolve: (path: string) => { id: string; level: number } | undefined,
  firstId: number,
): { text: string; ids: Map<number, KernelBlockRule>; load: KernelBlockLoad } {
  const lines = ['begin'];
  const ids = new Map<number, KernelBlockRule>();
  const load: KernelBlockLoad = { loaded: 0, skipped: [] };
  let cidr4 = 0;
  let cidr6 = 0;
  let ports = 0;
  let id = firstId;
  for (const rule of rules) {
    const skip = (map: string, reason: string): void => {
      kernelBlockOverflow.inc({ map });
      load.skipped.push({ rule, reason });
    };
    if (load.loaded >= KERNEL_BLOCK_MAX_RULES) {
      skip('rules', `more than ${KERNEL_BLOCK_MAX_RULES} kernel rules`);
      continue;
    }
    let scope = '0 0 0';
    if (rule.scope.kind === 'cgroup-id') scope = `1 ${rule.scope.id} 0`;
    else if (rule.scope.kind === 'cgroup-path') {
      const cg = resolve(rule.scope.path);
      if (!cg) {
        skip('cgroup', `cgroup ${rule.scope.path} does not exist`);
        continue;
      }
      scope = rule.scope.below ? `2 ${cg.id} ${cg.level}` : `1 ${cg.id} 0`;
    }
    const singles = (rule.ports ?? []).filter((p) => p.lo === p.hi).map((p) => p.lo);
    const ranges = (rule.ports ?? []).filter((p) => p.lo !== p.hi);
    const v4 = (rule.cidrs ?? []).filter((c) => !c.includes(':'));
    const v6 = (rule.cidrs ?? []).filter((c) => c.includes(':'));
    if (ranges.length > KERNEL_BLOCK_MAX_RANGES) {
      skip('ranges', `more than ${KERNEL_BLOCK_MAX_RANGES} port ranges in one rule`);
      continue;
    }
    if (ports + singles.length > KERNEL_BLOCK_MAX_PORTS) {
      skip('ports', `the port map holds ${KERNEL_BLOCK_MAX_PORTS} ports`);
      continue;
    }
    if (cidr4 + v4.length > KERNEL_BLOCK_MAX_CIDR4) {
      skip('cidr4', `the IPv4 prefix map holds ${KERNEL_BLOCK_MAX_CIDR4} prefixes`);
      continue;
    }
    if (cidr6 + v6.length > KERNEL_BLOCK_MAX_CIDR6) {
      skip('cidr6', `the IPv6 prefix map holds ${KERNEL_BLOCK_MAX_CIDR6} prefixes`);
      continue;
    }
    ports += singles.length;
    cidr4 += v4.length;
    cidr6 += v6.length;
    const protos = rule.protocols.reduce((m, p) => m | (p === 'tcp' ? 1 : 2), 0);
    const anyAddr = rule.cidrs === undefined ? 1 : 0;
    const anyPort = rule.ports === undefined ? 1 : 0;
    lines.push(
      [
        'rule',
        id,
        protos,
        scope,
        anyAddr,
        anyPort,
        rule.cidrsNegated ? 1 : 0,
        rule.portsNegated ? 1 : 0,
        ...ranges.flatMap((r) => [r.lo, r.hi]),
      ].join(' '),
    );
    for (const p of singles) lines.push(`port ${p}`);
    for (const c of [...v4, ...v6]) {
      const [addr, bits] = c.split('/');
      lines.push(`${c.includes(':') ? 'cidr6' : 'cidr4'} ${bits} ${addr}`);
    }
    ids.set(id, rule);
    id++;
    load.loaded++;
  }
  lines.push('commit');
  return { text: `${lines.join('\n')}\n`, ids, load };
}

export class KernelBlocker implements EventSource {
  readonly name = KERNEL_BLOCK_SOURCE_NAME;
  readonly canWait = false; // the kernel does not wait: a full queue is a counted drop
  /** Denials come from the kernel: the pid, uid and cgroup are the kernel's. */
  readonly trustedForKill = true;
  private child: ChildProcess | undefined;
  private emit: EmitFn | undefined;
  private status: SourceStats['status'] = 'stopped';
  private lastError: string | undefined;
  private readonly counters = new SourceCounters(KERNEL_BLOCK_SOURCE_NAME, 'kernel-block');
  private readonly clock = new MonotonicClock();
  private readonly bootId = readBootId();
  private readonly node: string;
  private readonly root: string;
  /** Rule ids of the current and the previous set (a denial may be reported after a reload). */
  private ids = new Map<number, KernelBlockRule>();
  private previousIds = new Map<number, KernelBlockRule>();
  private nextId = 1;
  private pending: ((line: Record<string, unknown>) => void) | undefined;
  private updates: Promise<unknown> = Promise.resolve();
  private exited: Promise<void> = Promise.resolve();
  private stderrTail: string[] = [];
  private lastLoad: KernelBlockLoad = { loaded: 0, skipped: [] };

  constructor(private readonly opts: KernelBlockerOptions) {
    this.node = opts.node ?? hostname();
    const root = opts.cgroupRoot ?? findCgroup2Root();
    if (!root) throw new KernelBlockError('no cgroup v2 hierarchy is mounted');
    this.root = root;
  }

  /** Pid of the loader, while running. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** The last policy set as loaded: rules in the maps, rules left out and why. */
  get load(): KernelBlockLoad {
    return this.lastLoad;
  }

  async start(emit: EmitFn): Promise<void> {
    this.emit = emit;
    this.status = 'starting';
    const child = spawn(this.opts.loader, [this.root], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child = child;
    this.exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
    child.stdin.on('error', () => undefined); // EPIPE when the loader died: reported by 'close'
    createInterface({ input: child.stderr, crlfDelay: Infinity }).on('line', (l) => {
      this.stderrTail.push(l.slice(0, MAX_LINE));
      if (this.stderrTail.length > 20) this.stderrTail.shift();
    });
    let ready: (() => void) | undefined;
    createInterface({ input: child.stdout, crlfDelay: Infinity }).on('line', (l) =>
      this.onLine(l, () => ready?.()),
    );
    const timeoutMs = this.opts.attachTimeoutMs ?? 30_000;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new KernelBlockError(`the loader did not attach within ${timeoutMs} ms`));
      }, timeoutMs);
      ready = () => {
        clearTimeout(timer);
        resolve();
      };
      child.once('error', (err) => {
        clearTimeout(timer);
        reject(new KernelBlockError(err.message));
      });
      void this.exited.then(() => {
        clearTimeout(timer);
        kernelBlockUp.set(0);
        if (this.status === 'starting') {
          this.status = 'failed';
          reject(new KernelBlockError(this.stderrTail.join(' ').slice(-1000) || 'the loader exited'));
        } else if (this.status !== 'stopped') {
          this.status = 'failed';
          this.lastError = `the loader exited (code ${String(child.exitCode)}): ${this.stderrTail.slice(-3).join(' ')}`;
          this.opts.logger?.error({ err: this.lastError }, 'kernel block program detached');
        }
        this.pending?.({ type: 'exited' });
      });
    });
    this.status = 'running';
    kernelBlockUp.set(1);
    await this.update(this.opts.rules);
  }

  /** Writes a new policy set into the maps; the program stays attached. */
  update(rules: readonly KernelBlockRule[]): Promise<KernelBlockLoad> {
    const next = this.updates.then(() => this.apply(rules));
    this.updates = next.catch(() => undefined);
    return next;
  }

  private async apply(rules: readonly KernelBlockRule[]): Promise<KernelBlockLoad> {
    const child = this.child;
    if (!child || this.status !== 'running') throw new KernelBlockError('the loader is not running');
    const { text, ids, load } = encodeRules(rules, (p) => cgroupIdOf(this.root, p), this.nextId);
    this.nextId += ids.size;
    const answer = new Promise<Record<string, unknown>>((resolve) => (this.pending = resolve));
    child.stdin?.write(text);
    const reply = await answer;
    this.pending = undefined;
    if (reply.type !== 'committed')
      throw new KernelBlockError(`the loader refused the rules: ${JSON.stringify(reply).slice(0, 300)}`);
    this.previousIds = this.ids;
    this.ids = ids;
    this.lastLoad = load;
    kernelBlockRules.set(load.loaded);
    for (const s of load.skipped)
      this.opts.say?.(`block: ${s.rule.policy}/${s.rule.rule} not enforced in the kernel: ${s.reason}`);
    return load;
  }

  async stop(): Promise<void> {
    const child = this.child;
    this.status = 'stopped';
    kernelBlockUp.set(0);
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    child.stdin?.end(); // EOF: the loader detaches and exits
    const timeout = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 5000).unref());
    if ((await Promise.race([this.exited, timeout])) === 'timeout') {
      child.kill('SIGKILL');
      await this.exited;
    }
  }

  stats(): SourceStats {
    return {
      name: this.name,
      kind: 'kernel-block',
      status: this.status,
      eventsIn: this.counters.eventsIn,
      dropped: { ...this.counters.dropped },
      ...(this.lastError ? { lastError: this.lastError } : {}),
    };
  }

  private onLine(line: string, ready: () => void): void {
    let v: unknown;
    try {
      v = line.length > MAX_LINE ? undefined : JSON.parse(line);
    } catch {
      v = undefined;
    }
    if (v === null || typeof v !== 'object') {
      kernelBlockLost.inc({ reason: 'malformed' });
      return;
    }
    const msg = v as Record<string, unknown>;
    switch (msg.type) {
      case 'ready':
        ready();
        return;
      case 'lost':
        if (Number.isSafeInteger(msg.count))
          kernelBlockLost.inc({ reason: 'ring-buffer' }, msg.count as number);
        return;
      case 'deny':
        if (!isDeny(msg)) {
          kernelBlockLost.inc({ reason: 'malformed' });
          return;
        }
        kernelBlockDenials.inc();
        this.counters.eventsIn++;
        void this.emit?.(this.eventOf(msg));
        return;
      case 'error':
        this.opts.logger?.warn({ line: msg.line, message: msg.message }, 'kernel block loader error');
        return;
      default:
        this.pending?.(msg);
    }
  }

  private eventOf(d: Deny): RuntimeEvent {
    const rule = this.ids.get(d.ruleId) ?? this.previousIds.get(d.ruleId);
    const exe = readExe(d.tgid);
    const ticks = readStartTicks(d.tgid);
    const cgroupPath = /^0::(\/.*)$/m.exec(readCgroupFile(d.tgid) ?? '')?.[1];
    const event: RuntimeEvent = {
      id: `kblock-${this.bootId}-${d.ktimeNs}-${d.pid}`,
      time: rfc3339Nano(this.clock.wallNs(Number(d.ktimeNs))),
      source: KERNEL_BLOCK_SOURCE_NAME,
      node: this.node,
      behavior: 'network-connect',
      enforced: true,
      sourceEvent: d.hook === 4 ? 'cgroup/connect4' : 'cgroup/connect6',
      process: {
        pid: d.tgid,
        uid: d.uid,
        // The process may have exited: the kernel's comm is all that is certain.
        binary: exe ?? d.comm,
        ...(ticks !== undefined && { startTime: String(ticks * NS_PER_TICK) }),
      },
      network: {
        protocol: d.protocol === 6 ? 'tcp' : d.protocol === 17 ? 'udp' : String(d.protocol),
        family: d.family === 4 ? 'ipv4' : 'ipv6',
        daddr: d.addr,
        dport: d.port,
      },
      cgroup: { id: d.cgroupId, ...(cgroupPath !== undefined && { path: cgroupPath }) },
      raw: {
        decidedBy: rule
          ? {
              policy: rule.policy,
              ...(rule.policyNamespace !== undefined && { namespace: rule.policyNamespace }),
              rule: rule.rule,
            }
          : { ruleId: d.ruleId },
        comm: d.comm,
        tid: d.pid,
      },
    };
    if (rule) event.alert = { rule: `${rule.policy}/${rule.rule}`, output: 'connect denied in the kernel' };
    return event;
  }
}
