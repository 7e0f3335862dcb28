/**
 * The built-in eBPF sensor as an EventSource: runs bpftrace with a generated program, parses its
 * output into RuntimeEvents, restarts it with backoff if it dies, and stops it with SIGINT so bpftrace
 * detaches its probes (SIGKILL only if it does not exit in time; the kernel then detaches them as the
 * file descriptors close).
 */
import { KyvernoRuntimeError } from '../../contracts/errors.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { createInterface } from 'node:readline';
import { hostname, release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventBuilder } from '../../events/adapters/bpftrace.js';
import type { Behavior, RuntimeEvent } from '../../events/types.js';
import type { SensorRuleView } from '../../engine/api/runtime.js';
import type { Logger } from '../../observability/logger.js';
import { kernelKills, sensorUnresolvedPaths, sensorUp } from '../../observability/metrics.js';
import { RecordReader } from '../record-reader.js';
import { SourceCounters } from '../records.js';
import { LineSplitter, type LinePiece } from '../lines.js';
import type { EmitFn, EventSource, SourceStats } from '../types.js';
import type { ContainerEnrichment } from './container-runtime.js';
import { MonotonicClock, procProcessView, readBootId } from './proc.js';
import { kernelKillKey, planEnforcement, type EnforcementPlan, type PlanEnvironment } from './kernel-kill.js';
import { capabilityLayoutOf, generateProgram, SENSOR_STRLEN, type GeneratedProgram } from './program.js';
import { RecordParser, type ParserSignal } from './records.js';

export interface SensorHintsLike {
  behaviors: ReadonlySet<Behavior>;
  filePathPrefixes: readonly string[];
  /** Restrict rules, for the in-kernel kill (kernel-kill.ts). */
  rules?: readonly SensorRuleView[];
}

export interface BpftraceSensorOptions {
  bpftrace: string;
  tracepointExists: (name: string) => boolean;
  hints: SensorHintsLike;
  node?: string;
  logger?: Logger;
  /** Give up waiting for "attached" after this long (bpftrace compiles with LLVM: seconds). Default 60 s. */
  attachTimeoutMs?: number;
  /** Restart backoff: first delay, doubled up to the max. Defaults 1 s → 30 s. */
  restartDelayMs?: number;
  maxRestartDelayMs?: number;
  /** Perf ring buffer pages per CPU (BPFTRACE_PERF_RB_PAGES). Default 256 (1 MiB per CPU). */
  ringPages?: number;
  /**
   * Lets the probes SIGKILL for rules decided in the kernel (`kernelKillOff` undefined). Absent: the
   * in-kernel kill is off (only local mode under `--action-mode policy` turns it on).
   */
  enforcement?: PlanEnvironment;
  /**
   * Names containers from the container runtime (CRI / Docker): an event of a container not yet
   * known is held until its lookup ends, within the enricher's deadline. Closed by stop().
   */
  containerMetadata?: ContainerEnrichment;
}

/** bpftrace's default time to compile and attach (LLVM: seconds idle, a minute or more under load). */
export const DEFAULT_ATTACH_TIMEOUT_MS = 60_000;

/** bpftrace did not report its probes attached in time; it has been killed. */
export class SensorAttachTimeoutError extends KyvernoRuntimeError {
  constructor(readonly timeoutMs: number) {
    super('E_SENSOR_ATTACH_TIMEOUT', `bpftrace did not attach its probes within ${timeoutMs} ms`);
  }
}

/**
 * Longest output line taken from bpftrace. Its lines stay well under this (strings are capped at
 * SENSOR_STRLEN bytes, at most ten JSON characters per byte); a longer one is counted as malformed.
 */
export const SENSOR_MAX_LINE_BYTES = 64 * 1024;

/** Drop reasons this source counts (docs/sensor.md "Drops"). */
export const SENSOR_DROP_REASONS = {
  lost: 'sensor-lost',
  malformed: 'sensor-malformed',
  orphan: 'sensor-orphan',
} as const;

