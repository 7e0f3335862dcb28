/**
 * The local `kill` action against real processes: it signals the process the event names only while
 * that pid still is the same process, and the runner dedups, rate-limits and reports Kubernetes
 * actions as unavailable.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { checkSameProcess, killEventProcess, type KillContext } from '../../../src/actions/kill.js';
import { LocalActionRunner, NOT_AVAILABLE_LOCALLY } from '../../../src/actions/local-runner.js';
import type { ActionOutcome } from '../../../src/contracts/actions.js';
import type { RuntimeEvent } from '../../../src/events/types.js';
import type { Verdict } from '../../../src/contracts/verdict.js';
import { readStartTicks } from '../../../src/host/proc.js';

const linux = process.platform === 'linux' ? undefined : 'needs /proc';

/** The sensor's events, for a rule matching kind Node (the test's sleeps are host processes). */
const SENSOR = { source: 'sensor', trustedForKill: true } as const;
const ctx: KillContext = { origin: SENSOR, ruleTargetsNode: true };

function sleeper(): ChildProcess {
  return spawn('sleep', ['30'], { stdio: 'ignore' });
}

/** Start time as the sensor records it: boot ns (any ns inside the right tick matches). */
function bootNs(pid: number): string {
  const ticks = readStartTicks(pid);
  assert.ok(ticks !== undefined);
  return String(ticks * 10_000_000 + 1234);
}

function eventFor(pid: number, startTime: string | undefined): RuntimeEvent {
  return {
    id: `e-${pid}`,
    time: new Date().toISOString(),
    source: 'bpftrace',
    behavior: 'volume-mount',
    process: { pid, startTime, binary: '/usr/bin/sleep' },
  };
}

function verdictFor(
  event: RuntimeEvent,
  actions: Verdict['actions'],
  mode: Verdict['mode'] = 'Enforce',
): Verdict {
  return {
    policy: 'p',
    rule: 'r',
    mode,
    resource: { apiVersion: 'v1', kind: 'Node', name: 'n' },
    behavior: event.behavior,
    message: 'm',
    eventId: event.id,
    time: event.time,
    actions,
    event,
  };
}

test('kill signals the process when pid and start time match', { skip: linux }, async () => {
  const child = sleeper();
  const pid = child.pid!;
  const r = killEventProcess({}, eventFor(pid, bootNs(pid)), ctx);
  assert.equal(r.outcome, 'succeeded', r.detail);
  const [, signal] = (await once(child, 'exit')) as [number | null, string | null];
  assert.equal(signal, 'SIGKILL');
});

test('a recycled pid (different start time) is not signalled', { skip: linux }, async () => {
  const child = sleeper();
  const pid = child.pid!;
  const stale = String((readStartTicks(pid)! - 5) * 10_000_000);
  const r = killEventProcess({}, eventFor(pid, stale), ctx);
  assert.equal(r.outcome, 'refused');
  assert.match(r.detail ?? '', /another process/);
  assert.equal(checkSameProcess(pid, stale).same, false);
  child.kill();
  await once(child, 'exit');
});

test(
  'no start time, pid 1, ourselves, a gone process, a bad signal: never signalled',
  { skip: linux },
  async () => {
    const child = sleeper();
    const pid = child.pid!;
    assert.equal(killEventProcess({}, eventFor(pid, undefined), ctx).outcome, 'refused');
    assert.equal(killEventProcess({}, eventFor(1, '0'), ctx).outcome, 'refused');
    assert.equal(killEventProcess({}, eventFor(process.pid, bootNs(process.pid)), ctx).outcome, 'refused');
    assert.equal(killEventProcess({ signal: 'SIGNOPE' }, eventFor(pid, bootNs(pid)), ctx).outcome, 'failed');
    const start = bootNs(pid);
    child.kill();
    await once(child, 'exit');
    const gone = killEventProcess({}, eventFor(pid, start), ctx);
    assert.equal(gone.outcome, 'skipped');
    assert.match(gone.detail ?? '', /exited/);
  },
);

test('dry-run and a custom signal', { skip: linux }, async () => {
  const child = sleeper();
  const pid = child.pid!;
  const dry = killEventProcess({ dryRun: true }, eventFor(pid, bootNs(pid)), ctx);
  assert.equal(dry.outcome, 'dry-run');
  assert.equal(child.exitCode, null);
  const term = killEventProcess({ signal: 'TERM' }, eventFor(pid, bootNs(pid)), ctx);
  assert.equal(term.outcome, 'succeeded');
  const [, signal] = (await once(child, 'exit')) as [number | null, string | null];
  assert.equal(signal, 'SIGTERM');
});

test(
  'the runner kills once per process, reports k8s actions unavailable, ignores Audit',
  { skip: linux },
  async () => {
    const outcomes: ActionOutcome[] = [];
    const runner = new LocalActionRunner({
      onOutcome: (_v, o) => outcomes.push(o),
      ruleTargetsNode: () => true,
    });
    const a = sleeper();
    const b = sleeper();
    const ea = eventFor(a.pid!, bootNs(a.pid!));
    const eb = eventFor(b.pid!, bootNs(b.pid!));
    runner.write([verdictFor(ea, [{ kill: {} }, { deletePod: {} }])], ea, SENSOR);
    runner.write([verdictFor(ea, [{ kill: {} }])], ea, SENSOR); // same process again: deduplicated
    runner.write([verdictFor(eb, [{ kill: {} }], 'Audit')], eb, SENSOR); // Audit: nothing runs
    assert.deepEqual(
      outcomes.map((o) => [o.action, o.outcome]),
      [
        ['kill', 'succeeded'],
        ['deletePod', 'unavailable'],
        ['kill', 'deduplicated'],
      ],
    );
    assert.equal(outcomes[1]?.detail, NOT_AVAILABLE_LOCALLY);
    await once(a, 'exit');
    assert.equal(b.exitCode, null, 'the Audit verdict killed a process');
    // Another offending process on the same host (same resource: the Node) is killed too.
    runner.write([verdictFor(eb, [{ kill: {} }])], eb, SENSOR);
    assert.equal(outcomes.at(-1)?.outcome, 'succeeded');
    await once(b, 'exit');
  },
);

test('the runner rate-limits a runaway policy', { skip: linux }, () => {
  const outcomes: ActionOutcome[] = [];
  const runner = new LocalActionRunner({
    perPolicy: { rate: 0.001, burst: 2 },
    onOutcome: (_v, o) => outcomes.push(o),
  });
  for (let i = 0; i < 4; i++) {
    // pids that do not exist: the action is "skipped" once allowed, "rate-limited" beyond the burst.
    const e = eventFor(4_000_000 + i, '1');
    runner.write([verdictFor(e, [{ kill: {} }])], e, SENSOR);
  }
  assert.deepEqual(
    outcomes.map((o) => o.outcome),
    ['skipped', 'skipped', 'rate-limited', 'rate-limited'],
  );
});
