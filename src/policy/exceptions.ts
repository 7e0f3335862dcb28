/**
 * PolicyException documents → CompiledException. Two kinds, as Kyverno has them:
 *
 *   kyverno.io/v2 PolicyException: spec.exceptions[{policyName, ruleNames}], spec.match (any/all of
 *     resource filters), spec.conditions; spec.podSecurity and spec.background are accepted and have
 *     no meaning for runtime rules.
 *   policies.kyverno.io PolicyException (CEL): spec.policyRefs[{name, kind}], spec.matchConditions.
 *
 * Every problem is a CompileIssue with its JSON path (the loader turns it into file:line:col). Hand
 * written rather than a JSON Schema: the checks are few, and each needs its own message.
 */
import { compileCel } from '../engine/cel/index.js';
import { compileConditions, ConditionCompileError } from '../engine/conditions/index.js';
import { compileMatch } from '../engine/match/index.js';
import { compileWildcard } from '../engine/wildcard.js';
import type { CompiledException, ExceptionRef } from '../engine/api/compiled-exception.js';
import type { CompileIssue } from './compile.js';
import { suggest } from './suggest.js';

type Raw = Record<string, unknown>;
const isObj = (v: unknown): v is Raw => v !== null && typeof v === 'object' && !Array.isArray(v);
const errText = (e: unknown): string => (e instanceof Error ? e.message : String(e));

export const EXCEPTION_KIND = 'PolicyException';
/** API versions of Kyverno's two exception kinds. */
export const EXCEPTION_VERSIONS: Record<string, 'kyverno' | 'cel'> = {
  'kyverno.io/v2': 'kyverno',
  'kyverno.io/v2beta1': 'kyverno',
  'kyverno.io/v2alpha1': 'kyverno',
  'policies.kyverno.io/v1': 'cel',
  'policies.kyverno.io/v1beta1': 'cel',
  'policies.kyverno.io/v1alpha1': 'cel',
};

/** Policy kinds that live in a namespace: a CEL exception's bare name refers to its own namespace. */
const NAMESPACED_KINDS = new Set([
  'RuntimePolicy',
  'NamespacedRuntimeValidatingPolicy',
  'Policy',
  'NamespacedValidatingPolicy',
]);

export function isExceptionDocument(value: Raw): boolean {
  return (
    value.kind === EXCEPTION_KIND &&
    typeof value.apiVersion === 'string' &&
    value.apiVersion in EXCEPTION_VERSIONS
  );
}

function unknownKeys(
  obj: Raw,
  allowed: readonly string[],
  path: (string | number)[],
  issues: CompileIssue[],
): void {
  for (const key of Object.keys(obj)) {
    if (allowed.includes(key)) continue;
    const hint = suggest(key, allowed);
    issues.push({
      path: [...path, key],
      target: 'key',
      message: hint
        ? `unknown field \`${key}\`, did you mean \`${hint}\`?`
        : `unknown field \`${key}\` (allowed: ${allowed.join(', ')})`,
    });
  }
}

function nonEmptyString(v: unknown): v is string {
  return typeof v === 'string' && v.trim() !== '';
}

/** Compiles one exception document; `issues` collects every problem (an exception with issues is not used). */
export function compileException(
  value: Raw,
  source: { file: string; line: number },
  issues: CompileIssue[],
): CompiledException | undefined {
  const flavour = EXCEPTION_VERSIONS[value.apiVersion as string]!;
  const md = isObj(value.metadata) ? value.metadata : {};
  const name = md.name;
  if (!nonEmptyString(name))
    issues.push({ path: ['metadata'], target: 'key', message: 'metadata.name is required' });
  const namespace = nonEmptyString(md.namespace) ? md.namespace : undefined;
  const spec = value.spec;
  if (!isObj(spec)) {
    issues.push({ path: ['spec'], target: 'key', message: 'spec is required' });
    return undefined;
  }
  const out: CompiledException = {
    apiVersion: value.apiVersion as string,
    flavour,
    name: typeof name === 'string' ? name : '',
    source,
    refs: [],
    matchConditions: [],
  };
  if (namespace !== undefined) out.namespace = namespace;
  const before = issues.length;
  if (flavour === 'kyverno') compileV2(spec, out, issues);
  else compileCelException(spec, out, issues);
  return issues.length === before && nonEmptyString(name) ? out : undefined;
}

