/**
 * Retries of an action whose API request was answered 429 or 5xx: exponential backoff
 * with jitter, honouring a 429's Retry-After, within a bounded number of attempts and a bounded total
 * time. Past the bound the action is `failed`, which gives its dedup entry back (guards.ts), so the
 * next event retries it. Hand-written: the bound must cover Retry-After and the API budget's waits, and
 * the retry libraries vetted for this project retry promises, not Kubernetes Status answers.
 */
import { apiStatus } from '../k8s/errors.js';
import { actionRetries } from '../observability/metrics.js';

export interface RetryOptions {
  /** Attempts in all, the first included (default 4; 1 = no retry). */
  attempts?: number;
  /** Longest time from the first attempt to the start of the last one (default 10 s). */
  maxMs?: number;
  /** First backoff (default 200 ms), doubled per retry. */
  baseMs?: number;
}

export const DEFAULT_RETRY: Required<RetryOptions> = { attempts: 4, maxMs: 10_000, baseMs: 200 };

/** Retry-After in milliseconds (seconds form; an HTTP date is treated as absent), if the error has one. */
export function retryAfterMs(err: unknown): number | undefined {
  if (err === null || typeof err !== 'object' || !('headers' in err)) return undefined;
  const headers = (err as { headers?: unknown }).headers;
  if (headers === null || typeof headers !== 'object') return undefined;
  const raw = (headers as Record<string, unknown>)['retry-after'];
  if (typeof raw !== 'string' || !/^\d{1,6}$/.test(raw.trim())) return undefined;
  return Number(raw.trim()) * 1000;
}

/**
 * An API answer of 429 or 5xx: the server answered that it did not (or could not) do it now. A request
 * that got no answer (connection lost, timeout) is not retried here: it may have been applied, and a
 * POST or a JSON Patch is not safe to send twice; the transport resends idempotent ones once
 * (stale-connection-retry.ts) and the next event retries the rest (the dedup entry is given back).
 * Nor our own refusals (budget exhausted, invalid target), which retrying cannot change.
 */
export function isTransientApiFailure(err: unknown): boolean {
  if (err === null || typeof err !== 'object') return false;
  const { code } = err as { code?: unknown };
  return typeof code === 'number' && (code === 429 || (code >= 500 && code < 600));
}

/** Runs `fn`, again after a transient failure, within the bounds; rethrows the last failure. */
export async function withRetry<T>(
  action: string,
  fn: () => Promise<T>,
  opts: RetryOptions = {},
): Promise<T> {
  const { attempts, maxMs, baseMs } = { ...DEFAULT_RETRY, ...opts };
  const deadline = Date.now() + maxMs;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (attempt >= attempts || !isTransientApiFailure(err)) throw err;
      const backoff = baseMs * 2 ** (attempt - 1) * (0.5 + Math.random() / 2);
      const wait = Math.max(backoff, retryAfterMs(err) ?? 0);
      // A Retry-After beyond the bound: give up now rather than act long after the event.
      if (Date.now() + wait > deadline) throw err;
      actionRetries.inc({ action, code: String(apiStatus(err).code) });
      await new Promise((r) => setTimeout(r, wait));
    }
  }
}
