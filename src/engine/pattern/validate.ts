/**
 * The pattern tree walk (`pkg/engine/validate/validate.go` + `pkg/engine/anchor/handlers.go`), over a
 * compiled pattern. Paths and error messages are Kyverno's, byte for byte: paths look like
 * "/spec/containers/0/image/", and a failure reads "resource value 'nginx' does not match '!nginx*' at
 * path /spec/containers/0/image/".
 */
import { goFormatValue, goTypeName, isPlainObject } from './go-values.js';
import type { ArrayNode, LeafNode, MapEntry, MapNode, PatternNode } from './compile.js';
import { expandMetadataWildcards, type MetadataOverrides } from './metadata-wildcards.js';
import { parseAnchor } from './anchor.js';

/**
 * How Kyverno classifies an error (`anchor.IsConditionalAnchorError` & co): conditional and global
 * anchor errors make the rule skip, negation errors make it fail, plain errors fail or error.
 */
export type PatternErrorClass = 'plain' | 'conditional' | 'global' | 'negation';

export interface PatternError {
  /** The path Kyverno returns with the error ("" for a few array-length errors). */
  readonly path: string;
  readonly message: string;
  readonly cls: PatternErrorClass;
}

/** Mutable state of one match call (Kyverno's AnchorMap plus in-place metadata rewrites). */
export interface MatchState {
  /** Raw anchor key -> whether any visited resource map had that key. */
  readonly anchorKeys: Map<string, boolean>;
  readonly overrides: MetadataOverrides;
  /**
   * The caller needs only pass / not pass (CompiledPattern.test): the hottest mismatches return a
   * constant error of the right class instead of formatting Kyverno's message. Error classes, and
   * so the walk, are unchanged.
   */
  readonly quiet: boolean;
}

export function newMatchState(quiet = false): MatchState {
  return { anchorKeys: new Map(), overrides: new Map(), quiet };
}

/** A map that stays empty: writing to it is a bug (see STATELESS). */
class EmptyMap<K, V> extends Map<K, V> {
  override set(): this {
    throw new Error('pattern match state written for a pattern compiled as stateless');
  }
}

/**
 * The state shared by every match of a pattern that never writes state: one without tracked anchors
 * (`()`, `^()`, `X()`) and without metadata wildcard expansion (see `needsMatchState`). Saves two
 * Map allocations per match on the per-event path.
 */
export const STATELESS: MatchState = { anchorKeys: new EmptyMap(), overrides: new EmptyMap(), quiet: false };
/** STATELESS for a pass/not-pass check. */
export const STATELESS_QUIET: MatchState = { ...STATELESS, quiet: true };

/** What a quiet match returns for a mismatch: the class is what the walk reads, never the text. */
const QUIET_PLAIN: PatternError = Object.freeze({ path: '', message: '', cls: 'plain' });
const QUIET_CONDITIONAL: PatternError = Object.freeze({ path: '', message: '', cls: 'conditional' });

/** True when matching the compiled pattern records anchor keys or metadata rewrites. */
export function needsMatchState(node: PatternNode): boolean {
  switch (node.kind) {
    case 'map':
      return (
        node.tracked.length > 0 ||
        node.metadataExpansion !== undefined ||
        node.entries.some((e) => needsMatchState(e.node))
      );
    case 'array':
      return node.items.some(needsMatchState);
    case 'leaf':
    case 'unknown':
      return false;
  }
}

export function isSkipError(e: PatternError): boolean {
  return e.cls === 'conditional' || e.cls === 'global';
}

/** `AnchorMap.KeysAreMissing`: a tracked (non-negation) anchor key was never found in the resource. */
export function keysAreMissing(state: MatchState): boolean {
  for (const [rawKey, found] of state.anchorKeys) {
    if (!found && parseAnchor(rawKey)?.type !== 'negation') return true;
  }
  return false;
}

