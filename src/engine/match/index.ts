/**
 * Kyverno's match/exclude (`pkg/engine/utils/match.go`), compiled once per rule.
 *
 * - `match.any`: some filter matches; `match.all`: every filter matches; legacy (`match.resources` +
 *   user info directly under `match`): the single filter matches.
 * - Within a filter every specified field must match; list fields are ORed.
 * - A filter with neither resources nor user info never matches (and so never excludes).
 * - Without admission user info (CLI without a userinfo file, background scans, runtime events) user info
 *   in **match** filters is ignored; in **exclude** it is evaluated against the empty user, so a
 *   subject-based exclude never excludes.
 */
import { checkPatterns, compileWildcard, containsWildcard, type WildcardMatcher } from '../wildcard.js';
import { compileKind, type CompiledKind } from './kind.js';
import { selectorMatches, type LabelSelector } from './selector.js';

export { containsKind, kindOfSelector, parseKindSelector } from './kind.js';
export { selectorMatches, type LabelSelector } from './selector.js';

/** The requester of an admission request (Kyverno CLI `kind: UserInfo`). */
export interface RequestUserInfo {
  username?: string;
  groups?: string[];
  roles?: string[];
  clusterRoles?: string[];
}

export interface MatchOptions {
  /** CREATE | UPDATE | DELETE | CONNECT; undefined (background/runtime) skips `operations`. */
  operation?: string;
  /** Labels of the resource's namespace, for namespaceSelector. */
  namespaceLabels?: Readonly<Record<string, string>>;
  /** Set for namespaced RuntimePolicy/Policy: only resources in this namespace match. */
  policyNamespace?: string;
  /** Admission requester; undefined = no admission info (match-side user info is ignored). */
  userInfo?: RequestUserInfo;
  subresource?: string;
}

interface CompiledDescription {
  kinds?: CompiledKind[];
  name?: WildcardMatcher;
  names?: WildcardMatcher[];
  namespaces?: string[];
  annotations?: [WildcardMatcher, WildcardMatcher][];
  selector?: LabelSelector;
  namespaceSelector?: LabelSelector;
  operations?: string[];
  empty: boolean;
}

interface CompiledFilter {
  resources: CompiledDescription;
  roles?: string[];
  clusterRoles?: string[];
  subjects?: { kind: string; name: string; namespace?: string }[];
  hasUserInfo: boolean;
}

export interface CompiledMatch {
  mode: 'any' | 'all' | 'legacy';
  filters: CompiledFilter[];
}

/** A resource reduced to what matching reads. */
export interface ResourceFacts {
  group: string;
  version: string;
  kind: string;
  name: string;
  namespace: string;
  labels: Readonly<Record<string, string>>;
  annotations: Readonly<Record<string, string>>;
}

type Raw = Record<string, unknown>;
const isObj = (v: unknown): v is Raw => v !== null && typeof v === 'object' && !Array.isArray(v);
const strings = (v: unknown): string[] | undefined =>
  Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : undefined;

function compileDescription(raw: unknown): CompiledDescription {
  const r = isObj(raw) ? raw : {};
  const kinds = strings(r.kinds);
  const names = strings(r.names);
  const namespaces = strings(r.namespaces);
  const operations = strings(r.operations);
  const annotations = isObj(r.annotations) ? Object.entries(r.annotations) : undefined;
  const d: CompiledDescription = { empty: true };
  if (kinds?.length) d.kinds = kinds.map(compileKind);
  if (typeof r.name === 'string' && r.name !== '') d.name = compileWildcard(r.name);
  if (names?.length) d.names = names.map(compileWildcard);
  if (namespaces?.length) d.namespaces = namespaces;
  if (annotations?.length)
    d.annotations = annotations.map(([k, v]) => [compileWildcard(k), compileWildcard(String(v))]);
  if (isObj(r.selector)) d.selector = r.selector;
  if (isObj(r.namespaceSelector)) d.namespaceSelector = r.namespaceSelector;
  if (operations?.length) d.operations = operations;
  d.empty =
    !d.kinds &&
    !d.name &&
    !d.names &&
    !d.namespaces &&
    !d.annotations &&
    !d.selector &&
    !d.namespaceSelector &&
    !d.operations;
  return d;
}

