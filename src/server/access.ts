/**
 * Who may call the local API. Bearer-token auth (constant-time compare), a refusal to listen beyond
 * loopback without a token unless explicitly allowed, and a Host check on unauthenticated loopback
 * servers so a web page elsewhere cannot reach the API through DNS rebinding.
 */
import { timingSafeEqual, createHash } from 'node:crypto';
import { isIP } from 'node:net';

export class ServerConfigError extends Error {
  readonly code = 'SERVER_UNSAFE_LISTEN';
}

export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h === '::1') return true;
  return isIP(h) === 4 && h.startsWith('127.');
}

/** Throws when listening beyond loopback without a token and without `allowUnauthenticated`. */
export function checkListenSafety(
  host: string,
  token: string | undefined,
  allowUnauthenticated: boolean,
): void {
  if (isLoopbackHost(host) || token || allowUnauthenticated) return;
  throw new ServerConfigError(
    `refusing to serve the API on ${host} without authentication: set a bearer token ` +
      '(--api-token / KYVERNO_RUNTIME_API_TOKEN) or allow it explicitly (--api-allow-unauthenticated)',
  );
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

/** Compares hashes so neither length nor content leaks through timing. */
export function bearerMatches(header: string | undefined, token: string): boolean {
  if (!header?.startsWith('Bearer ')) return false;
  return timingSafeEqual(digest(header.slice(7).trim()), digest(token));
}

/** Host header names a loopback address (any port). */
export function hostHeaderIsLoopback(hostHeader: string | undefined): boolean {
  if (!hostHeader) return false;
  const m = /^(\[[^\]]+\]|[^:]+)(?::\d+)?$/.exec(hostHeader);
  return m !== null && isLoopbackHost(m[1]!);
}
