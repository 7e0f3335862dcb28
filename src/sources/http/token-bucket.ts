/**
 * Token-bucket rate limit (hand-written: ~20 lines, and @fastify/rate-limit is per-client with a
 * store, while we want one cheap global budget that sheds load before the body is even read).
 */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    readonly ratePerSecond: number,
    readonly burst: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.tokens = burst;
    this.last = now();
  }

  /** Takes one token if available. */
  tryTake(): boolean {
    const t = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((t - this.last) / 1000) * this.ratePerSecond);
    this.last = t;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** Seconds until the next token, for Retry-After. */
  secondsUntilToken(): number {
    return Math.max(0, Math.ceil((1 - this.tokens) / this.ratePerSecond));
  }
}