interface Running {
  /** Absent when no policy needs a probe (nothing to run). */
  child?: ChildProcess;
  program: GeneratedProgram;
  plan: EnforcementPlan;
  parser: RecordParser;
  builder: EventBuilder;
  exited: Promise<void>;
  attached: boolean;
}

export class BpftraceSensor implements EventSource {
  readonly name = 'sensor';
  readonly canWait = false; // the kernel does not wait: a full queue is a counted drop
  /** Pids, start times and executables come from the kernel and /proc, not from a sender. */
  readonly trustedForKill = true;
  private hints: SensorHintsLike;
  private readonly node: string;
  private emit: EmitFn | undefined;
  private current: Running | undefined;
  private stopping = false;
  private restartTimer: NodeJS.Timeout | undefined;
  private restartDelay: number;
  private status: SourceStats['status'] = 'stopped';
  private lastError: string | undefined;
  private incomplete = 0;
  private filtered = 0;
  private restarts = 0;
  /** Pipe reads and output lines taken from bpftrace (the bench's per-op cost breakdown). */
  private reads = 0;
  private lines = 0;
  /** Drops and events in; the record reader applies the ingest guard to every built event. */
  private readonly counters = new SourceCounters(this.name, 'bpftrace');
  private readonly reader = new RecordReader({ counters: this.counters, format: 'auto' });
  private readonly bootId = readBootId();

  constructor(private readonly opts: BpftraceSensorOptions) {
    this.hints = opts.hints;
    this.node = opts.node ?? hostname();
    this.restartDelay = opts.restartDelayMs ?? 1000;
  }

  /** The program currently attached (for `--print-program`, docs and tests). */
  get program(): GeneratedProgram | undefined {
    return this.current?.program;
  }

  /** Which enforcement path each rule takes with the current program. */
  get enforcement(): EnforcementPlan {
    return this.current?.plan ?? this.planFor(this.hints);
  }

  private planFor(hints: SensorHintsLike): EnforcementPlan {
    return planEnforcement(
      hints.rules ?? [],
      this.opts.enforcement ?? { kernelKillOff: 'in-kernel kill not enabled' },
    );
  }

  /** Pid of the bpftrace process, while running. */
  get pid(): number | undefined {
    return this.current?.child?.pid;
  }

  async start(emit: EmitFn): Promise<void> {
    this.emit = emit;
    this.stopping = false;
    this.status = 'starting';
    this.current = await this.launch();
  }

  /**
   * New policy set: regenerate the program only if what it must watch changed. The new bpftrace is
   * attached before the old one is stopped, so no syscall goes unseen during the swap (the overlap
   * may report an event twice with the same id; the id is stable, so consumers can dedup).
   */
  async updateHints(hints: SensorHintsLike): Promise<boolean> {
    if (sameHints(hints, this.hints) && sameKernelKill(this.planFor(hints), this.planFor(this.hints)))
      return false;
    this.hints = hints;
    if (!this.current || this.stopping) return true;
    const old = this.current;
    this.current = await this.launch();
    await this.terminate(old);
    return true;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    const cur = this.current;
    this.current = undefined;
    if (cur) await this.terminate(cur);
    this.opts.containerMetadata?.close();
    this.status = 'stopped';
    sensorUp.set(0);
  }

  stats(): SourceStats {
    return {
      name: this.name,
      kind: 'bpftrace',
      status: this.status,
      eventsIn: this.counters.eventsIn,
      dropped: { ...this.counters.dropped },
      ...(this.lastError ? { lastError: this.lastError } : {}),
    };
  }

  /** Extra numbers for logs and the bench. */
  details(): {
    incomplete: number;
    filtered: number;
    restarts: number;
    reads: number;
    lines: number;
    probes: string[];
  } {
    return {
      incomplete: this.incomplete,
      filtered: this.filtered,
      restarts: this.restarts,
      reads: this.reads,
      lines: this.lines,
      probes: this.current?.program.probes ?? [],
    };
  }

