/**
 * Compiles a validate pattern into a tree of matchers once per policy: anchors parsed, keys ordered as
 * Kyverno's validateMap orders them, scalar leaves pre-parsed (operators, wildcards, quantities,
 * durations). The walk over a resource lives in validate.ts.
 */
import { containsWildcard } from '../wildcard.js';
import {
  compareGoStrings,
  isOrderingAnchor,
  isPhaseOneAnchor,
  isTrackedAnchor,
  parseAnchor,
  type Anchor,
} from './anchor.js';
import { goKind } from './go-values.js';
import { compileScalarPattern, type ScalarMatcher } from './scalar.js';

export type PatternNode = MapNode | ArrayNode | LeafNode | UnknownNode;

export interface MapEntry {
  /** The key as written in the pattern (anchors included). */
  readonly rawKey: string;
  readonly anchor: Anchor | undefined;
  /** The pattern value as written (needed for `"*"` checks, messages and metadata expansion). */
  readonly value: unknown;
  readonly node: PatternNode;
  /** `hasNestedAnchors(value)`: the value holds any anchor other than `+()`. */
  readonly nestedAnchors: boolean;
}

export interface MapNode {
  readonly kind: 'map';
  readonly entries: readonly MapEntry[];
  /** Phase one: `()`, `=()`, `X()`, `^()` keys sorted by raw key bytes. */
  readonly anchorPhase: readonly MapEntry[];
  /** Phase two: global anchors and keys with nested anchors first (reverse-sorted), then the rest sorted. */
  readonly plainPhase: readonly MapEntry[];
  /** `()`, `^()`, `X()` keys that Kyverno's AnchorMap tracks for "anchor key missing" errors. */
  readonly tracked: readonly MapEntry[];
  /** Set when this map has a `metadata` child whose labels/annotations need wildcard key expansion. */
  readonly metadataExpansion: MetadataExpansion | undefined;
}

export interface MetadataExpansion {
  /** The tags (labels, annotations) under this map's metadata whose keys may be rewritten. */
  readonly tags: readonly { readonly tag: 'labels' | 'annotations'; readonly node: MapNode }[];
}

export interface ArrayNode {
  readonly kind: 'array';
  readonly items: readonly PatternNode[];
  readonly values: readonly unknown[];
}

export interface LeafNode {
  readonly kind: 'leaf';
  readonly pattern: unknown;
  readonly matcher: ScalarMatcher;
}

export interface UnknownNode {
  readonly kind: 'unknown';
  readonly pattern: unknown;
}

export function compileNode(pattern: unknown): PatternNode {
  switch (goKind(pattern)) {
    case 'map': {
      const obj = pattern as Record<string, unknown>;
      return buildMapNode(
        Object.keys(obj).map((rawKey) => {
          const value = obj[rawKey];
          return {
            rawKey,
            anchor: parseAnchor(rawKey),
            value,
            node: compileNode(value),
            nestedAnchors: hasNestedAnchors(value),
          };
        }),
      );
    }
    case 'array': {
      const values = pattern as unknown[];
      return { kind: 'array', items: values.map(compileNode), values };
    }
    case 'unknown':
      return { kind: 'unknown', pattern };
    case 'nil':
    case 'bool':
    case 'int':
    case 'float':
    case 'string':
      return { kind: 'leaf', pattern, matcher: compileScalarPattern(pattern) };
  }
}

/** Builds a map node (also used at match time for label/annotation maps rewritten by wildcard expansion). */
export function buildMapNode(entries: readonly MapEntry[]): MapNode {
  const sorted = [...entries].sort((a, b) => compareGoStrings(a.rawKey, b.rawKey));
  const anchorPhase = sorted.filter((e) => isPhaseOneAnchor(e.anchor));
  const rest = sorted.filter((e) => !isPhaseOneAnchor(e.anchor));
  // getSortedNestedAnchorResource walks sorted keys and PushFront()s global/nested-anchor keys.
  const front = rest.filter((e) => e.anchor?.type === 'global' || e.nestedAnchors).reverse();
  const back = rest.filter((e) => !(e.anchor?.type === 'global' || e.nestedAnchors));
  return {
    kind: 'map',
    entries,
    anchorPhase,
    plainPhase: [...front, ...back],
    tracked: entries.filter((e) => isTrackedAnchor(e.anchor)),
    metadataExpansion: findMetadataExpansion(sorted),
  };
}

/** `getPatternValue(tag, map)`: the entry whose key, or anchored key, is `tag`. */
export function findTaggedEntry(entries: readonly MapEntry[], tag: string): MapEntry | undefined {
  return entries.find((e) => e.rawKey === tag || e.anchor?.key === tag);
}

function findMetadataExpansion(sortedEntries: readonly MapEntry[]): MetadataExpansion | undefined {
  const metadata = findTaggedEntry(sortedEntries, 'metadata');
  if (metadata?.node.kind !== 'map') return undefined;
  const metadataEntries = [...metadata.node.entries].sort((a, b) => compareGoStrings(a.rawKey, b.rawKey));
  const tags: { tag: 'labels' | 'annotations'; node: MapNode }[] = [];
  for (const tag of ['labels', 'annotations'] as const) {
    const entry = findTaggedEntry(metadataEntries, tag);
    if (entry?.node.kind !== 'map') continue;
    // Expansion is the identity unless a key has a wildcard or a value is not a string (Kyverno drops those).
    if (entry.node.entries.some((e) => typeof e.value !== 'string' || containsWildcard(e.rawKey))) {
      tags.push({ tag, node: entry.node });
    }
  }
  return tags.length > 0 ? { tags } : undefined;
}

/** `hasNestedAnchors`: any anchor except add-if-not-present, at any depth. */
function hasNestedAnchors(value: unknown): boolean {
  switch (goKind(value)) {
    case 'map': {
      const obj = value as Record<string, unknown>;
      return Object.keys(obj).some((k) => isOrderingAnchor(parseAnchor(k)) || hasNestedAnchors(obj[k]));
    }
    case 'array':
      return (value as unknown[]).some(hasNestedAnchors);
    case 'nil':
    case 'bool':
    case 'int':
    case 'float':
    case 'string':
    case 'unknown':
      return false;
  }
}
