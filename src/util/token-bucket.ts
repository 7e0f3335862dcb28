/**
 * Token-bucket rate limit, shared by the event inputs (shed load before a body is read), the per-policy
 * action limit (over it, actions are refused: a runaway policy must not eventually act on everything)
 * and the global API budget (over it, callers wait their turn in a bounded FIFO queue).
 * Hand-written: the libraries at hand are per-client with a store, while these are single in-process
 * buckets that also need a bounded, timed FIFO wait.
 */

export interface TokenBucketOptions {
  /** Most callers waiting in take(); beyond it take() resolves false at once. Default 100,000. */
  maxWaiters?: number;
  /** Called with the clock's time at each grant, where it happens (for metrics and tests). */
  onGrant?: (at: number) => void;
  /** Clock in milliseconds (tests). Default performance.now(). */
  now?: () => number;
}

interface Waiter {
  resolve: (ok: boolean) => void;
  timer: NodeJS.Timeout | undefined;
}

export class TokenBucket {
  private tokens: number;
  private last: number;
  private readonly waiters: Waiter[] = [];
  private drainTimer: NodeJS.Timeout | undefined;
  private readonly maxWaiters: number;
  private readonly onGrant: ((at: number) => void) | undefined;
  private readonly now: () => number;

  constructor(
    /** Tokens per second. */
    readonly rate: number,
    /** Bucket size: the largest burst allowed. */
    readonly burst: number,
    options: TokenBucketOptions = {},
  ) {
    this.maxWaiters = options.maxWaiters ?? 100_000;
    this.onGrant = options.onGrant;
    this.now = options.now ?? ((): number => performance.now());
    this.tokens = burst;
    this.last = this.now();
  }

  private refill(): void {
    const now = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.rate);
    this.last = now;
  }

  /** Takes a token if one is available now (never ahead of callers already waiting). */
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
      const w: Waiter = { resolve, timer: undefined };
      w.timer = setTimeout(() => {
        const i = this.waiters.indexOf(w);
        if (i >= 0) this.waiters.splice(i, 1);
        // Nobody left to grant to: no timer keeps running (or keeps the process alive) for nothing.
        if (this.waiters.length === 0 && this.drainTimer !== undefined) {
          clearTimeout(this.drainTimer);
          this.drainTimer = undefined;
        }
        resolve(false);
      }, maxWaitMs);
      w.timer.unref();
      this.waiters.push(w);
      this.scheduleDrain();
    });
  }

  /** Callers waiting in take(). */
  get waiting(): number {
    return this.waiters.length;
  }

  /** Whole seconds until the next token, for Retry-After. */
  secondsUntilToken(): number {
    this.refill();
    return Math.max(0, Math.ceil((1 - this.tokens) / this.rate));
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
