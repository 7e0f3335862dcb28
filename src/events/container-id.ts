/**
 * Container IDs arrive in several spellings: `containerd://<64 hex>` in pod status, bare 64-hex from
 * Tetragon, 12-hex short IDs from Falco and docker, `cri-o://…`, and cgroup paths ending in
 * `cri-containerd-<id>.scope` or `crio-<id>.scope`. One normal form: lower-case hex without prefix.
 * The one normaliser: the pod cache keys and looks up by it, and every adapter writes it into
 * `container.id`, so an event's ID and the pod cache's always agree.
 */
const RUNTIME_PREFIX = /^[a-z-]+:\/\//;
// Anchored: a longer hex run names no container (its last 64 characters would name another one).
const SCOPE = /^(?:cri-containerd-|crio-|docker-|containerd-)?([0-9a-f]{12,64})(?:\.scope)?$/;

export const SHORT_ID_LENGTH = 12;
/** Already the normal form: every event's ID passes here, so the common spellings skip the general parse. */
const NORMAL = /^[0-9a-f]{12,64}$/;

/** The normal form, or undefined when `raw` holds no container ID. */
export function normalizeContainerId(raw: string): string | undefined {
  // Fast path: bare lower-case hex, or `<runtime>://` + bare lower-case hex.
  const at = raw.indexOf('://');
  const tail = at >= 0 ? raw.slice(at + 3) : raw;
  if (NORMAL.test(tail) && (at < 0 || /^[a-z-]+$/.test(raw.slice(0, at)))) return tail;
  const trimmed = raw.trim().toLowerCase().replace(RUNTIME_PREFIX, '');
  const last = trimmed.split('/').pop() ?? '';
  const m = SCOPE.exec(last);
  return m ? m[1] : undefined;
}

/**
 * What an event's `container.id` holds: the normal form when `raw` is a container ID; otherwise the
 * tool's own word without a runtime prefix (Falco says "host" for processes outside containers), kept
 * so a policy can still see it.
 */
export function eventContainerId(raw: string): string {
  // The usual spellings (bare hex, `<runtime>://` + hex, a word such as Falco's "host") are answered
  // by one scan, cheaper than hashing the fresh string for the memo below. When the part after a
  // lower-case runtime prefix is only [0-9a-z], normalizeContainerId gives that part (12–64 hex
  // digits: the normal form) or no ID (any other such word, kept as it is): the answer is that part
  // either way. Hand-written: the regexes of normalizeContainerId cost more than this loop.
  const at = raw.indexOf('://');
  if (isLowerAlphanumeric(raw, at < 0 ? 0 : at + 3) && (at < 0 || isRuntimeName(raw, at)))
    return at < 0 ? raw : raw.slice(at + 3);
  // Other spellings: a node runs few containers, so remember the last answers (bounded).
  const known = seen.get(raw);
  if (known !== undefined) return known;
  const id = normalizeContainerId(raw);
  const value = id ?? (at >= 0 ? raw.slice(at + 3) : raw);
  if (raw.length > SEEN_KEY_MAX) return value;
  if (seen.size >= SEEN_MAX) seen.clear();
  seen.set(raw, value);
  return value;
}

/** /^[0-9a-z]*$/.test(raw.slice(from)) without the slice. */
function isLowerAlphanumeric(raw: string, from: number): boolean {
  for (let i = from; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (!((c >= 48 && c <= 57) || (c >= 97 && c <= 122))) return false;
  }
  return true;
}

/** /^[a-z-]+$/.test(raw.slice(0, end)) without the slice. */
function isRuntimeName(raw: string, end: number): boolean {
  if (end === 0) return false;
  for (let i = 0; i < end; i++) {
    const c = raw.charCodeAt(i);
    if (!((c >= 97 && c <= 122) || c === 45)) return false;
  }
  return true;
}

/**
 * Answers of eventContainerId by raw spelling. Bounded both ways (entries and key length, so at most
 * about 1 MiB), cleared when full: hostile spellings cost a re-parse, never memory.
 */
const seen = new Map<string, string>();
const SEEN_MAX = 4096;
const SEEN_KEY_MAX = 128;
