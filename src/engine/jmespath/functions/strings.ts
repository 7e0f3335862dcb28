/** Kyverno's string, regex, encoding and hashing functions (pkg/engine/jmespath/functions.go). */
import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import { posix } from 'node:path';
import { wildcardMatch } from '../../wildcard.js';
import { JmesPathFunctionError } from '../errors.js';
import { argNumber, argString, argStringOrNumber } from './args.js';
import { goRegexp } from './go-regexp.js';
import { kyvernoFunction as fn, type KyvernoFunction } from './types.js';

/** Go `strings.Trim`-family cutset helpers (cutset = set of characters). */
function trimCutset(s: string, cutset: string, left: boolean, right: boolean): string {
  const chars = new Set(cutset);
  const arr = Array.from(s);
  let start = 0;
  let end = arr.length;
  if (left) while (start < end && chars.has(arr[start]!)) start++;
  if (right) while (end > start && chars.has(arr[end - 1]!)) end--;
  return arr.slice(start, end).join('');
}

/** Go `strings.Replace(s, old, new, n)`: n < 0 replaces all; an empty `old` inserts between runes. */
function goReplace(s: string, oldS: string, newS: string, n: number): string {
  if (n === 0 || oldS === newS) return s;
  if (oldS === '') {
    const runes = Array.from(s);
    const out: string[] = [];
    let done = 0;
    for (let i = 0; i <= runes.length; i++) {
      if (n < 0 || done < n) {
        out.push(newS);
        done++;
      }
      if (i < runes.length) out.push(runes[i]!);
    }
    return out.join('');
  }
  if (n < 0) return s.split(oldS).join(newS);
  let out = '';
  let rest = s;
  for (let i = 0; i < n; i++) {
    const idx = rest.indexOf(oldS);
    if (idx < 0) break;
    out += rest.slice(0, idx) + newS;
    rest = rest.slice(idx + oldS.length);
  }
  return out + rest;
}

function hash(algorithm: string) {
  return (args: readonly unknown[]) =>
    createHash(algorithm)
      .update(argString(algorithm, args, 0))
      .digest('hex');
}

function isPrivateOrLocal(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  const kind = isIP(h);
  if (kind === 4) {
    const [a = 0, b = 0] = h.split('.').map(Number);
    return (
      a === 10 ||
      a === 127 ||
      a === 0 ||
      (a === 172 && b >= 16 && b <= 31) ||
      (a === 192 && b === 168) ||
      (a === 169 && b === 254)
    );
  }
  if (kind === 6)
    return h === '::1' || h === '::' || h.startsWith('fc') || h.startsWith('fd') || h.startsWith('fe80');
  return false;
}

/** Docker reference normalisation (`docker.io/library/` and `:latest` defaults), as image_normalize does. */
export function normalizeImage(ref: string): string {
  let name = ref;
  let digest = '';
  const at = name.indexOf('@');
  if (at >= 0) {
    digest = name.slice(at);
    name = name.slice(0, at);
  }
  const slash = name.indexOf('/');
  const first = slash < 0 ? '' : name.slice(0, slash);
  const hasRegistry = slash >= 0 && (first.includes('.') || first.includes(':') || first === 'localhost');
  if (!hasRegistry) name = `docker.io/${slash < 0 ? `library/${name}` : name}`;
  const lastSlash = name.lastIndexOf('/');
  const hasTag = name.indexOf(':', lastSlash) >= 0;
  if (!hasTag && digest === '') name += ':latest';
  return name + digest;
}

