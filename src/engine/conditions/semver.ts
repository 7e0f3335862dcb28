/**
 * Semantic versions as blang/semver v4 parses them (strict `MAJOR.MINOR.PATCH[-pre][+build]`, no `v` prefix,
 * no leading zeros) plus its range syntax (`>=1.2.0 <2.0.0 || 3.x`-free subset: comparators joined by spaces
 * are ANDed, `||` ORs groups). Used by the GreaterThan… operators and JMESPath `semver_compare`.
 * Hand-written: npm `semver` is loose (accepts `v1.2.3`, coerces) where blang is strict.
 */

export interface SemVer {
  readonly major: number;
  readonly minor: number;
  readonly patch: number;
  /** Pre-release identifiers; numeric ones as numbers. */
  readonly pre: readonly (string | number)[];
}

const NUM = '(0|[1-9]\\d*)';
const IDENT = '[0-9A-Za-z-]+';
const SEMVER = new RegExp(
  `^${NUM}\\.${NUM}\\.${NUM}(?:-(${IDENT}(?:\\.${IDENT})*))?(?:\\+(${IDENT}(?:\\.${IDENT})*))?$`,
);

export function parseSemVer(s: string): SemVer | undefined {
  const m = SEMVER.exec(s);
  if (!m) return undefined;
  const pre: (string | number)[] = [];
  if (m[4] !== undefined) {
    for (const part of m[4].split('.')) {
      if (/^\d+$/.test(part)) {
        if (part.length > 1 && part.startsWith('0')) return undefined; // blang rejects leading zeros
        pre.push(Number(part));
      } else pre.push(part);
    }
  }
  return { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3]), pre };
}

export function compareSemVer(a: SemVer, b: SemVer): number {
  if (a.major !== b.major) return a.major < b.major ? -1 : 1;
  if (a.minor !== b.minor) return a.minor < b.minor ? -1 : 1;
  if (a.patch !== b.patch) return a.patch < b.patch ? -1 : 1;
  // A version without pre-release identifiers has higher precedence.
  if (a.pre.length === 0) return b.pre.length === 0 ? 0 : 1;
  if (b.pre.length === 0) return -1;
  const n = Math.min(a.pre.length, b.pre.length);
  for (let i = 0; i < n; i++) {
    const x = a.pre[i]!;
    const y = b.pre[i]!;
    if (x === y) continue;
    if (typeof x === 'number' && typeof y === 'number') return x < y ? -1 : 1;
    if (typeof x === 'number') return -1;
    if (typeof y === 'number') return 1;
    return x < y ? -1 : 1;
  }
  return a.pre.length === b.pre.length ? 0 : a.pre.length < b.pre.length ? -1 : 1;
}

type RangeTest = (v: SemVer) => boolean;

const COMPARATOR = /^(>=|<=|!=|!|==|=|>|<)?(.+)$/;

/** blang `semver.ParseRange`; throws on a malformed range. */
export function parseSemVerRange(range: string): RangeTest {
  const groups = range.split('||').map((group) => {
    const parts = group.trim().split(/\s+/).filter(Boolean);
    if (parts.length === 0) throw new Error(`invalid semver range ${JSON.stringify(range)}`);
    const tests = parts.map((part): RangeTest => {
      const m = COMPARATOR.exec(part);
      const target = m ? parseSemVer(m[2]!) : undefined;
      if (!m || !target) throw new Error(`invalid semver range ${JSON.stringify(range)}`);
      switch (m[1]) {
        case '>=':
          return (v) => compareSemVer(v, target) >= 0;
        case '<=':
          return (v) => compareSemVer(v, target) <= 0;
        case '>':
          return (v) => compareSemVer(v, target) > 0;
        case '<':
          return (v) => compareSemVer(v, target) < 0;
        case '!=':
        case '!':
          return (v) => compareSemVer(v, target) !== 0;
        case undefined:
        case '==':
        case '=':
        default:
          return (v) => compareSemVer(v, target) === 0;
      }
    });
    return (v: SemVer) => tests.every((t) => t(v));
  });
  return (v) => groups.some((g) => g(v));
}
