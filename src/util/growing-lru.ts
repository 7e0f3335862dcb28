/**
 * An lru-cache bounded to `max` entries whose storage grows with use. lru-cache's own `max` allocates
 * its key, value, link and TTL arrays for `max` entries up front, so a large bound that is rarely
 * reached (a dedup window sized for a storm) costs its full size from the first second. Counting
 * every entry as size 1 against `maxSize` gives the same bound and the same eviction order, with
 * arrays that only grow as entries arrive.
 */
import { LRUCache } from 'lru-cache';

/** What lru-cache accepts as a key or value: anything but null and undefined. */
type Defined = string | number | bigint | boolean | symbol | object;

export type GrowingLruOptions<K extends Defined, V extends Defined> = Omit<
  LRUCache.Options<K, V, unknown>,
  'max' | 'maxSize' | 'maxEntrySize' | 'sizeCalculation'
>;

export function growingLru<K extends Defined, V extends Defined>(
  max: number,
  opts: GrowingLruOptions<K, V> = {},
): LRUCache<K, V> {
  if (!Number.isInteger(max) || max < 1) throw new RangeError(`LRU bound must be a positive integer: ${max}`);
  return new LRUCache<K, V>({ ...opts, maxSize: max, sizeCalculation: () => 1 });
}
