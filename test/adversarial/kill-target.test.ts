/**
 * The `kill` action under attack, with real processes and real signals: a forged event posted to the
 * ingest naming someone else's process, an event naming one of the agent's own threads, pid 1, kernel
 * threads, and a host process under a pod-only rule. Every one must leave its target alive with
 * outcome `refused` and a reason, counted; the genuine match from a trusted input must be killed.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, chownSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { Worker } from 'node:worker_threads';
import { killEventProcess, type KillContext, type KillRefusalReason } from '../../src/actions/kill.js';
import { LocalActionRunner } from '../../src/actions/local-runner.js';
import type { ActionOutcome } from '../../src/contracts/actions.js';
import type { Verdict } from '../../src/contracts/verdict.js';
import type { RuntimeEvent } from '../../src/events/types.js';
import { readExe, readStartTicks, readStatus } from '../../src/host/proc.js';
import { actionRefused } from '../../src/observability/metrics.js';
import { createPipeline } from '../../src/pipeline/index.js';
import { checkSourceTrust, startLocalMode, type LocalModeHandle } from '../../src/app/local.js';
import { TerminalSink } from '../../src/cli/run/terminal.js';
import type { HttpSource } from '../../src/sources/http/index.js';
import type { EventOrigin, EventSource } from '../../src/sources/types.js';
import { killTrustProblem, rootOnlyPathProblem } from '../../src/sources/trust.js';
import { parseKillTrustedSources } from '../../src/cli/commands/cluster.js';
import { checkClusterKillTrust } from '../../src/app/cluster.js';

const skip =
  process.platform !== 'linux' ? 'needs /proc' : process.getuid?.() !== 0 ? 'needs root' : undefined;

const SENSOR: EventOrigin = { source: 'sensor', trustedForKill: true };
const FORGED: EventOrigin = { source: 'http', trustedForKill: false };
/** A trusted input and a rule matching kind Node: only the process checks stand in the way. */
const TRUSTED_NODE_RULE: KillContext = { origin: SENSOR, ruleTargetsNode: true };

function sleeper(): ChildProcess {
  return spawn('sleep', ['60'], { stdio: 'ignore' });
}

/** Start time as the sensor records it (boot ns), read from /proc like an attacker can. */
function bootNs(pid: number): string {
  const ticks = readStartTicks(pid);
  assert.ok(ticks !== undefined, `pid ${pid} has no start time`);
  return String(ticks * 10_000_000 + 1234);
}

function eventFor(pid: number, binary: string, startTime = bootNs(pid)): RuntimeEvent {
  return {
    id: `e-${pid}-${binary}`,
    time: new Date().toISOString(),
    source: 'bpftrace',
    behavior: 'process-exec',
    process: { pid, startTime, binary },
  };
}

function verdictFor(event: RuntimeEvent): Verdict {
  return {
    policy: 'no-shell',
    rule: 'no-shell',
    mode: 'Enforce',
    resource: { apiVersion: 'v1', kind: 'Node', name: 'n' },
    behavior: event.behavior,
    message: 'shell',
    eventId: event.id,
    time: event.time,
    actions: [{ kill: {} }],
    event,
  };
}

async function refusedCount(reason: KillRefusalReason): Promise<number> {
  const m = await actionRefused.get();
  return m.values.find((v) => v.labels.action === 'kill' && v.labels.reason === reason)?.value ?? 0;
}

