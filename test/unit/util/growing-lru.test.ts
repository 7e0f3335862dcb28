/** growingLru: lru-cache's bound and eviction order, without allocating for the bound up front. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getHeapStatistics } from 'node:v8';
import { LRUCache } from 'lru-cache';
import { growingLru } from '../../../src/util/growing-lru.js';

test('a ten-million-entry bound costs nothing until entries arrive', () => {
  const used = (): number => getHeapStatistics().used_heap_size;
  const before = used();
  const caches = Array.from({ length: 4 }, () => growingLru<string, true>(10_000_000, { ttl: 60_000 }));
  caches.forEach((c, i) => c.set(`k${i}`, true));
  const grew = used() - before;
  assert.ok(grew < 8 * 2 ** 20, `four empty caches took ${(grew / 2 ** 20).toFixed(1)} MiB`);
  // lru-cache's own `max` would have allocated its arrays for the full bound (what this avoids).
  const fixedBefore = used();
  const fixed = new LRUCache<string, true>({ max: 1_000_000 });
  fixed.set('k', true);
  assert.ok(used() - fixedBefore > 8 * 2 ** 20, 'lru-cache max no longer preallocates: growingLru is moot');
});

test('the bound holds and the least recently used entry goes first', () => {
  const c = growingLru<string, number>(3);
  c.set('a', 1);
  c.set('b', 2);
  c.set('c', 3);
  c.get('a');
  c.set('d', 4);
  assert.equal(c.size, 3);
  assert.deepEqual([...c.keys()].sort(), ['a', 'c', 'd']);
  for (let i = 0; i < 1000; i++) c.set(`x${i}`, i);
  assert.equal(c.size, 3);
});

test('entries expire after their ttl', async () => {
  const c = growingLru<string, true>(10, { ttl: 30, ttlAutopurge: false });
  c.set('k', true);
  assert.equal(c.has('k'), true);
  await new Promise((r) => setTimeout(r, 60));
  assert.equal(c.has('k'), false);
});

test('a bound that is not a positive integer is refused', () => {
  for (const bad of [0, -1, 1.5, Number.NaN]) assert.throws(() => growingLru(bad), RangeError);
});