  private drop(reason: string, n = 1): void {
    this.counters.drop(reason, n);
  }

  private async launch(): Promise<Running> {
    const plan = this.planFor(this.hints);
    const program = generateProgram({
      behaviors: this.hints.behaviors,
      filePathPrefixes: this.hints.filePathPrefixes,
      selfPid: process.pid,
      tracepointExists: this.opts.tracepointExists,
      kernelKill: plan.kernel,
      capabilityLayout: capabilityLayoutOf(release()),
    });
    for (const u of program.unsupported) {
      this.opts.logger?.warn({ behavior: u.behavior, reason: u.reason }, 'sensor cannot watch this behavior');
    }
    const builder = new EventBuilder({
      node: this.node,
      emitExec: this.hints.behaviors.has('process-exec'),
      emitPrivilege: this.hints.behaviors.has('privilege-escalation'),
      filePathPrefixes: this.hints.filePathPrefixes,
      // Taken again at every launch: the monotonic → wall offset drifts (suspend, NTP steps).
      clock: new MonotonicClock(),
      bootId: this.bootId,
      processes: procProcessView,
    });
    if (program.probes.length === 0) {
      // Nothing to watch (no policy needs the sensor): stay up without a bpftrace process.
      this.status = 'running';
      this.opts.logger?.info('no loaded policy needs the sensor: no probes attached');
      return Promise.resolve(this.idle(program, plan, builder));
    }
    // --unsafe only when some probe signals (bpf_send_signal); a report-only program never needs it.
    const args = [...(program.unsafe ? ['--unsafe'] : []), '-f', 'json', '-e', program.source];
    let deliver: (chunk: Buffer) => void = () => undefined;
    const out = await outputSocket((chunk) => deliver(chunk));
    const child = spawn(this.opts.bpftrace, args, {
      stdio: ['ignore', out?.writer ?? 'pipe', 'pipe'],
      env: {
        ...process.env,
        BPFTRACE_STRLEN: String(SENSOR_STRLEN),
        BPFTRACE_PERF_RB_PAGES: String(this.opts.ringPages ?? 256),
      },
    });
    out?.writer.destroy(); // bpftrace holds its own copy
    const stderrTail: string[] = [];
    // Exited once bpftrace is gone and its output is read to the end (the parser is flushed then).
    const exited = Promise.all([
      new Promise<void>((resolve) => child.once('close', () => resolve())),
      out ? new Promise<void>((resolve) => out.reader.once('close', () => resolve())) : undefined,
    ]).then(() => undefined);
    let onAttached: (() => void) | undefined;
    const running: Running = {
      child,
      program,
      plan,
      builder,
      exited,
      attached: false,
      parser: new RecordParser((s) => this.onSignal(running, s, () => onAttached?.()), program.prefixDirs),
    };
    // A bounded splitter (bpftrace's lines are short; anything longer is not its output) that hands
    // over every line of a read at once, cheaper per line than node:readline's events.
    const splitter = new LineSplitter(SENSOR_MAX_LINE_BYTES);
    const onPiece = (piece: LinePiece): void => {
      if (piece.kind === 'line') {
        this.lines++;
        running.parser.line(piece.text);
      } else if (piece.kind === 'too-large') this.drop(SENSOR_DROP_REASONS.malformed);
    };
    deliver = (chunk: Buffer): void => {
      this.reads++;
      for (const piece of splitter.feed(chunk)) onPiece(piece);
    };
    const endOfOutput = (): void => {
      const last = splitter.flush();
      if (last) onPiece(last);
    };
    if (out) {
      out.reader.once('end', endOfOutput);
      out.reader.on('error', (err) => this.opts.logger?.debug({ err: err.message }, 'sensor output socket'));
    } else {
      child.stdout?.on('data', deliver);
      child.stdout?.once('end', endOfOutput);
    }
    const stderr = child.stderr;
    if (stderr === null) throw new Error('bpftrace was spawned without a stderr pipe');
    createInterface({ input: stderr, crlfDelay: Infinity }).on('line', (l) => {
      // bpftrace's RLIMIT_MEMLOCK notice is harmless on kernels with memcg accounting.
      if (/RLIMIT_MEMLOCK/.test(l)) return;
      // bpftrace warns about print() in a loop (about maps); the loop prints path components, not maps.
      if (/asynchronous nature using 'print\(\)' in a loop|^\s+print\(\(|^\s+~+$/.test(l)) return;
      const lost = /Lost (\d+) events/.exec(l);
      if (lost) return this.drop(SENSOR_DROP_REASONS.lost, Number(lost[1]));
      stderrTail.push(l);
      if (stderrTail.length > 20) stderrTail.shift();
      this.opts.logger?.debug({ line: l }, 'bpftrace stderr');
    });
    const attachTimeoutMs = this.opts.attachTimeoutMs ?? DEFAULT_ATTACH_TIMEOUT_MS;
    return new Promise<Running>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new SensorAttachTimeoutError(attachTimeoutMs));
      }, attachTimeoutMs);
      onAttached = () => {
        clearTimeout(timer);
        running.attached = true;
        this.status = 'running';
        this.restartDelay = this.opts.restartDelayMs ?? 1000;
        sensorUp.set(1);
        this.opts.logger?.info({ probes: program.probes.length, pid: child.pid }, 'sensor attached');
        resolve(running);
      };
      child.once('error', (err) => {
        clearTimeout(timer);
        this.lastError = err.message;
        reject(err);
      });
      void exited.then(() => {
        running.parser.flush();
        if (!running.attached) {
          clearTimeout(timer);
          const detail = stderrTail.join('\n').trim() || `exit code ${String(child.exitCode)}`;
          this.lastError = `bpftrace failed to start: ${detail}`;
          this.status = 'failed';
          reject(new Error(this.lastError));
          return;
        }
        this.onExit(running, stderrTail);
      });
    });
  }

  private idle(program: GeneratedProgram, plan: EnforcementPlan, builder: EventBuilder): Running {
    return {
      program,
      plan,
      builder,
      exited: Promise.resolve(),
      attached: true,
      parser: new RecordParser(() => undefined),
    };
  }

  private onExit(running: Running, stderrTail: string[]): void {
    if (this.stopping || this.current !== running) return; // a planned stop or a replaced program
    sensorUp.set(0);
    this.status = 'degraded';
    this.lastError = `bpftrace exited unexpectedly (code ${String(running.child?.exitCode)}): ${stderrTail.slice(-3).join(' ')}`;
    this.opts.logger?.error({ err: this.lastError, retryInMs: this.restartDelay }, 'sensor died; restarting');
    const delay = this.restartDelay;
    this.restartDelay = Math.min(delay * 2, this.opts.maxRestartDelayMs ?? 30_000);
    this.restartTimer = setTimeout(() => {
      if (this.stopping) return;
      this.restarts++;
      this.launch().then(
        (r) => {
          if (this.stopping) void this.terminate(r);
          else this.current = r;
        },
        (err: unknown) => {
          this.lastError = (err as Error).message;
          this.onExit(running, [this.lastError]);
        },
      );
    }, delay);
  }

  private async terminate(r: Running): Promise<void> {
    const child = r.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGINT');
    const timeout = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), 5000).unref());
    if ((await Promise.race([r.exited, timeout])) === 'timeout') {
      child.kill('SIGKILL');
      await r.exited;
    }
  }

  private onSignal(running: Running, s: ParserSignal, attached: () => void): void {
    switch (s.type) {
      case 'ready':
        attached();
        return;
      case 'lost':
        this.drop(SENSOR_DROP_REASONS.lost, s.events);
        return;
      case 'malformed':
        if (s.reason === 'sensor-incomplete') this.incomplete++;
        else this.drop(s.reason);
        this.opts.logger?.debug({ reason: s.reason, detail: s.detail }, 'sensor record skipped');
        return;
      case 'record': {
        if (s.kernelKill !== undefined) {
          const rule = running.plan.kernel[s.kernelKill];
          kernelKills.inc({
            policy: rule ? `${rule.namespace ? `${rule.namespace}/` : ''}${rule.policy}` : 'unknown',
            rule: rule?.rule ?? 'unknown',
          });
        }
        const built = running.builder.build(s.record);
        if ('filtered' in built) {
          this.filtered++;
          return;
        }
        if ('pending' in built) return;
        if (s.kernelKill !== undefined) {
          // Set here from the kernel's own mark, never from event data: kill (actions/kill.ts) then
          // reports "killed in kernel" instead of signalling a pid that may already be recycled.
          const rule = running.plan.kernel[s.kernelKill];
          built.event.enforced = true;
          built.event.raw = {
            ...(built.event.raw as Record<string, unknown>),
            kernelKill: rule
              ? `${rule.namespace ? `${rule.namespace}/` : ''}${rule.policy}/${rule.rule}`
              : s.kernelKill,
          };
        }
        // The same ingest guard as the adapters: a process controls its own argv (up to 128 KiB per
        // argument), which would otherwise be copied whole into every row, log line and stream frame.
        // canWait=false: the pipeline drops and counts when full; never await here. Runtime metadata
        // is added before the guard, so what a runtime says is capped like everything else.
        const pass = (ev: RuntimeEvent): void => {
          for (const e of this.reader.acceptBuilt(ev)) void this.emit?.(e);
        };
        const enrich = this.opts.containerMetadata;
        if (built.unresolvedPath) sensorUnresolvedPaths.inc();
        for (const ev of built.also ? [built.event, ...built.also] : [built.event]) {
          if (enrich) enrich.process(ev, pass);
          else pass(ev);
        }
        return;
      }
    }
  }
}