function alive(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

async function killedBy(child: ChildProcess): Promise<string | null> {
  if (!alive(child)) return child.signalCode;
  const [, signal] = (await once(child, 'exit')) as [number | null, string | null];
  return signal;
}

describe('kill acts only on the process the event really names', { skip }, () => {
  test('a forged event claiming /bin/sh for a sleep leaves the sleep alive (exe-mismatch)', async () => {
    const victim = sleeper();
    const before = await refusedCount('exe-mismatch');
    const r = killEventProcess({}, eventFor(victim.pid!, '/bin/sh'), TRUSTED_NODE_RULE);
    assert.equal(r.outcome, 'refused', r.detail);
    assert.equal(r.reason, 'exe-mismatch');
    assert.match(r.detail ?? '', /runs \/usr\/bin\/sleep, not "\/bin\/sh"/);
    assert.equal(await refusedCount('exe-mismatch'), before + 1);
    await new Promise((res) => setTimeout(res, 100));
    assert.ok(alive(victim), 'the sleep was killed on a forged binary');
    victim.kill();
    await once(victim, 'exit');
  });

  test('the genuine match is killed, also when named through a symlink (/bin/sleep)', async () => {
    const exact = sleeper();
    const r = killEventProcess({}, eventFor(exact.pid!, readExe(exact.pid!)!), TRUSTED_NODE_RULE);
    assert.equal(r.outcome, 'succeeded', r.detail);
    assert.equal(await killedBy(exact), 'SIGKILL');
    // /bin is a symlink on merged-/usr hosts: the name resolves, inside the process's root, to the
    // very inode it executes.
    const viaLink = sleeper();
    const r2 = killEventProcess({}, eventFor(viaLink.pid!, '/bin/sleep'), TRUSTED_NODE_RULE);
    assert.equal(r2.outcome, 'succeeded', r2.detail);
    assert.equal(await killedBy(viaLink), 'SIGKILL');
  });

  test('a wrong start time is refused (start-time-mismatch), the process lives', async () => {
    const victim = sleeper();
    const stale = String((readStartTicks(victim.pid!)! - 7) * 10_000_000);
    const r = killEventProcess({}, eventFor(victim.pid!, '/usr/bin/sleep', stale), TRUSTED_NODE_RULE);
    assert.equal(r.reason, 'start-time-mismatch');
    assert.ok(alive(victim));
    victim.kill();
    await once(victim, 'exit');
  });

  test('kill(0), kill(-1) and a pid without start time or binary are refused', () => {
    for (const pid of [0, -1, 1.5]) {
      const e = eventFor(process.pid, '/x', '1');
      e.process!.pid = pid;
      assert.equal(killEventProcess({}, e, TRUSTED_NODE_RULE).reason, 'invalid-pid', String(pid));
    }
    const noBinary: RuntimeEvent = {
      ...eventFor(process.pid, '/x'),
      process: { pid: 4_000_000, startTime: '1' },
    };
    assert.equal(killEventProcess({}, noBinary, TRUSTED_NODE_RULE).reason, 'missing-identity');
  });
});

describe('the agent never signals itself, its sensor, init or the kernel', { skip }, () => {
  let worker: Worker;
  before(async () => {
    worker = new Worker('setInterval(() => {}, 1000)', { eval: true });
    await once(worker, 'online');
  });
  after(() => worker.terminate());

  test("an event naming one of the agent's own thread ids is refused (self), the agent survives", async () => {
    const tids = readdirSync('/proc/self/task')
      .map(Number)
      .filter((t) => t !== process.pid);
    assert.ok(tids.length > 0, 'no thread besides the main one');
    const before = await refusedCount('self');
    for (const tid of tids) {
      // Everything else matches: the thread's own start time and the agent's executable.
      assert.equal(readStatus(tid)?.tgid, process.pid);
      const r = killEventProcess({}, eventFor(tid, process.execPath, bootNs(tid)), TRUSTED_NODE_RULE);
      assert.equal(r.outcome, 'refused', `tid ${tid}: ${r.outcome} ${r.detail ?? ''}`);
      assert.equal(r.reason, 'self');
    }
    assert.equal(await refusedCount('self'), before + tids.length);
    // Still here: the worker thread answers.
    worker.postMessage('ping');
  });

  test("the sensor's process and its threads are refused (sensor)", async () => {
    // A node child stands in for bpftrace: several threads, like bpftrace's. It says when it runs.
    const bpftraceStandIn = spawn(
      process.execPath,
      ['-e', "process.stdout.write('up'); setInterval(() => {}, 1000)"],
      {
        stdio: ['ignore', 'pipe', 'ignore'],
      },
    );
    try {
      await once(bpftraceStandIn.stdout, 'data');
      const pid = bpftraceStandIn.pid!;
      const threads = readdirSync(`/proc/${pid}/task`).map(Number);
      assert.ok(threads.length > 1, `only ${threads.length} thread`);
      for (const tid of threads) {
        const r = killEventProcess({}, eventFor(tid, process.execPath, bootNs(tid)), TRUSTED_NODE_RULE, {
          protectedPids: () => [pid],
        });
        assert.equal(r.reason, 'sensor', `tid ${tid}: ${r.detail ?? ''}`);
      }
      assert.ok(alive(bpftraceStandIn));
    } finally {
      bpftraceStandIn.kill();
    }
  });

  test('pid 1 and its threads are refused (init)', () => {
    const r = killEventProcess({}, eventFor(1, '/sbin/init', '0'), TRUSTED_NODE_RULE);
    assert.equal(r.outcome, 'refused');
    assert.equal(r.reason, 'init');
    let tids: number[] = [];
    try {
      tids = readdirSync('/proc/1/task')
        .map(Number)
        .filter((t) => t !== 1);
    } catch {
      // some sandboxes hide pid 1's tasks: the pid itself is covered above
    }
    for (const tid of tids) {
      const t = killEventProcess({}, eventFor(tid, '/sbin/init', '0'), TRUSTED_NODE_RULE);
      assert.equal(t.reason, 'init', `tid ${tid} of init: ${t.detail ?? ''}`);
    }
  });

  test('kthreadd (pid 2) and another kernel thread are refused (kernel-thread)', () => {
    const k = killEventProcess({}, eventFor(2, 'kthreadd', bootNs(2)), TRUSTED_NODE_RULE);
    assert.equal(k.reason, 'kernel-thread', k.detail);
    const child = readdirSync('/proc')
      .filter((d) => /^\d+$/.test(d))
      .map(Number)
      .find((pid) => pid > 2 && readStatus(pid)?.ppid === 2);
    if (child !== undefined) {
      const r = killEventProcess({}, eventFor(child, 'x', bootNs(child)), TRUSTED_NODE_RULE);
      assert.equal(r.reason, 'kernel-thread', r.detail);
    }
  });

  test('a host process is refused under a rule that does not match kind Node (host-process)', async () => {
    const victim = sleeper();
    const r = killEventProcess({}, eventFor(victim.pid!, '/usr/bin/sleep'), {
      origin: SENSOR,
      ruleTargetsNode: false,
    });
    assert.equal(r.reason, 'host-process', r.detail);
    assert.ok(alive(victim));
    victim.kill();
    await once(victim, 'exit');
  });
});

describe('kill acts only on events from trusted inputs', { skip }, () => {
  test('untrusted input: refused before dedup, so the trusted kill that follows still lands', async () => {
    const outcomes: ActionOutcome[] = [];
    const runner = new LocalActionRunner({
      onOutcome: (_v, o) => outcomes.push(o),
      ruleTargetsNode: () => true,
    });
    const victim = sleeper();
    const event = eventFor(victim.pid!, '/usr/bin/sleep');
    const before = await refusedCount('untrusted-source');
    for (let i = 0; i < 100; i++) runner.write([verdictFor(event)], event, FORGED);
    assert.ok(alive(victim));
    assert.equal(await refusedCount('untrusted-source'), before + 100);
    assert.ok(outcomes.every((o) => o.outcome === 'refused' && /untrusted-source/.test(o.detail ?? '')));
    // The forged flood neither marked the process as handled nor spent the policy's budget.
    runner.write([verdictFor(event)], event, SENSOR);
    assert.equal(outcomes.at(-1)?.outcome, 'succeeded', outcomes.at(-1)?.detail);
    assert.equal(await killedBy(victim), 'SIGKILL');
  });

  test('the pipeline carries the trust of the input, not of the event', async () => {
    const outcomes: ActionOutcome[] = [];
    const runner = new LocalActionRunner({
      onOutcome: (_v, o) => outcomes.push(o),
      ruleTargetsNode: () => true,
    });
    const engine = { evaluate: (e: RuntimeEvent): Verdict[] => [verdictFor(e)] };
    const pipeline = createPipeline({ engine, sinks: [runner] });
    const input = (name: string, trustedForKill: boolean, event: RuntimeEvent): EventSource => ({
      name,
      trustedForKill,
      async start(emit) {
        await emit(event);
      },
      stop: () => Promise.resolve(),
      stats: () => ({ name, kind: 'test', status: 'running', eventsIn: 1, dropped: {} }),
    });
    const a = sleeper();
    const b = sleeper();
    // An input that says it names host processes first-hand (the built-in sensor does) acts…
    await pipeline.attach(input('sensor', true, eventFor(a.pid!, '/usr/bin/sleep')));
    // …another acts only when the operator marks it trusted at attach; its event claiming to be the
    // sensor's changes nothing.
    await pipeline.attach(
      input('http', false, { ...eventFor(b.pid!, '/usr/bin/sleep'), source: 'bpftrace' }),
    );
    await pipeline.drain();
    assert.equal(await killedBy(a), 'SIGKILL');
    assert.ok(alive(b), 'an untrusted input got a kill');
    assert.deepEqual(
      outcomes.map((o) => o.outcome),
      ['succeeded', 'refused'],
    );
    await pipeline.attach(input('http', false, eventFor(b.pid!, '/usr/bin/sleep')), { trustedForKill: true });
    await pipeline.drain();
    assert.equal(await killedBy(b), 'SIGKILL');
    await pipeline.stop();
  });
});

describe('run over a real socket: a forged RuntimeEvent posted to the ingest', { skip }, () => {
  let dir: string;
  let rootOnly: string;
  const policyYaml = (kinds: string[]): string =>
    JSON.stringify({
      apiVersion: 'runtime.kyverno.io/v1alpha1',
      kind: 'ClusterRuntimePolicy',
      metadata: { name: 'no-shell' },
      spec: {
        failureAction: 'Enforce',
        rules: [
          {
            name: 'no-shell',
            match: { any: [{ resources: { kinds } }] },
            restrict: {
              behaviors: ['process-exec'],
              pattern: { event: { process: { binary: '*/sh | */sleep' } } },
              actions: [{ kill: {} }],
            },
          },
        ],
      },
    });

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'kr-killtrust-'));
    // /tmp is world-writable: token files that authenticate must live where only root writes.
    rootOnly = mkdtempSync('/run/kr-killtrust-');
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
    rmSync(rootOnly, { recursive: true, force: true });
  });

  async function startRun(
    name: string,
    extra: { tokenFile?: string; trusted?: boolean },
  ): Promise<{ handle: LocalModeHandle; out: PassThrough; text: () => string; url: string }> {
    const policies = join(dir, `${name}.json`);
    writeFileSync(policies, policyYaml(['Node']));
    const out = new PassThrough();
    let text = '';
    out.on('data', (c: Buffer) => (text += c.toString()));
    const handle = await startLocalMode({
      policies: [policies],
      source: 'http',
      sourceListen: { kind: 'tcp', host: '127.0.0.1', port: 0 },
      ...(extra.tokenFile !== undefined && { sourceAuth: { tokenFile: extra.tokenFile } }),
      sourceTrustedForKill: extra.trusted,
      nodeName: 'n',
      db: join(dir, `${name}.db`),
      install: false,
      logLevel: 'silent',
      logFile: join(dir, `${name}.log`),
      actionMode: 'policy',
      say: () => undefined,
      terminal: new TerminalSink({ out }),
    });
    const addr = (handle.source as HttpSource).address();
    assert.ok(addr);
    return { handle, out, text: () => text, url: `http://127.0.0.1:${addr.port}/events` };
  }

  async function post(url: string, event: RuntimeEvent, token?: string): Promise<number> {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(event),
    });
    await res.text();
    return res.status;
  }

  test('the default loopback ingest is untrusted: the sleep survives, outcome refused', async () => {
    const run = await startRun('untrusted', {});
    const victim = sleeper();
    try {
      const status = await post(run.url, eventFor(victim.pid!, '/usr/bin/sleep'));
      assert.ok(status < 300, `status ${status}`);
      await run.handle.pipeline.drain();
      assert.match(run.text(), /kill refused: untrusted-source/);
      assert.ok(alive(victim), 'a forged event over loopback HTTP killed a process');
    } finally {
      victim.kill();
      await run.handle.stop();
    }
  });

  test('a token-authenticated trusted ingest: a forged binary is refused, the genuine one killed', async () => {
    const tokenFile = join(rootOnly, 'tokens');
    writeFileSync(tokenFile, 'falco-forwarder-token\n', { mode: 0o600 });
    const run = await startRun('trusted', { tokenFile, trusted: true });
    const victim = sleeper();
    try {
      // Without the token: rejected at the door.
      assert.equal(await post(run.url, eventFor(victim.pid!, '/usr/bin/sleep')), 401);
      // A token holder (a compromised forwarder) claims the sleep is a shell.
      await post(run.url, eventFor(victim.pid!, '/bin/sh'), 'falco-forwarder-token');
      await run.handle.pipeline.drain();
      assert.match(run.text(), /kill refused: exe-mismatch/);
      assert.ok(alive(victim));
      await post(
        run.url,
        { ...eventFor(victim.pid!, '/usr/bin/sleep'), id: 'genuine' },
        'falco-forwarder-token',
      );
      assert.equal(await killedBy(victim), 'SIGKILL');
    } finally {
      victim.kill();
      await run.handle.stop();
    }
  });
});

