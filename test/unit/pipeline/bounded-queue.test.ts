import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BoundedQueue } from '../../../src/pipeline/index.js';

describe('BoundedQueue', () => {
  it('rejects offers beyond capacity and keeps FIFO order', () => {
    const q = new BoundedQueue<number>(3);
    assert.equal(q.offer(1), true);
    assert.equal(q.offer(2), true);
    assert.equal(q.offer(3), true);
    assert.equal(q.offer(4), false);
    assert.deepEqual(q.take(2), [1, 2]);
    assert.equal(q.offer(5), true);
    assert.deepEqual(q.take(10), [3, 5]);
    assert.equal(q.size, 0);
  });

  it('parks producers when full and admits them in arrival order as room frees', async () => {
    const q = new BoundedQueue<string>(1);
    assert.equal(q.put('a'), undefined);
    const order: string[] = [];
    const pb = q.put('b')!.then(() => order.push('b'));
    const pc = q.put('c')!.then(() => order.push('c'));
    assert.equal(q.waiting, 2);
    assert.deepEqual(q.take(1), ['a']);
    await pb;
    assert.deepEqual(order, ['b']);
    assert.deepEqual(q.take(1), ['b']);
    await pc;
    assert.deepEqual(q.take(1), ['c']);
    assert.deepEqual(order, ['b', 'c']);
  });

  it('does not let a non-waiting offer overtake parked producers', () => {
    const q = new BoundedQueue<string>(1);
    q.offer('a');
    void q.put('b');
    q.take(1); // admits b
    assert.equal(q.offer('c'), false, 'b took the freed slot');
    assert.deepEqual(q.take(1), ['b']);
  });

  it('wakes a waiting consumer on the first item', async () => {
    const q = new BoundedQueue<number>(2);
    const woke = q.whenNotEmpty();
    setTimeout(() => q.offer(7), 5);
    await woke;
    assert.deepEqual(q.take(5), [7]);
  });

  it('refuses a nonsensical capacity', () => {
    assert.throws(() => new BoundedQueue(0), RangeError);
    assert.throws(() => new BoundedQueue(1.5), RangeError);
  });
});
