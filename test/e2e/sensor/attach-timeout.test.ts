/**
 * When bpftrace does not report its probes attached in time, the sensor kills it and start() fails
 * with SensorAttachTimeoutError (which `run` turns into a hint about --sensor-attach-timeout). Real
 * bpftrace: compiling takes seconds, so a 1 ms timeout always expires first.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { BpftraceSensor, SensorAttachTimeoutError } from '../../../src/sources/sensor/index.js';
import { ensureSensorPrerequisites } from '../../../src/sources/sensor/prerequisites.js';
import { childrenOf, sensorSkipReason } from './helpers.js';

test(
  'an attach that takes longer than the timeout fails start and leaves no bpftrace behind',
  {
    skip: sensorSkipReason(),
  },
  async () => {
    const host = await ensureSensorPrerequisites({ install: false });
    const sensor = new BpftraceSensor({
      bpftrace: host.bpftrace,
      tracepointExists: host.tracepointExists,
      hints: { behaviors: new Set(['process-exec']), filePathPrefixes: [] },
      attachTimeoutMs: 1,
    });
    await assert.rejects(
      sensor.start(() => undefined),
      (err: unknown) =>
        err instanceof SensorAttachTimeoutError &&
        err.timeoutMs === 1 &&
        err.message === 'bpftrace did not attach its probes within 1 ms',
    );
    // SIGKILL was sent; give the kernel a moment to reap it.
    for (let i = 0; i < 50 && childrenOf(process.pid).some((c) => c.comm === 'bpftrace'); i++)
      await sleep(100);
    assert.deepEqual(
      childrenOf(process.pid).filter((c) => c.comm === 'bpftrace'),
      [],
    );
    await sensor.stop();
  },
);