export const stringFunctions: readonly KyvernoFunction[] = [
  fn('compare', 2, 2, 'compare(a, b): -1, 0 or 1 (Go strings.Compare)', (a) => {
    const x = argString('compare', a, 0);
    const y = argString('compare', a, 1);
    return x === y ? 0 : x < y ? -1 : 1;
  }),
  fn('equal_fold', 2, 2, 'equal_fold(a, b): case-insensitive equality', (a) => {
    return argString('equal_fold', a, 0).toLowerCase() === argString('equal_fold', a, 1).toLowerCase();
  }),
  fn('replace', 4, 4, 'replace(s, old, new, n): replace the first n (n < 0: all) occurrences', (a) =>
    goReplace(
      argString('replace', a, 0),
      argString('replace', a, 1),
      argString('replace', a, 2),
      Math.trunc(argNumber('replace', a, 3)),
    ),
  ),
  fn('replace_all', 3, 3, 'replace_all(s, old, new): replace every occurrence', (a) =>
    goReplace(
      argString('replace_all', a, 0),
      argString('replace_all', a, 1),
      argString('replace_all', a, 2),
      -1,
    ),
  ),
  fn('to_upper', 1, 1, 'to_upper(s)', (a) => argString('to_upper', a, 0).toUpperCase()),
  fn('to_lower', 1, 1, 'to_lower(s)', (a) => argString('to_lower', a, 0).toLowerCase()),
  fn('trim', 2, 2, 'trim(s, cutset): strip leading and trailing characters in cutset', (a) =>
    trimCutset(argString('trim', a, 0), argString('trim', a, 1), true, true),
  ),
  fn('trim_prefix', 2, 2, 'trim_prefix(s, prefix)', (a) => {
    const s = argString('trim_prefix', a, 0);
    const p = argString('trim_prefix', a, 1);
    return s.startsWith(p) ? s.slice(p.length) : s;
  }),
  fn('split', 2, 2, 'split(s, sep): Go strings.Split (empty sep splits into characters)', (a) => {
    const s = argString('split', a, 0);
    const sep = argString('split', a, 1);
    return sep === '' ? Array.from(s) : s.split(sep);
  }),
  fn('truncate', 2, 2, 'truncate(s, n): at most n characters', (a) => {
    const s = argString('truncate', a, 0);
    const n = Math.max(0, Math.trunc(argNumber('truncate', a, 1)));
    return s.length > n ? s.slice(0, n) : s;
  }),
  fn('regex_match', 2, 2, 'regex_match(regex, s|n): RE2 match anywhere in the input', (a) =>
    goRegexp('regex_match', argString('regex_match', a, 0)).test(argStringOrNumber('regex_match', a, 1)),
  ),
  fn(
    'regex_replace_all',
    3,
    3,
    'regex_replace_all(regex, s|n, repl|n): replace matches, $1/${name} expand',
    (a) => {
      const re = goRegexp('regex_replace_all', argString('regex_replace_all', a, 0));
      return re.replaceAll(
        argStringOrNumber('regex_replace_all', a, 1),
        argStringOrNumber('regex_replace_all', a, 2),
      );
    },
  ),
  fn(
    'regex_replace_all_literal',
    3,
    3,
    'regex_replace_all_literal(regex, s|n, repl|n): literal replacement',
    (a) => {
      const re = goRegexp('regex_replace_all_literal', argString('regex_replace_all_literal', a, 0));
      return re.replaceAllLiteral(
        argStringOrNumber('regex_replace_all_literal', a, 1),
        argStringOrNumber('regex_replace_all_literal', a, 2),
      );
    },
  ),
  fn('pattern_match', 2, 2, 'pattern_match(wildcard, s|n): Kyverno wildcard match (* and ?)', (a) =>
    wildcardMatch(argString('pattern_match', a, 0), argStringOrNumber('pattern_match', a, 1)),
  ),
  fn('base64_decode', 1, 1, 'base64_decode(s): standard base64 to string', (a) => {
    const s = argString('base64_decode', a, 0);
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(s) || s.length % 4 !== 0) {
      throw new JmesPathFunctionError('base64_decode', 'illegal base64 data');
    }
    return Buffer.from(s, 'base64').toString('utf8');
  }),
  fn('base64_encode', 1, 1, 'base64_encode(s)', (a) =>
    Buffer.from(argString('base64_encode', a, 0), 'utf8').toString('base64'),
  ),
  fn('path_canonicalize', 1, 1, 'path_canonicalize(p): Go filepath.Clean', (a) => {
    const p = argString('path_canonicalize', a, 0);
    return p === '' ? '.' : posix.normalize(p).replace(/(.)\/$/, '$1');
  }),
  fn('to_boolean', 1, 1, 'to_boolean(s): "true"/"false" (any case) to a boolean', (a) => {
    const s = argString('to_boolean', a, 0).toLowerCase();
    if (s === 'true') return true;
    if (s === 'false') return false;
    throw new JmesPathFunctionError('to_boolean', `lookup: cannot convert ${JSON.stringify(s)} to boolean`);
  }),
  fn(
    'is_external_url',
    1,
    1,
    'is_external_url(u): true unless the host is loopback, private or link-local',
    (a) => {
      const s = argString('is_external_url', a, 0);
      let url: URL;
      try {
        url = new URL(s);
      } catch {
        return false;
      }
      return !isPrivateOrLocal(url.hostname);
    },
  ),
  fn('image_normalize', 1, 1, 'image_normalize(ref): docker.io/library/ and :latest defaults', (a) =>
    normalizeImage(argString('image_normalize', a, 0)),
  ),
  fn('sha256', 1, 1, 'sha256(s): hex digest', hash('sha256')),
  fn('sha1', 1, 1, 'sha1(s): hex digest', hash('sha1')),
  fn('md5', 1, 1, 'md5(s): hex digest', hash('md5')),
];