function compileFilter(raw: Raw): CompiledFilter {
  const roles = strings(raw.roles);
  const clusterRoles = strings(raw.clusterRoles);
  const subjects = Array.isArray(raw.subjects)
    ? (raw.subjects.filter(isObj) as CompiledFilter['subjects'])
    : undefined;
  return {
    resources: compileDescription(raw.resources),
    ...(roles?.length ? { roles } : {}),
    ...(clusterRoles?.length ? { clusterRoles } : {}),
    ...(subjects?.length ? { subjects } : {}),
    hasUserInfo: Boolean(roles?.length || clusterRoles?.length || subjects?.length),
  };
}

export function compileMatch(raw: unknown): CompiledMatch {
  const m = isObj(raw) ? raw : {};
  if (Array.isArray(m.any) && m.any.length > 0)
    return { mode: 'any', filters: m.any.filter(isObj).map(compileFilter) };
  if (Array.isArray(m.all) && m.all.length > 0)
    return { mode: 'all', filters: m.all.filter(isObj).map(compileFilter) };
  return { mode: 'legacy', filters: [compileFilter(m)] };
}

const EMPTY: Readonly<Record<string, string>> = Object.freeze({});
/** Labels/annotations as strings (YAML may hold `a: 1`); copies only when a value is not a string. */
function stringMap(v: unknown): Readonly<Record<string, string>> {
  if (!isObj(v)) return EMPTY;
  const entries = Object.entries(v);
  if (entries.every(([, x]) => typeof x === 'string')) return v as Record<string, string>;
  return Object.fromEntries(entries.map(([k, x]) => [k, typeof x === 'string' ? x : JSON.stringify(x)]));
}

/** Reads group/version/kind/name/namespace/labels/annotations from a Kubernetes object. */
export function resourceFacts(resource: Readonly<Record<string, unknown>>): ResourceFacts {
  const apiVersion = typeof resource.apiVersion === 'string' ? resource.apiVersion : '';
  const slash = apiVersion.indexOf('/');
  const md = isObj(resource.metadata) ? resource.metadata : {};
  const name =
    typeof md.name === 'string' && md.name !== ''
      ? md.name
      : typeof md.generateName === 'string'
        ? md.generateName
        : '';
  return {
    group: slash >= 0 ? apiVersion.slice(0, slash) : '',
    version: slash >= 0 ? apiVersion.slice(slash + 1) : apiVersion,
    kind: typeof resource.kind === 'string' ? resource.kind : '',
    name,
    namespace: typeof md.namespace === 'string' ? md.namespace : '',
    labels: stringMap(md.labels),
    annotations: stringMap(md.annotations),
  };
}

function descriptionMatches(d: CompiledDescription, r: ResourceFacts, opts: MatchOptions): boolean {
  if (d.operations && opts.operation !== undefined && !d.operations.includes(opts.operation)) return false;
  if (d.kinds && !d.kinds.some((k) => k.test(r.group, r.version, r.kind, opts.subresource ?? '')))
    return false;
  if (d.name && !d.name.test(r.name)) return false;
  if (d.names && !d.names.some((n) => n.test(r.name))) return false;
  if (d.namespaces) {
    const ns = r.kind === 'Namespace' ? r.name : r.namespace;
    if (!checkPatterns(d.namespaces, ns)) return false;
  }
  if (d.annotations) {
    const actual = Object.entries(r.annotations);
    const ok = d.annotations.every(([k, v]) => actual.some(([ak, av]) => k.test(ak) && v.test(av)));
    if (!ok) return false;
  }
  try {
    if (d.selector && !selectorMatches(d.selector, r.labels)) return false;
    if (d.namespaceSelector) {
      // Kyverno: "namespace selector is not applicable for namespace resource".
      if (r.kind === 'Namespace') return false;
      if (!selectorMatches(d.namespaceSelector, opts.namespaceLabels ?? {})) return false;
    }
  } catch {
    // An invalid selector is an error in Kyverno, which makes the filter not match.
    return false;
  }
  return true;
}

function userInfoMatches(f: CompiledFilter, user: RequestUserInfo): boolean {
  if (f.roles && !(user.roles ?? []).some((r) => f.roles!.includes(r))) return false;
  if (f.clusterRoles && !(user.clusterRoles ?? []).some((r) => f.clusterRoles!.includes(r))) return false;
  if (f.subjects) {
    const username = user.username ?? '';
    const groups = user.groups ?? [];
    const ok = f.subjects.some((s) => {
      switch (s.kind) {
        case 'ServiceAccount':
          return compileWildcard(`system:serviceaccount:${s.namespace ?? ''}:${s.name}`).test(username);
        case 'User':
          return compileWildcard(s.name).test(username);
        case 'Group':
          return groups.some((g) => compileWildcard(s.name).test(g));
        default:
          return false;
      }
    });
    if (!ok) return false;
  }
  return true;
}

