/**
 * Narrows the restrict rules an event has to meet: by behavior, then by the namespace of the resource
 * the event was attributed to. The index is a conservative pre-filter computed once per policy set —
 * every rule it returns is still checked with the full Kyverno match/exclude — so it changes the cost
 * of an event, never its verdicts. With 1000 policies each naming a namespace, an event meets the few
 * rules written for its namespace instead of every rule for its behavior.
 */
import type { Behavior } from '../../events/types.js';
import type { CompiledMatch } from '../match/index.js';
import { containsWildcard } from '../wildcard.js';
import type { RuntimeRule } from './compile.js';

/** A rule plus its position among all rules, so lists from different buckets merge in policy order. */
interface IndexedRule {
  readonly ordinal: number;
  readonly rule: RuntimeRule;
}

/** The rules of one behavior, split by the namespaces they can apply to; each list in policy order. */
interface BehaviorBucket {
  /** Every rule of the behavior (for Namespace objects, which the namespace index does not cover). */
  readonly all: readonly RuntimeRule[];
  /** Rules that can apply in any namespace: what a namespace no policy names meets. */
  readonly anyNamespace: readonly RuntimeRule[];
  /**
   * Per namespace named by some rule: its own rules merged with the any-namespace ones. Built once,
   * so an event allocates nothing here; the size is bounded by the policies, not by the events.
   */
  readonly byNamespace: ReadonlyMap<string, readonly RuntimeRule[]>;
}

const NONE: readonly RuntimeRule[] = [];

export class RuleIndex {
  private readonly buckets = new Map<Behavior, BehaviorBucket>();

  constructor(rules: readonly RuntimeRule[]) {
    const draft = new Map<
      Behavior,
      { all: IndexedRule[]; anyNamespace: IndexedRule[]; specific: Map<string, IndexedRule[]> }
    >();
    rules.forEach((rule, ordinal) => {
      const namespaces = possibleNamespaces(rule);
      for (const behavior of rule.behaviors) {
        let bucket = draft.get(behavior);
        if (!bucket) {
          bucket = { all: [], anyNamespace: [], specific: new Map() };
          draft.set(behavior, bucket);
        }
        bucket.all.push({ ordinal, rule });
        if (namespaces === undefined) {
          bucket.anyNamespace.push({ ordinal, rule });
          continue;
        }
        for (const ns of namespaces) {
          const list = bucket.specific.get(ns);
          if (list) list.push({ ordinal, rule });
          else bucket.specific.set(ns, [{ ordinal, rule }]);
        }
      }
    });
    for (const [behavior, { all, anyNamespace, specific }] of draft) {
      const byNamespace = new Map<string, RuntimeRule[]>();
      for (const [ns, list] of specific) byNamespace.set(ns, merge(list, anyNamespace));
      this.buckets.set(behavior, { all: rulesOf(all), anyNamespace: rulesOf(anyNamespace), byNamespace });
    }
  }

  /** True when some rule restricts the behavior: events of other behaviors need no attribution. */
  has(behavior: Behavior): boolean {
    return this.buckets.has(behavior);
  }

  /**
   * The rules that can apply to a resource of `kind` in `namespace` ("" for cluster-scoped), in
   * policy order. For a Namespace object Kyverno's `namespaces` filter reads the object's own name,
   * so those get the whole behavior list rather than a namespace lookup.
   */
  candidates(behavior: Behavior, kind: string, namespace: string): readonly RuntimeRule[] {
    const bucket = this.buckets.get(behavior);
    if (!bucket) return NONE;
    if (kind === 'Namespace') return bucket.all;
    return bucket.byNamespace.get(namespace) ?? bucket.anyNamespace;
  }
}

function rulesOf(list: readonly IndexedRule[]): RuntimeRule[] {
  return list.map((entry) => entry.rule);
}

/** Merges two ordinal-sorted lists into policy order, so verdict order does not depend on the index. */
function merge(a: readonly IndexedRule[], b: readonly IndexedRule[]): RuntimeRule[] {
  const out: RuntimeRule[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    if (a[i]!.ordinal < b[j]!.ordinal) out.push(a[i++]!.rule);
    else out.push(b[j++]!.rule);
  }
  while (i < a.length) out.push(a[i++]!.rule);
  while (j < b.length) out.push(b[j++]!.rule);
  return out;
}

/**
 * The namespaces a rule can apply to (for resources other than Namespace objects), or undefined when
 * it cannot be narrowed to literal names. A superset is always safe: the full match runs afterwards.
 */
export function possibleNamespaces(rule: RuntimeRule): ReadonlySet<string> | undefined {
  const fromMatch = matchNamespaces(rule.compiled.match);
  // A namespaced RuntimePolicy governs only its own namespace.
  if (rule.policyNamespace === undefined) return fromMatch;
  if (fromMatch === undefined) return new Set([rule.policyNamespace]);
  return fromMatch.has(rule.policyNamespace) ? new Set([rule.policyNamespace]) : new Set();
}

/** Literal namespaces a match block can accept; undefined = any. Exclude only removes, so it is ignored. */
function matchNamespaces(match: CompiledMatch): Set<string> | undefined {
  const perFilter = match.filters.map((f) => literalNamespaces(f.resources.namespaces));
  if (perFilter.length === 0) return undefined;
  if (match.mode === 'all') {
    // Every filter must match, so any one literal filter bounds the rule: take the smallest.
    let best: Set<string> | undefined;
    for (const set of perFilter) if (set && (!best || set.size < best.size)) best = set;
    return best;
  }
  // any / legacy: some filter must match, so the union — unbounded if one filter is.
  const union = new Set<string>();
  for (const set of perFilter) {
    if (!set) return undefined;
    for (const ns of set) union.add(ns);
  }
  return union;
}

function literalNamespaces(namespaces: readonly string[] | undefined): Set<string> | undefined {
  if (!namespaces || namespaces.some(containsWildcard)) return undefined;
  return new Set(namespaces);
}