/** `validateResourceElement`. */
export function validateElement(
  resource: unknown,
  node: PatternNode,
  path: string,
  state: MatchState,
): PatternError | undefined {
  switch (node.kind) {
    case 'map': {
      if (!isPlainObject(resource)) {
        if (state.quiet) return QUIET_PLAIN;
        return plain(
          path,
          `pattern and resource have different structures. Path: ${path}. Expected map[string]interface {}, found ${goTypeName(resource)}`,
        );
      }
      const current = state.overrides.get(node) ?? node;
      checkAnchorsInResource(current, resource, state);
      return validateMap(resource, current, path, state);
    }
    case 'array':
      if (!Array.isArray(resource)) {
        return plain(
          path,
          `validation rule failed at path ${path}, resource does not satisfy the expected overlay pattern`,
        );
      }
      return validateArray(resource, node, path, state);
    case 'leaf': {
      // A scalar pattern applies to every element of a list value, or to the value itself (tested
      // directly: wrapping it in a one-element array would allocate on every leaf of every match).
      if (Array.isArray(resource) ? allMatch(node, resource) : node.matcher.test(resource)) return undefined;
      if (state.quiet) return QUIET_PLAIN;
      return plain(
        path,
        `resource value '${goFormatValue(resource)}' does not match '${goFormatValue(node.pattern)}' at path ${path}`,
      );
    }
    case 'unknown':
      return plain(path, `failed at '${path}', pattern contains unknown type`);
  }
}

function allMatch(node: LeafNode, elements: readonly unknown[]): boolean {
  for (const element of elements) if (!node.matcher.test(element)) return false;
  return true;
}

function validateMap(
  resource: Record<string, unknown>,
  node: MapNode,
  path: string,
  state: MatchState,
): PatternError | undefined {
  if (node.metadataExpansion) expandMetadataWildcards(node.metadataExpansion, resource, state.overrides);
  // Phase one. A conditional anchor that fails skips the whole map (conditions are ANDed; they sort
  // first, so nothing else has run). A skip bubbling up from inside another anchor (e.g. every element
  // of `=(initContainers)` excluded by its own conditional anchor) only skips the map when no other
  // anchor applied (its key was present and held): Kyverno passes `=(containers)` ok +
  // `=(initContainers)` all-skipped, and skips `=(volumes)` all-skipped alone.
  let applied = 0;
  let nestedSkips: PatternError[] | undefined; // created on the first skip: most maps have none
  for (const entry of node.anchorPhase) {
    const err = handleEntry(entry, resource, path, state);
    if (!err) {
      if (Object.hasOwn(resource, entry.anchor!.key)) applied++;
      continue;
    }
    if (entry.anchor?.type !== 'condition' && isSkipError(err)) {
      (nestedSkips ??= []).push(err);
      continue;
    }
    return err;
  }
  if (nestedSkips !== undefined && applied === 0) return combineSkips(path, nestedSkips);
  // Phase two: global anchors and plain keys; the first error (skip or failure) decides.
  for (const entry of node.plainPhase) {
    const err = handleEntry(entry, resource, path, state);
    if (err) return err;
  }
  return undefined;
}

/** `CreateElementHandler(key).Handle(...)`. */
function handleEntry(
  entry: MapEntry,
  resource: Record<string, unknown>,
  path: string,
  state: MatchState,
): PatternError | undefined {
  const anchor = entry.anchor;
  switch (anchor?.type) {
    case 'condition': {
      const currentPath = `${path}${anchor.key}/`;
      if (!Object.hasOwn(resource, anchor.key)) {
        return {
          path: currentPath,
          message: "conditional anchor mismatch: conditional anchor key doesn't exist in the resource",
          cls: 'conditional',
        };
      }
      const err = validateElement(resource[anchor.key], entry.node, currentPath, state);
      if (err && state.quiet) return QUIET_CONDITIONAL;
      return (
        err && { path: err.path, message: `conditional anchor mismatch: ${err.message}`, cls: 'conditional' }
      );
    }
    case 'global': {
      if (!Object.hasOwn(resource, anchor.key)) return undefined;
      const err = validateElement(resource[anchor.key], entry.node, `${path}${anchor.key}/`, state);
      return err && { path: err.path, message: `global anchor mismatch: ${err.message}`, cls: 'global' };
    }
    case 'equality':
      if (!Object.hasOwn(resource, anchor.key)) return undefined;
      return validateElement(resource[anchor.key], entry.node, `${path}${anchor.key}/`, state);
    case 'negation': {
      if (!Object.hasOwn(resource, anchor.key)) return undefined;
      const currentPath = `${path}${anchor.key}/`;
      return {
        path: currentPath,
        message: `negation anchor matched in resource: ${currentPath} is not allowed`,
        cls: 'negation',
      };
    }
    case 'existence':
      if (!Object.hasOwn(resource, anchor.key)) return undefined;
      return handleExistence(entry, resource[anchor.key], `${path}${anchor.key}/`, state);
    case 'addIfNotPresent': // mutate-only anchor: validate treats the raw key as a plain key
    case undefined: {
      const value = Object.hasOwn(resource, entry.rawKey) ? resource[entry.rawKey] : undefined;
      if (entry.value === '*') {
        if (value !== undefined && value !== null) return undefined;
        return plain(path, `${path}/${entry.rawKey} not found`);
      }
      return validateElement(value, entry.node, `${path}${entry.rawKey}/`, state);
    }
  }
}