describe('trusting an input is refused at start unless it is authenticated', { skip }, () => {
  let rootOnly: string;
  let open: string;
  before(() => {
    rootOnly = mkdtempSync('/run/kr-killtrust-');
    open = mkdtempSync(join(tmpdir(), 'kr-killtrust-'));
  });
  after(() => {
    rmSync(rootOnly, { recursive: true, force: true });
    rmSync(open, { recursive: true, force: true });
  });

  const base = {
    policies: [],
    nodeName: 'n',
    db: ':memory:',
    install: false,
    logLevel: 'silent',
    logFile: '-',
    actionMode: 'policy' as const,
    say: () => undefined,
    sourceTrustedForKill: true,
  };

  test('http and tcp without a token or unix socket, and stdin, are refused with the flag named', () => {
    for (const source of ['http', 'tcp', 'stdin'] as const) {
      assert.throws(
        () => checkSourceTrust({ ...base, source }),
        /--source-trusted-for-kill: the .* source cannot be trusted/,
      );
    }
    assert.doesNotThrow(() => checkSourceTrust({ ...base, source: 'http', sourceAuth: { tokenFile: '/x' } }));
    assert.doesNotThrow(() => checkSourceTrust({ ...base, source: 'sensor' }));
    assert.equal(killTrustProblem({ kind: 'tcp', flag: 'f', listen: 'unix:/run/x.sock' }), undefined);
  });

  test('a Tetragon export file is trusted only where only root can write or replace it', () => {
    const good = join(rootOnly, 'tetragon.log');
    writeFileSync(good, '', { mode: 0o600 });
    assert.doesNotThrow(() => checkSourceTrust({ ...base, source: 'tetragon-file', file: good }));

    // In /tmp anyone could create the next file after a rotation.
    const inTmp = join(open, 'tetragon.log');
    writeFileSync(inTmp, '', { mode: 0o600 });
    assert.match(rootOnlyPathProblem(inTmp) ?? '', /writable by group or others/);
    assert.throws(() => checkSourceTrust({ ...base, source: 'tetragon-file', file: inTmp }), /tetragon-file/);

    // A file an unprivileged user owns, even in a root-only directory.
    const theirs = join(rootOnly, 'theirs.log');
    writeFileSync(theirs, '');
    chownSync(theirs, 65534, 65534);
    assert.match(rootOnlyPathProblem(theirs) ?? '', /owned by uid 65534/);

    // A world-writable file.
    const loose = join(rootOnly, 'loose.log');
    writeFileSync(loose, '');
    chmodSync(loose, 0o666);
    assert.match(rootOnlyPathProblem(loose) ?? '', /writable by group or others/);
  });

  test('Tetragon gRPC is trusted only over a root-only unix socket, never TCP', () => {
    assert.match(
      killTrustProblem({ kind: 'tetragon-grpc', flag: 'f', tetragonTarget: 'localhost:54321' }) ?? '',
      /not a unix socket/,
    );
    assert.match(
      killTrustProblem({ kind: 'tetragon-grpc', flag: 'f', tetragonTarget: `unix://${open}/t.sock` }) ?? '',
      /ENOENT|writable/,
    );
  });
});

describe('cluster --kill-trusted-sources', { skip }, () => {
  test('names only known inputs, each enabled and authenticated', () => {
    assert.deepEqual(parseKillTrustedSources('tetragon-grpc, http'), ['tetragon-grpc', 'http']);
    assert.throws(() => parseKillTrustedSources('stdin'), /unknown source "stdin"/);
    assert.throws(() => checkClusterKillTrust(['http'], {}), /http is not enabled/);
    // An HTTP receiver without a token file: anyone who reaches it could name any pid.
    assert.throws(() => checkClusterKillTrust(['http'], { http: ':8090' }), /not authenticated/);
    assert.doesNotThrow(() => checkClusterKillTrust(['http'], { http: ':8090', httpTokenFile: '/t' }));
    assert.throws(
      () => checkClusterKillTrust(['tetragon-grpc'], { tetragonGrpc: 'tetragon:54321' }),
      /not a unix socket/,
    );
  });
});
