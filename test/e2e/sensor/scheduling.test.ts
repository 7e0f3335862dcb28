/**
 * The sensor's `scheduling` option: `batch` runs bpftrace under SCHED_BATCH (through chrt, which
 * execs it in place, so the sensor's pid is still bpftrace's and it still reports events); the
 * default leaves the host's default policy. Real bpftrace, policy read from /proc.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { BpftraceSensor } from '../../../src/sources/sensor/index.js';
import { ensureSensorPrerequisites, findExecutable } from '../../../src/sources/sensor/prerequisites.js';
import {
  ATTACH_DEADLINE_MS,
  EventCollector,
  execFileP,
  sensorSkipReason,
  whileCompilingBpftrace,
} from './helpers.js';

const SCHED_OTHER = 0;
const SCHED_BATCH = 3;

/** The scheduling policy of a process (field 41 of /proc/<pid>/stat) and its command name. */
function policyOf(pid: number): { policy: number; comm: string } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { policy: Number(fields[38]), comm: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')) };
}

for (const [scheduling, expected] of [
  [undefined, SCHED_OTHER],
  ['batch', SCHED_BATCH],
] as const) {
  test(
    `scheduling ${scheduling ?? 'by default'}: bpftrace runs under policy ${expected} and reports events`,
    {
      skip: sensorSkipReason() ?? (findExecutable('chrt') ? undefined : 'chrt (util-linux) is not installed'),
    },
    async () => {
      const host = await ensureSensorPrerequisites({ install: false });
      const collector = new EventCollector();
      const sensor = new BpftraceSensor({
        bpftrace: host.bpftrace,
        tracepointExists: host.tracepointExists,
        hints: { behaviors: new Set(['process-exec']), filePathPrefixes: [] },
        attachTimeoutMs: ATTACH_DEADLINE_MS,
        ...(scheduling === undefined ? {} : { scheduling }),
      });
      await whileCompilingBpftrace(() => sensor.start(collector.emit));
      try {
        assert.deepEqual(policyOf(sensor.pid!), { policy: expected, comm: 'bpftrace' });
        const { stdout } = await execFileP('/bin/sh', ['-c', 'echo $$; exec /bin/true']);
        const pid = Number(stdout.trim());
        await collector.waitFor((e) => e.behavior === 'process-exec' && e.process?.pid === pid);
      } finally {
        await sensor.stop();
      }
    },
  );
}
