/**
 * Wildcard keys in `metadata.labels` / `metadata.annotations` patterns (`pkg/engine/wildcards`,
 * `ExpandInMetadata`). Before a map that has a `metadata` child is validated, each labels/annotations
 * pattern key containing `*`/`?` is replaced by the first resource key it matches (anchors kept:
 * `=(app.kubernetes.io/*)` becomes `=(app.kubernetes.io/name)`). Kyverno rebuilds the pattern map from
 * its string-valued entries only, so non-string values (e.g. `X(label): null`) are dropped whenever the
 * resource has that labels/annotations map; and it rewrites the pattern in place, so the rewrite persists
 * for the rest of the same match (later array elements see the expanded keys). Both quirks are copied.
 */
import { containsWildcard, wildcardMatch } from '../wildcard.js';
import { anchorString, parseAnchor } from './anchor.js';
import { buildMapNode, type MapEntry, type MapNode, type MetadataExpansion } from './compile.js';
import { isPlainObject } from './go-values.js';

/** Per-match rewrites of label/annotation pattern maps, keyed by the compiled (original) node. */
export type MetadataOverrides = Map<MapNode, MapNode>;

/** `replaceWildcardsInMapKeys` on plain string maps (Kyverno's unit-tested helper). */
export function replaceWildcardsInMapKeys(
  patternData: Readonly<Record<string, string>>,
  resourceData: Readonly<Record<string, string>>,
): Record<string, string> {
  const results: Record<string, string> = {};
  const resourceKeys = Object.keys(resourceData);
  for (const [k, v] of Object.entries(patternData)) results[expandKey(k, resourceKeys)] = v;
  return results;
}

/**
 * Applies `ExpandInMetadata` for a pattern map about to be validated against `resourceMap`, recording the
 * rewritten labels/annotations maps in `overrides`.
 */
export function expandMetadataWildcards(
  expansion: MetadataExpansion,
  resourceMap: Readonly<Record<string, unknown>>,
  overrides: MetadataOverrides,
): void {
  const resourceMetadata = Object.hasOwn(resourceMap, 'metadata') ? resourceMap.metadata : undefined;
  if (!isPlainObject(resourceMetadata)) return;
  const metadataKeys = Object.keys(resourceMetadata).map((rawKey) => ({
    rawKey,
    anchor: parseAnchor(rawKey),
  }));
  for (const { tag, node } of expansion.tags) {
    const resourceTagKey = metadataKeys.find((e) => e.rawKey === tag || e.anchor?.key === tag)?.rawKey;
    if (resourceTagKey === undefined) continue;
    const resourceTag = resourceMetadata[resourceTagKey];
    if (!isPlainObject(resourceTag)) continue;
    const resourceKeys = Object.keys(resourceTag).filter((k) => typeof resourceTag[k] === 'string');
    const current = overrides.get(node) ?? node;
    const rewritten = rewriteTagNode(current, resourceKeys);
    if (rewritten !== current) overrides.set(node, rewritten);
  }
}

function rewriteTagNode(current: MapNode, resourceKeys: readonly string[]): MapNode {
  if (current.entries.every((e) => typeof e.value === 'string' && !containsWildcard(e.rawKey)))
    return current;
  const byKey = new Map<string, MapEntry>();
  for (const e of current.entries) {
    if (typeof e.value !== 'string') continue;
    const rawKey = expandKey(e.rawKey, resourceKeys);
    byKey.set(rawKey, rawKey === e.rawKey ? e : { ...e, rawKey, anchor: parseAnchor(rawKey) });
  }
  return buildMapNode([...byKey.values()]);
}

function expandKey(key: string, resourceKeys: readonly string[]): string {
  if (!containsWildcard(key)) return key;
  const anchor = parseAnchor(key);
  const inner = anchor ? anchor.key : key;
  // Go iterates the resource map in random order; the resource's own key order is our deterministic choice.
  const hit = resourceKeys.find((rk) => wildcardMatch(inner, rk)) ?? inner;
  return anchor ? anchorString(anchor.modifier, hit) : hit;
}
