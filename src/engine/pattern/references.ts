/**
 * `$(...)` references in validate patterns (Kyverno `variables.substituteReferences`), resolved against the
 * pattern document itself before `{{ }}` variables: `memory: "$(<=./../../limits/memory)"` at
 * /spec/containers/0/resources/requests/memory reads /spec/containers/0/resources/limits/memory of the
 * *pattern* (anchors ignored when comparing paths) and becomes "<=2048Mi". Since the pattern is static,
 * this runs once at policy compile time. `\$(` escapes a reference and loses its backslash.
 */
import { KyvernoRuntimeError } from '../../contracts/errors.js';
import { posix } from 'node:path';
import { parseAnchor } from './anchor.js';
import { goFormatFloatF, goKind, goTypeName, isPlainObject, bigIntOf, numberOf } from './go-values.js';
import { getOperatorFromStringPattern } from './operator.js';

/** A reference that cannot be resolved; Kyverno reports the rule as an error ("variable substitution failed"). */
export class PatternReferenceError extends KyvernoRuntimeError {
  constructor(message: string) {
    super('E_PATTERN_REFERENCE', message);
  }
}

// Kyverno's RegexReferences: a whole-string reference, or one preceded by a non-backslash character.
const REFERENCE = /^\$\(.[^ ]*\)$|[^\\]\$\(.[^ ]*\)/g;
const ESCAPED_REFERENCE = /\\\$\(/g;

/** True when any string in the pattern contains `$(`. Cheap pre-check so most patterns skip the walk. */
export function hasPatternReferences(pattern: unknown): boolean {
  switch (goKind(pattern)) {
    case 'string':
      return (pattern as string).includes('$(');
    case 'array':
      return (pattern as unknown[]).some(hasPatternReferences);
    case 'map':
      return Object.values(pattern as Record<string, unknown>).some(hasPatternReferences);
    case 'nil':
    case 'bool':
    case 'int':
    case 'float':
    case 'unknown':
      return false;
  }
}

/** Returns a copy of `pattern` with every `$(...)` reference resolved (the input is not modified). */
export function resolvePatternReferences(pattern: unknown): unknown {
  if (!hasPatternReferences(pattern)) return pattern;
  const leaves = collectLeaves(pattern);
  const walk = (node: unknown, path: string): unknown => {
    if (Array.isArray(node)) return node.map((v, i) => walk(v, `${path}/${i}`));
    if (isPlainObject(node)) {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(node)) out[k] = walk(v, `${path}/${k}`);
      return out;
    }
    return typeof node === 'string' ? resolveString(node, path, leaves) : node;
  };
  return walk(pattern, '');
}

function resolveString(original: string, path: string, leaves: ReadonlyMap<string, unknown>): unknown {
  let value = original;
  for (const match of original.match(REFERENCE) ?? []) {
    const initial = match.startsWith('$(');
    const reference = initial ? match : match.slice(1);
    const resolved = resolveReference(reference, path, leaves, match);
    if (typeof resolved !== 'string') return resolved; // a non-string whole value replaces the leaf
    value = value.replace(match, (initial ? '' : match[0]!) + resolved);
  }
  return value.replace(ESCAPED_REFERENCE, '$(');
}

function resolveReference(
  reference: string,
  path: string,
  leaves: ReadonlyMap<string, unknown>,
  original: string,
): unknown {
  const inner = trimChars(reference, '$()');
  const op = getOperatorFromStringPattern(inner);
  const refPath = inner.slice(op.length);
  if (refPath.length === 0) {
    throw new PatternReferenceError(
      `failed to resolve ${original} at path ${path}: expected path, found empty reference`,
    );
  }
  const absolute = refPath.startsWith('/') ? posix.normalize(refPath) : posix.join(path, refPath);
  const value = leaves.has(absolute) ? leaves.get(absolute) : null;
  if (op === '') return value;
  switch (goKind(value)) {
    case 'string':
      return op + (value as string);
    case 'int':
      return op + bigIntOf(value).toString();
    case 'float':
      return op + goFormatFloatF(numberOf(value));
    case 'nil':
    case 'bool':
    case 'map':
    case 'array':
    case 'unknown':
      throw new PatternReferenceError(
        `failed to resolve ${original} at path ${path}: reference value is of type ${goTypeName(value)}, expected string, int or float`,
      );
  }
}

/** Leaf values of the pattern by path with anchors removed (`anchor.RemoveAnchorsFromPath`); last wins. */
function collectLeaves(pattern: unknown): Map<string, unknown> {
  const leaves = new Map<string, unknown>();
  const walk = (node: unknown, segments: string[]): void => {
    if (Array.isArray(node)) {
      node.forEach((v, i) => walk(v, [...segments, String(i)]));
    } else if (isPlainObject(node)) {
      for (const [k, v] of Object.entries(node)) walk(v, [...segments, parseAnchor(k)?.key ?? k]);
    } else {
      leaves.set(posix.join('/', ...segments), node);
    }
  };
  walk(pattern, []);
  return leaves;
}

/** Go `strings.Trim(s, cutset)`. */
function trimChars(s: string, cutset: string): string {
  let start = 0;
  let end = s.length;
  while (start < end && cutset.includes(s[start]!)) start++;
  while (end > start && cutset.includes(s[end - 1]!)) end--;
  return s.slice(start, end);
}
