/**
 * Kyverno anchors (`pkg/engine/anchor`): `(key)` conditional, `<(key)` global, `=(key)` equality,
 * `X(key)` negation, `^(key)` existence and `+(key)` add-if-not-present (mutate only).
 *
 * Parsing follows `anchor.Parse`: the key is trimmed (Go `strings.TrimSpace`) and matched against
 * `^([+<=X^])?\((.+)\)$`, where `.` is any character but a newline, as in Go's RE2.
 */

export type AnchorType = 'condition' | 'global' | 'negation' | 'addIfNotPresent' | 'equality' | 'existence';

export interface Anchor {
  readonly type: AnchorType;
  /** The modifier character ('' for a conditional anchor). */
  readonly modifier: '' | '<' | 'X' | '+' | '=' | '^';
  /** The key inside the parentheses. */
  readonly key: string;
}

const ANCHOR_REGEX = /^([+<=X^])?\(([^\n]+)\)$/;
// Go's unicode.IsSpace set (JS \s differs: it includes U+FEFF and lacks U+0085).
const GO_SPACE = '\\t\\n\\v\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const SPACE = new RegExp(`[${GO_SPACE}]`);

const TYPES: Readonly<Record<string, AnchorType>> = {
  '': 'condition',
  '<': 'global',
  X: 'negation',
  '+': 'addIfNotPresent',
  '=': 'equality',
  '^': 'existence',
};

/** Go's `strings.TrimSpace`. */
export function goTrimSpace(s: string): string {
  // Scanned, not `[…]+$`: an unanchored trailing-class regex retries from every space (quadratic).
  let start = 0;
  let end = s.length;
  while (start < end && SPACE.test(s[start]!)) start++;
  while (end > start && SPACE.test(s[end - 1]!)) end--;
  return start === 0 && end === s.length ? s : s.slice(start, end);
}

/** `anchor.Parse`: undefined when the key is not an anchor. */
export function parseAnchor(raw: string): Anchor | undefined {
  const m = ANCHOR_REGEX.exec(goTrimSpace(raw));
  if (!m) return undefined;
  const modifier = (m[1] ?? '') as Anchor['modifier'];
  return { type: TYPES[modifier]!, modifier, key: m[2]! };
}

/** `anchor.String`: rebuilds the anchored key ("" for an empty key). */
export function anchorString(modifier: Anchor['modifier'], key: string): string {
  return key === '' ? '' : `${modifier}(${key})`;
}

/** Anchors handled in validateMap's first phase (global and add-if-not-present are not among them). */
export function isPhaseOneAnchor(a: Anchor | undefined): boolean {
  return (
    a !== undefined &&
    (a.type === 'condition' || a.type === 'existence' || a.type === 'equality' || a.type === 'negation')
  );
}

/** Anchors that make a subtree "contain anchors" for key ordering (`hasNestedAnchors`). */
export function isOrderingAnchor(a: Anchor | undefined): boolean {
  return a !== undefined && a.type !== 'addIfNotPresent';
}

/** Anchors whose keys Kyverno tracks to detect "anchor key missing in resource" (`AnchorMap`). */
export function isTrackedAnchor(a: Anchor | undefined): boolean {
  return a !== undefined && (a.type === 'condition' || a.type === 'existence' || a.type === 'negation');
}

/** Byte-order string comparison, as Go's sort.Strings (UTF-8 order = code point order). */
export function compareGoStrings(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const ca = a.codePointAt(i)!;
    const cb = b.codePointAt(i)!;
    if (ca !== cb) return ca < cb ? -1 : 1;
    if (ca > 0xffff) i++;
  }
  return a.length - b.length;
}
