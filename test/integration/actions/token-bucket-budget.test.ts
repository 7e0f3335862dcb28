import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TokenBucket } from '../../../src/util/token-bucket.js';

/** Most grants inside any window of `windowS` seconds. */
function worstWindow(times: readonly number[], windowS: number): number {
  let worst = 0;
  let j = 0;
  for (let i = 0; i < times.length; i++) {
    while (j < times.length && times[j]! < times[i]! + windowS) j++;
    worst = Math.max(worst, j - i);
  }
  return worst;
}

describe('token bucket (global API budget)', () => {
  it('never grants more than burst + rate × window in any window, and grants every waiter in order', async () => {
    const rate = 200;
    const burst = 20;
    const started = performance.now();
    const times: number[] = [];
    const bucket = new TokenBucket(rate, burst, { onGrant: (at) => times.push((at - started) / 1000) });
    const order: number[] = [];
    const results = await Promise.all(
      Array.from({ length: 300 }, (_, index) =>
        bucket.take(10_000).then((ok) => {
          order.push(index);
          return ok;
        }),
      ),
    );
    assert.ok(results.every(Boolean), 'every waiter got a token');
    assert.deepEqual(
      order,
      Array.from({ length: 300 }, (_, i) => i),
      'FIFO',
    );
    assert.equal(times.length, 300, 'every grant was observed');
    // Grant times come from the bucket itself (the refill clock it granted on), so a stalled event
    // loop can only delay grants, never bunch them beyond what the bucket allows.
    for (const windowS of [0.1, 0.5, 1]) {
      const worst = worstWindow(times, windowS);
      assert.ok(
        worst <= burst + Math.ceil(rate * windowS) + 1,
        `${worst} grants within ${windowS} s (burst ${burst} + ${rate}/s)`,
      );
    }
    assert.ok(times.at(-1)! >= (300 - burst) / rate - 0.05, `all granted by ${times.at(-1)!} s`);
  });

  it('refuses at once when the waiting queue is full, and times out a wait that is too long', async () => {
    const bucket = new TokenBucket(1, 1, { maxWaiters: 2 });
    assert.equal(await bucket.take(), true, 'the burst token');
    const waiting = [bucket.take(50), bucket.take(50)];
    assert.equal(bucket.waiting, 2);
    assert.equal(await bucket.take(50), false, 'queue full');
    assert.deepEqual(await Promise.all(waiting), [false, false], 'waits longer than maxWaitMs fail');
    assert.equal(bucket.waiting, 0);
  });
});
