/**
 * The sensor formats each event's time from the kernel's nanoseconds. The date-and-seconds part is
 * formatted once per second and reused: it must read exactly as a fresh formatting would, within a
 * second, across second, minute and day boundaries, and when time goes back (a clock step).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rfc3339Nano } from '../../../src/events/adapters/bpftrace.js';

/** Formatting from scratch for each value, as a reference. */
function reference(wallNs: bigint): string {
  const iso = new Date(Number(wallNs / 1_000_000n)).toISOString();
  return `${iso.slice(0, 19)}.${(wallNs % 1_000_000_000n).toString().padStart(9, '0')}Z`;
}

test('event times keep nanoseconds and read the same as a fresh formatting across second boundaries', () => {
  const base = BigInt(Date.UTC(2025, 11, 6)) * 1_000_000n - 2n; // two ns before midnight UTC, 2025-12-05 → 06
  const steps = [0n, 1n, 2n, 3n, 1_000_000_000n, 59_000_000_000n, 86_400_000_000_000n, 5n];
  for (const step of steps) {
    const t = base + step;
    assert.equal(rfc3339Nano(t), reference(t), `at +${step} ns`);
  }
  assert.equal(rfc3339Nano(base + 2n), '2025-12-06T00:00:00.000000000Z');
  assert.equal(rfc3339Nano(base + 1n), '2025-12-05T23:59:59.999999999Z');
});

test('an event time earlier than the previous one (the wall clock stepped back) gets its own second', () => {
  const later = 1_764_950_400_123_456_789n;
  const earlier = later - 3_600_000_000_000n;
  assert.equal(rfc3339Nano(later), '2025-12-05T16:00:00.123456789Z');
  assert.equal(rfc3339Nano(earlier), reference(earlier));
  assert.equal(rfc3339Nano(later), reference(later));
});
