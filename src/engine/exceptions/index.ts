/**
 * Which PolicyException, if any, exempts one rule for one resource. Pure: the caller hands in the
 * resource's match facts and lazily built contexts; nothing here reads the event except through them.
 *
 * Kyverno semantics: an exception names a policy (and rules); it applies when its `match` selects the
 * resource and its `conditions` / CEL `matchConditions` hold. Scope (not Kyverno's default, which lets a
 * namespaced exception reach every namespace): an exception applies only to resources in its own
 * namespace, unless its namespace is one of `clusterWideNamespaces` (Kyverno's `--exceptionNamespace`)
 * or it has none (a local file). Whoever may create exceptions in a namespace can then exempt only
 * that namespace's pods, never a Node or another tenant.
 */
import type { CompiledException } from '../api/compiled-exception.js';
import { matchesBlock, resourceFacts, type MatchOptions, type ResourceFacts } from '../match/index.js';
import type { RuleResult } from '../validate/result.js';

export type { CompiledException, ExceptionRef } from '../api/compiled-exception.js';

/** The policy rule a result is about. */
export interface ExceptionTarget {
  policyKind: string;
  policyName: string;
  policyNamespace?: string;
  rule: string;
}

/** The resource and its contexts; the contexts are only built when an exception needs them. */
export interface ExceptionSubject {
  facts: ResourceFacts;
  matchOptions: MatchOptions;
  /** The Kyverno variable context (`request.object`, `event`…) for v2 `conditions`. */
  context(): Record<string, unknown>;
  /** The CEL activation (`object`, `event`, `namespaceObject`) for CEL `matchConditions`. */
  celActivation(): Record<string, unknown>;
}

export interface ExceptionScope {
  /**
   * Namespaces whose exceptions apply to resources in every namespace and to Nodes. `'*'` makes every
   * exception cluster-wide (Kyverno's default, used for Kyverno CLI test files).
   */
  clusterWideNamespaces?: readonly string[];
}

export interface ExceptionHit {
  exception: CompiledException;
}

/** A condition or CEL error in an exception: the exception does not apply (the rule's result stands). */
export interface ExceptionError {
  exception: CompiledException;
  message: string;
}

/** Policy key as exceptions spell it: `name`, or `namespace/name` for a namespaced policy. */
export function policyKey(name: string, namespace: string | undefined): string {
  return namespace !== undefined && namespace !== '' ? `${namespace}/${name}` : name;
}

/**
 * The loaded exceptions, indexed by the policy they name. Mutable (replace) so that a cluster host can
 * swap exceptions without rebuilding its engine; evaluation is synchronous, so a swap never lands
 * mid-event.
 */
export class ExceptionSet {
  private byPolicy = new Map<string, CompiledException[]>();
  private count = 0;
  private readonly everywhere: boolean;
  private readonly wide: ReadonlySet<string>;

  constructor(exceptions: readonly CompiledException[] = [], scope: ExceptionScope = {}) {
    const wide = scope.clusterWideNamespaces ?? [];
    this.everywhere = wide.includes('*');
    this.wide = new Set(wide);
    this.replace(exceptions);
  }

  get size(): number {
    return this.count;
  }

  replace(exceptions: readonly CompiledException[]): void {
    const next = new Map<string, CompiledException[]>();
    for (const e of exceptions)
      for (const key of new Set(e.refs.map((r) => r.policy))) {
        let list = next.get(key);
        if (!list) next.set(key, (list = []));
        list.push(e);
      }
    this.byPolicy = next;
    this.count = exceptions.length;
  }

  /** True when some exception names the policy: the per-event cost of a policy nobody exempts is one lookup. */
  names(policyName: string, policyNamespace?: string): boolean {
    return this.count > 0 && this.byPolicy.has(policyKey(policyName, policyNamespace));
  }

  /** The first exception (in load order) that exempts the target for the subject. */
  find(
    target: ExceptionTarget,
    subject: ExceptionSubject,
    onError?: (error: ExceptionError) => void,
  ): ExceptionHit | undefined {
    if (this.count === 0) return undefined;
    const candidates = this.byPolicy.get(policyKey(target.policyName, target.policyNamespace));
    if (!candidates) return undefined;
    for (const exception of candidates) {
      if (!refersTo(exception, target)) continue;
      if (!this.inScope(exception, subject.facts)) continue;
      try {
        if (applies(exception, subject)) return { exception };
      } catch (error) {
        onError?.({ exception, message: error instanceof Error ? error.message : String(error) });
      }
    }
    return undefined;
  }

  private inScope(exception: CompiledException, facts: ResourceFacts): boolean {
    if (this.everywhere || exception.namespace === undefined) return true;
    if (this.wide.has(exception.namespace)) return true;
    return facts.namespace !== '' && facts.namespace === exception.namespace;
  }
}

function refersTo(exception: CompiledException, target: ExceptionTarget): boolean {
  const key = policyKey(target.policyName, target.policyNamespace);
  return exception.refs.some(
    (ref) =>
      ref.policy === key &&
      (ref.kind === undefined || ref.kind === target.policyKind) &&
      (ref.rules === undefined || ref.rules.some((r) => r.test(target.rule))),
  );
}

function applies(exception: CompiledException, subject: ExceptionSubject): boolean {
  if (exception.match && !matchesBlock(exception.match, subject.facts, subject.matchOptions, 'match'))
    return false;
  if (exception.conditions && !exception.conditions.evaluate(subject.context()).result) return false;
  if (exception.matchConditions.length > 0) {
    const activation = subject.celActivation();
    for (const c of exception.matchConditions) if (c.program.evaluate(activation) !== true) return false;
  }
  return true;
}

/** Kyverno's skip message for a rule an exception exempts. */
export function exceptionSkipMessage(exception: CompiledException): string {
  return `rule is skipped due to policy exception ${policyKey(exception.name, exception.namespace)}`;
}

/**
 * Exceptions over admission-style results (`apply -r`, Kyverno CLI test files): a rule that applied
 * (any result but skip) and that an exception exempts becomes `skip`, as Kyverno reports it.
 */
export function exemptResults(
  results: RuleResult[],
  policyKind: string,
  resource: Record<string, unknown>,
  exceptions: ExceptionSet,
  options: { namespaceLabels?: Readonly<Record<string, string>>; operation?: string } = {},
): RuleResult[] {
  if (exceptions.size === 0) return results;
  const facts = resourceFacts(resource);
  const namespaceObject =
    facts.namespace !== ''
      ? {
          apiVersion: 'v1',
          kind: 'Namespace',
          metadata: { name: facts.namespace, labels: options.namespaceLabels ?? {} },
        }
      : null;
  const subject: ExceptionSubject = {
    facts,
    matchOptions: options.namespaceLabels ? { namespaceLabels: options.namespaceLabels } : {},
    context: () => ({
      request: {
        object: resource,
        operation: options.operation ?? 'CREATE',
        namespace: facts.namespace,
        name: facts.name,
        kind: { kind: facts.kind },
      },
    }),
    celActivation: () => ({ object: resource, namespaceObject }),
  };
  return results.map((r) => {
    if (r.status === 'skip' || !exceptions.names(r.policy, r.policyNamespace)) return r;
    const hit = exceptions.find(
      {
        policyKind,
        policyName: r.policy,
        rule: r.rule,
        ...(r.policyNamespace !== undefined ? { policyNamespace: r.policyNamespace } : {}),
      },
      subject,
    );
    if (!hit) return r;
    return {
      ...r,
      status: 'skip',
      message: exceptionSkipMessage(hit.exception),
      exception: policyKey(hit.exception.name, hit.exception.namespace),
    };
  });
}
