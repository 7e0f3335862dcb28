/**
 * Who may talk to our HTTP servers — the local API and the event receivers share this one module, so
 * the bearer scheme, the loopback rule and the Host check cannot drift apart: bearer tokens compared
 * in constant time (several accepted, read from a file so they never show in `ps`), a refusal to
 * listen beyond loopback without authentication, and a Host check so a web page elsewhere cannot
 * reach a loopback server through DNS rebinding.
 */
import { KyvernoRuntimeError } from '../contracts/errors.js';
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync, statSync, unwatchFile, watchFile, type Stats } from 'node:fs';
import { isIP } from 'node:net';

export class ServerConfigError extends KyvernoRuntimeError {
  constructor(message: string) {
    super('E_UNSAFE_LISTEN', message);
  }
}

/** True for addresses only this host can reach. "localhost" counts; 0.0.0.0/:: do not. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h === '::1') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (h.startsWith('::ffff:')) return h.slice(7).startsWith('127.');
  return false;
}

/** 0.0.0.0 / :: — every interface: no single name clients must use. */
export function isWildcardHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '');
  return h === '0.0.0.0' || h === '::' || h === '';
}

/** Throws when the API would listen beyond loopback without a token. */
export function checkListenSafety(host: string, hasToken: boolean, allowUnauthenticated: boolean): void {
  if (isLoopbackHost(host) || hasToken || allowUnauthenticated) return;
  throw new ServerConfigError(
    `refusing to serve the API on ${host} without authentication: give it a bearer token ` +
      '(run --api-token-file <path>, or the KYVERNO_RUNTIME_API_TOKEN environment variable), ' +
      'or keep --listen on a loopback address',
  );
}

/** An event input asked to listen beyond loopback without a token or mTLS. */
export class ListenPolicyError extends KyvernoRuntimeError {
  constructor(host: string) {
    super(
      'E_UNAUTHENTICATED_LISTEN',
      `refusing to listen for events on ${host} without authentication: give a bearer token file ` +
        '(run --source-token-file <path>; cluster --http-token-file <path>), listen on a unix socket ' +
        '(run --source-listen unix:/path), or keep the address on loopback',
    );
  }
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

/**
 * Constant-time comparison of a presented secret with the accepted ones. Both sides are hashed
 * first so the comparison length never depends on the secret (timingSafeEqual needs equal lengths
 * and would otherwise leak the token length), and every token is compared (no early exit) so timing
 * does not reveal which one matched.
 */
export function tokenMatches(presented: string, digests: readonly Buffer[]): boolean {
  const p = digest(presented);
  let ok = false;
  for (const d of digests) ok = timingSafeEqual(p, d) || ok;
  return ok;
}

/** The credentials of `Authorization: Bearer <token>`; the scheme is case-insensitive (RFC 9110). */
export function bearerCredentials(authorization: string | undefined): string | undefined {
  if (authorization === undefined) return undefined;
  const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization);
  return m ? m[1] : undefined;
}

/** A set of accepted bearer tokens, possibly backed by a file that is re-read when it changes. */
export interface TokenSource {
  /** Constant-time check of a raw token (the first line of a TCP stream). */
  matches(presented: string): boolean;
  /** Check of an Authorization header value. */
  authorizationOk(authorization: string | undefined): boolean;
  readonly size: number;
  close(): void;
}

export function staticTokens(tokens: readonly string[]): TokenSource {
  const digests = tokens.filter((t) => t.length > 0).map(digest);
  return {
    size: digests.length,
    matches: (p) => digests.length > 0 && tokenMatches(p, digests),
    authorizationOk(header) {
      const t = bearerCredentials(header);
      return t !== undefined && digests.length > 0 && tokenMatches(t, digests);
    },
    close: () => undefined,
  };
}

export class TokenFileError extends KyvernoRuntimeError {
  constructor(message: string) {
    super('E_TOKEN_FILE', message);
  }
}

/** Largest token file read: a token is a short line; a huge file is a mistake (or /dev/zero). */
const MAX_TOKEN_FILE_BYTES = 64 * 1024;

/** Tokens in a file: one per line; blank lines and lines starting with "#" are ignored. */
export function readTokenFile(path: string): string[] {
  let st: Stats;
  try {
    st = statSync(path);
  } catch (err) {
    throw new TokenFileError(`cannot read token file ${path}: ${(err as Error).message}`);
  }
  if (!st.isFile()) throw new TokenFileError(`token file ${path} is not a regular file`);
  if (st.size > MAX_TOKEN_FILE_BYTES)
    throw new TokenFileError(`token file ${path} is larger than ${MAX_TOKEN_FILE_BYTES} bytes`);
  const tokens = readFileSync(path, 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  if (tokens.length === 0) throw new TokenFileError(`token file ${path} holds no token`);
  for (const t of tokens) {
    if (/\s/.test(t)) throw new TokenFileError(`token file ${path}: a token must not contain blanks`);
  }
  return tokens;
}

export interface TokenFileOptions {
  /** How often the file is checked for changes (stat polling also sees Secret symlink swaps). */
  pollMs?: number;
  onReload?: (count: number) => void;
  onError?: (err: Error) => void;
}

/**
 * Tokens from a file, re-read when it changes so a token can be rotated without a restart. A
 * re-read that fails (file gone, emptied) keeps the previous tokens and reports the error: locking
 * every sender out because of a half-written file would be worse than accepting the old token a
 * little longer.
 */
export function tokenFile(path: string, opts: TokenFileOptions = {}): TokenSource {
  let current = staticTokens(readTokenFile(path));
  const onChange = (cur: Stats, prev: Stats): void => {
    if (cur.mtimeMs === prev.mtimeMs && cur.ino === prev.ino && cur.size === prev.size) return;
    try {
      current = staticTokens(readTokenFile(path));
      opts.onReload?.(current.size);
    } catch (err) {
      opts.onError?.(err as Error);
    }
  };
  watchFile(path, { interval: opts.pollMs ?? 2000, persistent: false }, onChange);
  return {
    get size() {
      return current.size;
    },
    matches: (p) => current.matches(p),
    authorizationOk: (h) => current.authorizationOk(h),
    close: () => unwatchFile(path, onChange),
  };
}

/** Splits a Host header into its host part ("[::1]:80" → "::1"); undefined when malformed. */
export function hostOfHeader(hostHeader: string | undefined): string | undefined {
  if (!hostHeader) return undefined;
  const m = /^(\[[^\]]+\]|[^:[\]]+)(?::\d{1,5})?$/.exec(hostHeader);
  return m ? m[1]!.replace(/^\[|\]$/g, '').toLowerCase() : undefined;
}

/** Host header names a loopback address (any port). */
export function hostHeaderIsLoopback(hostHeader: string | undefined): boolean {
  const h = hostOfHeader(hostHeader);
  return h !== undefined && isLoopbackHost(h);
}

/**
 * The DNS-rebinding guard: a Host header must name a loopback address or the host the server was
 * told to listen on. Returns undefined when no check applies (a wildcard listen address has no one
 * name its clients use; such a listener requires a token instead).
 */
export function hostCheckFor(listenHost: string): ((hostHeader: string | undefined) => boolean) | undefined {
  if (isWildcardHost(listenHost)) return undefined;
  const own = listenHost.replace(/^\[|\]$/g, '').toLowerCase();
  return (hostHeader) => {
    const h = hostOfHeader(hostHeader);
    return h !== undefined && (isLoopbackHost(h) || h === own);
  };
}
