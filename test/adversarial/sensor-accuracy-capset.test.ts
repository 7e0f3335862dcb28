/**
 * capset(2) through the built-in sensor, with real processes: a refused capset (nobody raising a
 * capability it does not hold) must not read as a privilege change, and a successful one reports the
 * sets the kernel put in force (the task's credentials after the call), not the caller's request.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { BpftraceSensor } from '../../src/sources/sensor/sensor.js';
import type { RuntimeEvent } from '../../src/events/types.js';
import {
  EVENT_DEADLINE_MS,
  EventCollector,
  execFileP,
  sensorSkipReason,
  startTestSensor,
} from '../e2e/sensor/helpers.js';

const CAPSET: Partial<Record<string, number>> = { x64: 126, arm64: 91 };
const nr = CAPSET[process.arch];
const skip = sensorSkipReason() ?? (nr === undefined ? `no capset number for ${process.arch}` : undefined);

const CAP_CHOWN = 1 << 0;
const CAP_KILL = 1 << 5;

/**
 * A perl one-liner that calls capset(2) once per (effective, permitted) pair in argv, with the
 * _LINUX_CAPABILITY_VERSION_3 header (two data words), and prints its pid then each call's
 * result (`ok` or the errno name).
 */
const PERL_CAPSET = `
use POSIX ();
print "$$\\n";
my @a = @ARGV;
while (@a) {
  my ($e, $p) = (shift @a, shift @a);
  my $h = pack("LL", 0x20080522, 0);
  my $d = pack("L6", $e, $p, 0, 0, 0, 0);
  my $r = syscall(${nr ?? -1}, $h, $d);
  print $r == 0 ? "ok\\n" : ($! == POSIX::EPERM ? "EPERM\\n" : "err $!\\n");
}`;

async function capset(
  pairs: [number, number][],
  asNobody: boolean,
): Promise<{ pid: number; results: string[] }> {
  const perl = ['perl', '-e', PERL_CAPSET, ...pairs.flat().map(String)];
  const [cmd, ...args] = asNobody
    ? ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--', ...perl]
    : perl;
  const { stdout } = await execFileP(cmd!, args);
  const [pid, ...results] = stdout.trim().split('\n');
  return { pid: Number(pid), results };
}

interface CapsetRaw {
  syscall?: string;
  ret?: number;
  effective?: string[][];
  permitted?: string[][];
  gained?: string[];
}
const raw = (e: RuntimeEvent): CapsetRaw => e.raw as CapsetRaw;

describe('capset is reported at exit, with its result and the sets in force after it', { skip }, () => {
  const collector = new EventCollector();
  let sensor: BpftraceSensor;

  before(async () => {
    sensor = await startTestSensor(['privilege-escalation'], [], collector);
  });

  after(async () => {
    await sensor.stop();
  });

  // By pid and program: setpriv, which execs perl in the same process, calls capset itself.
  const capsetOf = (pid: number) => (e: RuntimeEvent) =>
    e.behavior === 'privilege-escalation' &&
    e.process?.pid === pid &&
    /\/perl[\d.]*$/.test(e.process.binary ?? '') &&
    raw(e).syscall === 'capset';

  test('nobody raising CAP_CHOWN is refused (EPERM) and reported as a failed attempt, no set changed', async () => {
    const { pid, results } = await capset([[CAP_CHOWN, CAP_CHOWN]], true);
    assert.deepEqual(results, ['EPERM'], 'the kernel refused the call');
    const e = await collector.waitFor(capsetOf(pid), EVENT_DEADLINE_MS, 'failed capset');
    assert.equal(e.privilege?.result, 'failed');
    assert.equal(e.privilege?.fromUid, 65534);
    assert.equal(e.privilege?.capability, 'CAP_CHOWN', 'the set asked for');
    assert.equal(raw(e).ret, -1);
    assert.deepEqual(raw(e).effective, [[], []], 'effective set unchanged by the refused call');
    assert.deepEqual(raw(e).permitted, [[], []]);
    assert.deepEqual(raw(e).gained, []);
  });

  test('root dropping to CHOWN+KILL, then raising them into the effective set, reports the new sets', async () => {
    const both = CAP_CHOWN | CAP_KILL;
    const { pid, results } = await capset(
      [
        [0, both],
        [both, both],
      ],
      false,
    );
    assert.deepEqual(results, ['ok', 'ok']);
    const raise = await collector.waitFor(
      (e) => capsetOf(pid)(e) && (raw(e).gained?.length ?? 0) > 0,
      EVENT_DEADLINE_MS,
      'raising capset',
    );
    assert.equal(raise.privilege?.result, 'succeeded');
    assert.equal(raise.privilege?.fromUid, 0);
    assert.equal(raise.privilege?.capability, 'CAP_CHOWN,CAP_KILL');
    assert.deepEqual(raw(raise).effective, [[], ['CAP_CHOWN', 'CAP_KILL']]);
    assert.deepEqual(raw(raise).permitted, [
      ['CAP_CHOWN', 'CAP_KILL'],
      ['CAP_CHOWN', 'CAP_KILL'],
    ]);
    assert.deepEqual(raw(raise).gained, ['CAP_CHOWN', 'CAP_KILL']);
    const drop = await collector.waitFor(
      (e) => capsetOf(pid)(e) && raw(e).effective?.[1]?.length === 0,
      EVENT_DEADLINE_MS,
      'dropping capset',
    );
    assert.equal(drop.privilege?.result, 'succeeded');
    assert.equal(drop.privilege?.capability, undefined, 'nothing effective after the drop');
    assert.deepEqual(raw(drop).permitted?.[1], ['CAP_CHOWN', 'CAP_KILL']);
    assert.ok((raw(drop).effective?.[0]?.length ?? 0) > 2, 'the full set before the drop');
  });

  test('a successful capset that changes nothing is not reported', async () => {
    const both = CAP_CHOWN | CAP_KILL;
    const { pid, results } = await capset(
      [
        [both, both],
        [both, both],
        [CAP_CHOWN, both],
      ],
      false,
    );
    assert.deepEqual(results, ['ok', 'ok', 'ok']);
    const effectiveAfter = (sets: string) => (e: RuntimeEvent) =>
      capsetOf(pid)(e) && raw(e).effective?.[1]?.join() === sets;
    await collector.waitFor(effectiveAfter('CAP_CHOWN,CAP_KILL'), EVENT_DEADLINE_MS, 'the narrowing');
    await collector.waitFor(effectiveAfter('CAP_CHOWN'), EVENT_DEADLINE_MS, 'the final drop');
    const mine = collector.events.filter(capsetOf(pid));
    assert.equal(mine.length, 2, 'the narrowing and the final drop; the repeat between them changed nothing');
  });
});