/** `existenceHandler`: every map in the pattern list must match at least one resource list element. */
function handleExistence(
  entry: MapEntry,
  value: unknown,
  currentPath: string,
  state: MatchState,
): PatternError | undefined {
  if (!Array.isArray(value)) {
    return plain(
      currentPath,
      `invalid resource type ${goTypeName(value)}: Existence ^ () anchor can be used only on list/array type resource`,
    );
  }
  if (entry.node.kind !== 'array') {
    return plain(
      currentPath,
      `invalid pattern type ${goTypeName(entry.value)}: Pattern has to be of list to compare against resource`,
    );
  }
  for (const item of entry.node.items) {
    if (item.kind !== 'map') {
      return plain(
        currentPath,
        `invalid pattern type ${goTypeName(entry.value)}: Pattern has to be of type map to compare against items in resource`,
      );
    }
    const found = value.some(
      (element, i) => validateElement(element, item, `${currentPath}${i}/`, state) === undefined,
    );
    if (!found) return plain(currentPath, `existence anchor validation failed at path ${currentPath}`);
  }
  return undefined;
}

/** `validateArray`: only the first pattern element matters unless it is itself a list. */
function validateArray(
  resource: unknown[],
  node: ArrayNode,
  path: string,
  state: MatchState,
): PatternError | undefined {
  const first = node.items[0];
  if (first === undefined) return plain(path, 'pattern Array empty');
  switch (first.kind) {
    case 'map':
      return validateEach(resource, () => first, path, state);
    case 'leaf':
      return validateElement(resource, first, path, state);
    case 'array':
    case 'unknown': {
      if (resource.length < node.items.length) {
        return plain(
          '',
          `validate Array failed, array length mismatch, resource Array len is ${resource.length} and pattern Array len is ${node.items.length}`,
        );
      }
      return validateEach(resource.slice(0, node.items.length), (i) => node.items[i]!, path, state);
    }
  }
}

/**
 * `validateArrayOfMaps` (and the positional loop): elements that skip are ignored, the first failure wins,
 * and when every element skipped the skip propagates as one combined error.
 */
function validateEach(
  resource: readonly unknown[],
  patternFor: (i: number) => PatternNode,
  path: string,
  state: MatchState,
): PatternError | undefined {
  let applied = 0;
  const skips: PatternError[] = [];
  for (let i = 0; i < resource.length; i++) {
    const err = validateElement(resource[i], patternFor(i), `${path}${i}/`, state);
    if (!err) {
      applied++;
      continue;
    }
    if (!isSkipError(err)) return err;
    skips.push(err);
  }
  if (applied === 0 && skips.length > 0) return combineSkips(path, skips);
  return undefined;
}

/** Kyverno's PatternError{Skip: true}: multierr.Combine joins messages with "; ", the first error classifies. */
function combineSkips(path: string, skips: readonly PatternError[]): PatternError {
  return { path, message: skips.map((s) => s.message).join('; '), cls: skips[0]!.cls };
}

/** `AnchorMap.CheckAnchorInResource`. */
function checkAnchorsInResource(node: MapNode, resource: Record<string, unknown>, state: MatchState): void {
  for (const entry of node.tracked) {
    if (state.anchorKeys.get(entry.rawKey) === true) continue;
    state.anchorKeys.set(entry.rawKey, Object.hasOwn(resource, entry.anchor!.key));
  }
}

function plain(path: string, message: string): PatternError {
  return { path, message, cls: 'plain' };
}
