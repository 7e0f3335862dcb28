/**
 * bpftrace's stdout reaches the agent through a unix socket read into one reused buffer. A stand-in
 * bpftrace (a shell script) writes real output lines, one split across two writes: every event still
 * arrives whole, and no socket path is left in the temp directory.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RuntimeEvent } from '../../../src/events/types.js';
import { BpftraceSensor } from '../../../src/sources/sensor/sensor.js';

const CONNECT =
  '{"type": "value", "data": [10,4242,4242,1,0,5000000000,1,4000000000,1,"curl",3,2,20480,"127.0.0.1",6]}';

test('bpftrace output read through the socket arrives whole, even split across writes, and leaves no path behind', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kr-test-fakebt-'));
  const script = join(dir, 'bpftrace');
  const half = Math.floor(CONNECT.length / 2);
  writeFileSync(
    script,
    [
      '#!/bin/sh',
      `printf '%s\\n' '{"type": "printf", "data": "R\\n"}'`,
      'sleep 0.2',
      `printf '%s' '${CONNECT.slice(0, half)}'`,
      'sleep 0.2',
      `printf '%s\\n' '${CONNECT.slice(half)}'`,
      `printf '%s\\n' '${CONNECT.replace('5000000000', '5000000001')}'`,
      'exec sleep 30',
    ].join('\n'),
  );
  chmodSync(script, 0o755);
  const before = readdirSync(tmpdir()).filter((n) => n.startsWith('kr-sensor-'));
  const events: RuntimeEvent[] = [];
  const sensor = new BpftraceSensor({
    bpftrace: script,
    tracepointExists: () => true,
    hints: { behaviors: new Set(['network-connect']), filePathPrefixes: [] },
    node: 'test',
  });
  try {
    await sensor.start((e) => void events.push(e));
    assert.deepEqual(
      readdirSync(tmpdir()).filter((n) => n.startsWith('kr-sensor-')),
      before,
      'the socket directory is removed once connected',
    );
    for (let waited = 0; events.length < 2 && waited < 5000; waited += 50)
      await new Promise((r) => setTimeout(r, 50));
    assert.equal(events.length, 2);
    for (const e of events) {
      assert.equal(e.behavior, 'network-connect');
      assert.equal(e.network?.daddr, '127.0.0.1');
      assert.equal(e.network?.dport, 80);
    }
    assert.equal(sensor.stats().dropped['sensor-malformed'] ?? 0, 0);
  } finally {
    await sensor.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