function filterMatches(
  f: CompiledFilter,
  r: ResourceFacts,
  opts: MatchOptions,
  side: 'match' | 'exclude',
): boolean {
  const useUserInfo = f.hasUserInfo && (side === 'exclude' || opts.userInfo !== undefined);
  // "match cannot be empty": a filter with nothing to check never matches.
  if (f.resources.empty && !useUserInfo) return false;
  if (!f.resources.empty && !descriptionMatches(f.resources, r, opts)) return false;
  if (useUserInfo && !userInfoMatches(f, opts.userInfo ?? {})) return false;
  return true;
}

export function matchesBlock(
  m: CompiledMatch,
  r: ResourceFacts,
  opts: MatchOptions,
  side: 'match' | 'exclude',
): boolean {
  switch (m.mode) {
    case 'any':
      return m.filters.some((f) => filterMatches(f, r, opts, side));
    case 'all':
      return m.filters.every((f) => filterMatches(f, r, opts, side));
    case 'legacy':
      return filterMatches(m.filters[0]!, r, opts, side);
  }
}

/** The part of a compiled rule that matching reads. */
export interface MatchableRule {
  match: CompiledMatch;
  exclude?: CompiledMatch;
}

/**
 * True when the rule applies to the resource: namespaced-policy restriction, then match, then exclude.
 * Pure and allocation-light; usable per event by the runtime engine.
 */
export function matchesRule(
  rule: MatchableRule,
  resource: Readonly<Record<string, unknown>> | ResourceFacts,
  opts: MatchOptions = {},
): boolean {
  const r =
    'group' in resource && 'labels' in resource ? (resource as ResourceFacts) : resourceFacts(resource);
  if (opts.policyNamespace !== undefined && opts.policyNamespace !== r.namespace) return false;
  if (!matchesBlock(rule.match, r, opts, 'match')) return false;
  if (rule.exclude && matchesBlock(rule.exclude, r, opts, 'exclude')) return false;
  return true;
}

/** What a kind-and-namespace match reads of a resource. */
export type ResourceCoordinates = Pick<ResourceFacts, 'group' | 'version' | 'kind' | 'name' | 'namespace'>;

/** A match of kinds and literal namespaces only (compileKindNamespaceMatch). */
export interface KindNamespaceMatch {
  /** matchesRule's answer for the resource. */
  test(resource: ResourceCoordinates): boolean;
  /** The same answer for a core v1 Pod in `namespace`: its kind is checked once, at compile time. */
  testPod(namespace: string): boolean;
}

/**
 * matchesRule for the shape most runtime rules have — one match filter naming only `kinds` and literal
 * `namespaces`, no exclude — as one direct check, or undefined for any other shape. Same answer as
 * matchesRule without a policy namespace, user info or namespace labels (none of which such a filter
 * reads); test/unit/engine/match.test.ts compares the two.
 */
export function compileKindNamespaceMatch(rule: MatchableRule): KindNamespaceMatch | undefined {
  if (rule.exclude !== undefined || rule.match.filters.length !== 1) return undefined;
  const filter = rule.match.filters[0]!;
  const d = filter.resources;
  if (filter.hasUserInfo || d.empty) return undefined;
  if (d.name || d.names || d.annotations || d.selector || d.namespaceSelector || d.operations)
    return undefined;
  if (d.namespaces?.some(containsWildcard)) return undefined;
  const kinds = d.kinds;
  const namespaces = d.namespaces && new Set(d.namespaces);
  const kindMatches = (group: string, version: string, kind: string): boolean => {
    if (kinds === undefined) return true;
    for (const k of kinds) if (k.test(group, version, kind, '')) return true;
    return false;
  };
  const podKind = kindMatches('', 'v1', 'Pod');
  return {
    test: (r) =>
      kindMatches(r.group, r.version, r.kind) &&
      (namespaces === undefined || namespaces.has(r.kind === 'Namespace' ? r.name : r.namespace)),
    testPod: (namespace) => podKind && (namespaces === undefined || namespaces.has(namespace)),
  };
}