function compileV2(spec: Raw, out: CompiledException, issues: CompileIssue[]): void {
  unknownKeys(spec, ['exceptions', 'match', 'conditions', 'podSecurity', 'background'], ['spec'], issues);
  const list = spec.exceptions;
  if (!Array.isArray(list) || list.length === 0) {
    issues.push({
      path: ['spec', 'exceptions'],
      target: 'key',
      message: 'spec.exceptions needs at least one {policyName, ruleNames}',
    });
  } else {
    list.forEach((e, i) => {
      const at = ['spec', 'exceptions', i];
      if (!isObj(e)) {
        issues.push({ path: at, target: 'value', message: 'an exception entry is {policyName, ruleNames}' });
        return;
      }
      unknownKeys(e, ['policyName', 'ruleNames'], at, issues);
      if (!nonEmptyString(e.policyName)) {
        issues.push({ path: [...at, 'policyName'], target: 'key', message: 'policyName is required' });
        return;
      }
      const rules = Array.isArray(e.ruleNames) ? e.ruleNames : undefined;
      if (!rules || rules.length === 0 || !rules.every(nonEmptyString)) {
        issues.push({
          path: [...at, 'ruleNames'],
          target: rules ? 'value' : 'key',
          message: 'ruleNames must list at least one rule name (wildcards allowed)',
        });
        return;
      }
      out.refs.push({ policy: e.policyName, rules: rules.map((r) => compileWildcard(r)) });
    });
  }
  const match = spec.match;
  if (!isObj(match)) {
    issues.push({
      path: ['spec', 'match'],
      target: 'key',
      message: 'spec.match is required (any or all of resource filters)',
    });
  } else {
    unknownKeys(match, ['any', 'all'], ['spec', 'match'], issues);
    for (const side of ['any', 'all'] as const) {
      const filters = match[side];
      if (filters === undefined) continue;
      if (!Array.isArray(filters)) {
        issues.push({
          path: ['spec', 'match', side],
          target: 'value',
          message: `match.${side} must be a list`,
        });
        continue;
      }
      filters.forEach((f, i) => {
        const at = ['spec', 'match', side, i];
        if (!isObj(f)) return;
        // A runtime event has no requester: user filters would be ignored, widening the exception.
        for (const key of ['subjects', 'roles', 'clusterRoles'])
          if (f[key] !== undefined)
            issues.push({
              path: [...at, key],
              target: 'key',
              message: `${key} cannot be checked on a runtime event (no requester); it would widen the exception`,
            });
        unknownKeys(f, ['resources', 'subjects', 'roles', 'clusterRoles'], at, issues);
      });
    }
    if (!Array.isArray(match.any) && !Array.isArray(match.all))
      issues.push({ path: ['spec', 'match'], target: 'key', message: 'spec.match needs `any` or `all`' });
    else out.match = compileMatch(match);
  }
  if (spec.conditions !== undefined && spec.conditions !== null) {
    try {
      out.conditions = compileConditions(spec.conditions, { basePath: '/spec/conditions' });
    } catch (e) {
      const at = e instanceof ConditionCompileError ? e.path.split('/').filter((s) => s !== '') : [];
      issues.push({
        path: ['spec', 'conditions', ...at],
        target: 'value',
        message: `invalid conditions: ${errText(e)}`,
      });
    }
  }
}

function compileCelException(spec: Raw, out: CompiledException, issues: CompileIssue[]): void {
  unknownKeys(spec, ['policyRefs', 'matchConditions'], ['spec'], issues);
  const refs = spec.policyRefs;
  if (!Array.isArray(refs) || refs.length === 0) {
    issues.push({
      path: ['spec', 'policyRefs'],
      target: 'key',
      message: 'spec.policyRefs needs at least one {name, kind}',
    });
  } else {
    refs.forEach((r, i) => {
      const at = ['spec', 'policyRefs', i];
      if (!isObj(r) || !nonEmptyString(r.name) || !nonEmptyString(r.kind)) {
        issues.push({ path: at, target: 'value', message: 'a policy reference is {name, kind}' });
        return;
      }
      unknownKeys(r, ['name', 'kind'], at, issues);
      const ref: ExceptionRef = { policy: r.name, kind: r.kind };
      if (NAMESPACED_KINDS.has(r.kind) && !r.name.includes('/') && out.namespace !== undefined)
        ref.policy = `${out.namespace}/${r.name}`;
      out.refs.push(ref);
    });
  }
  const conditions = spec.matchConditions;
  if (conditions === undefined || conditions === null) return;
  if (!Array.isArray(conditions)) {
    issues.push({
      path: ['spec', 'matchConditions'],
      target: 'value',
      message: 'matchConditions must be a list',
    });
    return;
  }
  conditions.forEach((c, i) => {
    const at = ['spec', 'matchConditions', i];
    if (!isObj(c) || !nonEmptyString(c.expression)) {
      issues.push({ path: at, target: 'value', message: 'a match condition is {name, expression}' });
      return;
    }
    unknownKeys(c, ['name', 'expression'], at, issues);
    try {
      out.matchConditions.push({
        name: typeof c.name === 'string' ? c.name : '',
        program: compileCel(c.expression),
      });
    } catch (e) {
      issues.push({
        path: [...at, 'expression'],
        target: 'value',
        message: `invalid CEL expression: ${errText(e)}`,
      });
    }
  });
}

/**
 * Exceptions naming a policy that is not loaded: a warning, as Kyverno gives (the policy may come
 * later, or from another source).
 */
export function unknownPolicyReferences(
  exceptions: readonly CompiledException[],
  policies: readonly { name: string; namespace?: string; kind: string }[],
): { exception: CompiledException; policy: string }[] {
  const known = new Set(policies.map((p) => (p.namespace ? `${p.namespace}/${p.name}` : p.name)));
  const out: { exception: CompiledException; policy: string }[] = [];
  for (const e of exceptions)
    for (const ref of e.refs) if (!known.has(ref.policy)) out.push({ exception: e, policy: ref.policy });
  return out;
}
