/**
 * The safety limits around response actions:
 * - TokenBucket: a per-policy rate limit (over it, actions are refused: a runaway policy must not
 *   eventually act on everything) and the global API budget (over it, actions wait their turn, up to
 *   a bounded queue, so a burst of violations is handled at a rate the API server tolerates);
 * - DedupWindow: one run per (policy, rule, resource, behavior) within a window, whatever the number
 *   of identical events (lru-cache with TTL, bounded);
 * - protected namespaces: never acted upon unless the policy explicitly allows it.
 */
import { LRUCache } from 'lru-cache';

export class TokenBucket {
  private tokens: number;
  private last = performance.now();
  private readonly waiters: { resolve: (ok: boolean) => void; timer: NodeJS.Timeout | undefined }[] = [];
  private drainTimer: NodeJS.Timeout | undefined;

  constructor(
    /** Tokens per second. */
    readonly rate: number,
    /** Bucket size: the largest burst allowed. */
    readonly burst: number,
    /** Most callers waiting in take(); beyond it take() resolves false at once. */
    readonly maxWaiters = 100_000,
    /** Called with performance.now() at each grant, where it happens (for metrics and tests). */
    private readonly onGrant?: (at: number) => void,
  ) {
    this.tokens = burst;
  }

  private refill(): void {
    const now = performance.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.rate);
    this.last = now;
  }

  /** Takes a token if one is available now. */
  tryTake(): boolean {
    this.refill();
    if (this.waiters.length === 0 && this.tokens >= 1) {
      this.tokens -= 1;
      this.onGrant?.(this.last);
      return true;
    }
    return false;
  }

  /** Waits (FIFO) for a token; resolves false when the queue is full or the wait exceeds maxWaitMs. */
  take(maxWaitMs = 60_000): Promise<boolean> {
    if (this.tryTake()) return Promise.resolve(true);
    if (this.waiters.length >= this.maxWaiters) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      const w: { resolve: (ok: boolean) => void; timer: NodeJS.Timeout | undefined } = {
        resolve,
        timer: undefined,
      };
      w.timer = setTimeout(() => {
        const i = this.waiters.indexOf(w);
        if (i >= 0) this.waiters.splice(i, 1);
        resolve(false);
      }, maxWaitMs);
      w.timer.unref();
      this.waiters.push(w);
      this.scheduleDrain();
    });
  }

  get waiting(): number {
    return this.waiters.length;
  }

  private scheduleDrain(): void {
    if (this.drainTimer !== undefined) return;
    this.refill();
    const wait = this.tokens >= 1 ? 0 : Math.ceil(((1 - this.tokens) / this.rate) * 1000);
    this.drainTimer = setTimeout(() => {
      this.drainTimer = undefined;
      this.refill();
      while (this.waiters.length > 0 && this.tokens >= 1) {
        this.tokens -= 1;
        this.onGrant?.(this.last);
        const w = this.waiters.shift()!;
        clearTimeout(w.timer);
        w.resolve(true);
      }
      if (this.waiters.length > 0) this.scheduleDrain();
    }, wait);
  }
}

export class DedupWindow {
  private readonly seen: LRUCache<string, true>;

  constructor(windowMs: number, max = 100_000) {
    this.seen = new LRUCache({ max, ttl: windowMs, ttlAutopurge: false });
  }

  /** True the first time a key is seen within the window (and marks it); false for repeats. */
  firstInWindow(key: string): boolean {
    if (this.seen.has(key)) return false;
    this.seen.set(key, true);
    return true;
  }

  forget(key: string): void {
    this.seen.delete(key);
  }
}

/** Policy annotation that lets a policy's actions touch protected namespaces. */
export const ALLOW_PROTECTED_ANNOTATION = 'runtime.kyverno.io/allow-protected-namespaces';
export const DEFAULT_PROTECTED_NAMESPACES: readonly string[] = ['kube-system'];
