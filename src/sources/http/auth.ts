/** Bearer-token check and the "never open by accident" listen rule. */
import { createHash, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';

/**
 * Constant-time comparison of a presented bearer token with the configured ones. Both sides are
 * hashed first so the comparison length never depends on the secret (timingSafeEqual needs equal
 * lengths and would otherwise leak the token length).
 */
export function makeBearerCheck(tokens: readonly string[]): (authorization: string | undefined) => boolean {
  const digests = tokens.map((t) => createHash('sha256').update(t).digest());
  return (authorization) => {
    if (authorization === undefined) return false;
    const m = /^Bearer[ \t]+(\S+)\s*$/i.exec(authorization);
    if (!m) return false;
    const presented = createHash('sha256').update(m[1]!).digest();
    let ok = false;
    // Check every token (no early exit) so timing does not reveal which one matched.
    for (const d of digests) ok = timingSafeEqual(presented, d) || ok;
    return ok;
  };
}

/** True for addresses only this host can reach. "localhost" counts; 0.0.0.0/:: do not. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h === '::1') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (h.startsWith('::ffff:')) return h.slice(7).startsWith('127.');
  return false;
}

export class ListenPolicyError extends Error {
  readonly code = 'E_UNAUTHENTICATED_LISTEN';
  constructor(host: string) {
    super(
      `refusing to listen on ${host} without authentication: configure a bearer token or mTLS ` +
        `(docs/sources.md "Authentication and exposure"), or explicitly allow unauthenticated access ` +
        `(allowUnauthenticated / --allow-unauthenticated) if anyone who can reach this address may inject events`,
    );
    this.name = 'ListenPolicyError';
  }
}