/**
 * bpftrace's stdout as a unix socket this process reads with `onread` into one reused buffer.
 * spawn()'s own stdout is read through a Readable stream that allocates a buffer and emits an event
 * per read: measured, that doubled the consumer's CPU per read, and bpftrace's output is read a few
 * lines at a time. The socket's path lives in a private (0700) directory only until both ends are connected.
 * Undefined when it cannot be made: stdout is then spawn()'s stream, as before.
 */
async function outputSocket(
  onChunk: (chunk: Buffer) => void,
): Promise<{ reader: Socket; writer: Socket } | undefined> {
  let dir: string | undefined;
  const server = createServer();
  try {
    dir = mkdtempSync(join(tmpdir(), 'kr-sensor-'));
    const path = join(dir, 'out');
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, resolve);
    });
    const accepted = new Promise<Socket>((resolve) => server.once('connection', resolve));
    const buffer = Buffer.allocUnsafe(64 * 1024);
    const reader = connect({
      path,
      onread: {
        buffer,
        callback: (n: number, buf: Uint8Array): boolean => {
          onChunk(Buffer.from(buf.buffer, buf.byteOffset, n)); // parsed before the next read
          return true;
        },
      },
    });
    await new Promise<void>((resolve, reject) => {
      reader.once('connect', resolve);
      reader.once('error', reject);
    });
    return { reader, writer: await accepted };
  } catch {
    return undefined;
  } finally {
    // One connection only, on success or not: nothing else may connect later.
    server.close();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  }
}

function sameKernelKill(a: EnforcementPlan, b: EnforcementPlan): boolean {
  return kernelKillKey(a.kernel) === kernelKillKey(b.kernel);
}

function sameHints(a: SensorHintsLike, b: SensorHintsLike): boolean {
  if (a.behaviors.size !== b.behaviors.size) return false;
  for (const x of a.behaviors) if (!b.behaviors.has(x)) return false;
  const pa = [...a.filePathPrefixes].sort();
  const pb = [...b.filePathPrefixes].sort();
  return pa.length === pb.length && pa.every((p, i) => p === pb[i]);
}
