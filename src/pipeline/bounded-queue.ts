/**
 * A fixed-capacity FIFO (ring buffer) with two ways in: `offer` (never waits; false when full) and
 * `put` (waits for room). Memory is bounded by `capacity` items plus at most one parked item per
 * waiting producer; a producer that can wait awaits its `put` before reading more input, so the
 * number of parked items is bounded by the number of readers.
 *
 * Hand-written because no maintained npm package offers an async, bounded, back-pressuring queue
 * with O(1) push/shift and synchronous `offer`; it is ~80 lines.
 */
export class BoundedQueue<T> {
  private readonly ring: (T | undefined)[];
  private head = 0;
  private count = 0;
  private readonly producers: { item: T; resolve: () => void }[] = [];
  private consumer: (() => void) | undefined;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(`queue capacity must be a positive integer, got ${String(capacity)}`);
    }
    this.ring = new Array<T | undefined>(capacity);
  }

  get size(): number {
    return this.count;
  }

  /** Producers parked in `put` because the queue was full. */
  get waiting(): number {
    return this.producers.length;
  }

  /** Adds the item if there is room; never waits. */
  offer(item: T): boolean {
    if (this.count >= this.capacity) return false;
    this.ring[(this.head + this.count) % this.capacity] = item;
    this.count++;
    this.wakeConsumer();
    return true;
  }

  /** Adds the item, waiting (FIFO among producers) until there is room. */
  put(item: T): Promise<void> | undefined {
    if (this.producers.length === 0 && this.offer(item)) return undefined;
    return new Promise<void>((resolve) => {
      this.producers.push({ item, resolve });
    });
  }

  /** Removes up to `max` items from the head. */
  take(max: number): T[] {
    const n = Math.min(max, this.count);
    const out: T[] = new Array<T>(n);
    for (let i = 0; i < n; i++) {
      out[i] = this.ring[this.head] as T;
      this.ring[this.head] = undefined;
      this.head = (this.head + 1) % this.capacity;
    }
    this.count -= n;
    // Room freed: admit parked producers in arrival order.
    while (this.producers.length > 0 && this.count < this.capacity) {
      const p = this.producers.shift()!;
      this.ring[(this.head + this.count) % this.capacity] = p.item;
      this.count++;
      p.resolve();
    }
    return out;
  }

  /** Resolves when at least one item is queued (immediately if one already is). */
  whenNotEmpty(): Promise<void> {
    if (this.count > 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      this.consumer = resolve;
    });
  }

  /** Wakes a consumer blocked in `whenNotEmpty` even though nothing arrived (used on stop). */
  interrupt(): void {
    this.wakeConsumer();
  }

  private wakeConsumer(): void {
    const c = this.consumer;
    if (c) {
      this.consumer = undefined;
      c();
    }
  }
}
