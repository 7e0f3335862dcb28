/**
 * Kyverno's `kinds` entries (`ParseKindSelector`): `Pod`, `v1/Pod`,
 * `apps/v1/Deployment`, `Pod/exec`, `*`, `*\/*`, `*\/scale`, … Each part is then wildcard-matched.
 */
import { compileWildcard, type WildcardMatcher } from '../wildcard.js';

const VERSION = /^(v\d+((alpha|beta)\d+)?|\*)$/;

export interface KindSelector {
  group: string;
  version: string;
  kind: string;
  subresource: string;
}

export function parseKindSelector(input: string): KindSelector {
  const slash = input.split('/');
  const parts = [...slash.slice(0, -1), ...slash[slash.length - 1]!.split('.')];
  const sel = (group: string, version: string, kind: string, subresource: string): KindSelector => ({
    group,
    version,
    kind,
    subresource,
  });
  switch (parts.length) {
    case 1:
      return sel('*', '*', parts[0]!, '');
    case 2: {
      const [a, b] = parts as [string, string];
      if (a === '*' && b === '*') return sel('*', '*', '*', '*');
      if (a === '*' && b.toLowerCase() === b) return sel('*', '*', a, b);
      if (VERSION.test(a)) return sel('*', a, b, '');
      return sel('*', '*', a, b);
    }
    case 3: {
      const [a, b, c] = parts as [string, string, string];
      if (VERSION.test(a)) return sel('*', a, b, c);
      return sel(a, b, c, '');
    }
    case 4:
      return sel(parts[0]!, parts[1]!, parts[2]!, parts[3]!);
    default:
      return sel('', '', '', '');
  }
}

/** The Kind part of a `kinds` entry as Kyverno's `ContainsKind` reads it (used by autogen). */
export function kindOfSelector(entry: string): string {
  const parts = entry.split('/');
  let kind: string;
  switch (parts.length) {
    case 1:
      kind = entry.replace('.', '/');
      break;
    case 2:
      if (parts[0] === '*' && parts[1] === '*') kind = '*/*';
      else if (VERSION.test(parts[0]!)) kind = parts[1]!.replace('.', '/');
      else kind = `${parts[0]!}/${parts[1]!}`;
      break;
    case 3:
      kind = VERSION.test(parts[0]!) ? `${parts[1]!}/${parts[2]!}` : parts[2]!.replace('.', '/');
      break;
    case 4:
      kind = `${parts[2]!}/${parts[3]!}`;
      break;
    default:
      kind = '';
  }
  const sub = kind.split('/');
  return sub.length === 2 ? sub[0]! : kind;
}

export function containsKind(kinds: readonly string[] | undefined, kind: string): boolean {
  return (kinds ?? []).some((k) => kindOfSelector(k) === kind);
}

export interface CompiledKind {
  source: string;
  test(group: string, version: string, kind: string, subresource: string): boolean;
}

export function compileKind(entry: string): CompiledKind {
  const s = parseKindSelector(entry);
  const m: [WildcardMatcher, WildcardMatcher, WildcardMatcher, WildcardMatcher] = [
    compileWildcard(s.group),
    compileWildcard(s.version),
    compileWildcard(s.kind),
    compileWildcard(s.subresource),
  ];
  return {
    source: entry,
    test: (group, version, kind, subresource) => {
      if (!m[0].test(group) || !m[1].test(version) || !m[2].test(kind)) return false;
      if (m[3].test(subresource)) return true;
      // Kyverno lets plain Pod rules see the ephemeralcontainers subresource.
      return group === '' && version === 'v1' && kind === 'Pod' && subresource === 'ephemeralcontainers';
    },
  };
}
