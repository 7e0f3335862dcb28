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
  // Kept small so V8 inlines it into the adapters: the usual spellings end here. The rest of the
  // work sits in otherContainerId, whose size would otherwise keep this call out of line.
  const start = usualIdStart(raw);
  if (start === 0) return raw;
  return start > 0 ? raw.slice(start) : otherContainerId(raw);
}

/**
 * Where the ID starts in the usual spellings, in one scan: 0 for a bare [0-9a-z]+ word (bare hex, or
 * a word such as Falco's "host"), the index after `://` for a lower-case runtime prefix ([a-z-]+)
 * followed by [0-9a-z]*; -1 for anything else. For those spellings normalizeContainerId gives the
 * part after the prefix (12–64 hex digits: the normal form) or no ID (any other such word, kept as
 * it is): the answer is that part either way. Hand-written: a scan is cheaper than hashing the fresh
 * string for the memo, and than the regexes of normalizeContainerId.
 */
function usualIdStart(raw: string): number {
  const length = raw.length;
  let digit = false;
  let dash = false;
  let i = 0;
  for (; i < length; i++) {
    const c = raw.charCodeAt(i);
    if (c >= 97 && c <= 122) continue; // a-z
    if (c >= 48 && c <= 57) digit = true;
    else if (c === 45)
      dash = true; // -
    else break;
  }
  if (i === length) return dash ? -1 : 0;
  // Stopped at the first other character: it must open `://` after a prefix of [a-z-] only.
  if (
    i === 0 ||
    digit ||
    raw.charCodeAt(i) !== 58 ||
    raw.charCodeAt(i + 1) !== 47 ||
    raw.charCodeAt(i + 2) !== 47
  )
    return -1;
  for (let j = i + 3; j < length; j++) {
    const c = raw.charCodeAt(j);
    if (!((c >= 48 && c <= 57) || (c >= 97 && c <= 122))) return -1;
  }
  return i + 3;
}

/** eventContainerId for the other spellings: a node runs few containers, so remember the last answers (bounded). */
function otherContainerId(raw: string): string {
  const known = seen.get(raw);
  if (known !== undefined) return known;
  const at = raw.indexOf('://');
  const id = normalizeContainerId(raw);
  const value = id ?? (at >= 0 ? raw.slice(at + 3) : raw);
  if (raw.length > SEEN_KEY_MAX) return value;
  if (seen.size >= SEEN_MAX) seen.clear();
  seen.set(raw, value);
  return value;
}

/**
 * Answers of eventContainerId by raw spelling. Bounded both ways (entries and key length, so at most
 * about 1 MiB), cleared when full: hostile spellings cost a re-parse, never memory.
 */
const seen = new Map<string, string>();
const SEEN_MAX = 4096;
const SEEN_KEY_MAX = 128;
