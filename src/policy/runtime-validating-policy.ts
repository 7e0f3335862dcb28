/**
 * RuntimeValidatingPolicy and NamespacedRuntimeValidatingPolicy (runtime.kyverno.io/v1alpha1):
 * Kyverno's ValidatingPolicy shape over runtime events. Lowered here into one restrict rule carrying
 * the CEL parts (CompiledRuntimeValidating), so the runtime engine, its index, its verdicts and the
 * action runner are the same as for ClusterRuntimePolicy. Every expression is parsed and
 * type-checked once, and its references (bindings, `variables.<name>`) are checked against what
 * exists, so a typo fails at load time with its position instead of erroring on every event.
 */
import type { ActionSpec } from '../contracts/actions.js';
import type { FailureAction } from '../contracts/verdict.js';
import type { CompiledPolicy, CompiledRule } from '../engine/api/compiled-policy.js';
import type {
  CompiledAuditAnnotation,
  CompiledRuntimeValidating,
  CompiledValidation,
  ParamSpec,
} from '../engine/api/compiled-validating-policy.js';
import {
  celReferences,
  compileCel,
  compileCelVariables,
  emptyFieldTree,
  mergeFieldTree,
  type CelProgram,
  type FieldTree,
} from '../engine/cel/index.js';
import { compileMatch } from '../engine/match/index.js';
import { isBehavior, type Behavior } from '../events/types.js';
import type { CompileIssue } from './compile.js';
import { suggest } from './suggest.js';
import { resourceRules } from './validating-policy.js';

export const RUNTIME_VALIDATING_KINDS = [
  'RuntimeValidatingPolicy',
  'NamespacedRuntimeValidatingPolicy',
] as const;

type Raw = Record<string, unknown>;
type Path = (string | number)[];
const isObj = (v: unknown): v is Raw => v !== null && typeof v === 'object' && !Array.isArray(v);
const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const errText = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/** What an expression of these kinds may name at top level. */
export const RUNTIME_VALIDATING_BINDINGS = [
  'event',
  'object',
  'oldObject',
  'namespaceObject',
  'request',
  'params',
  'variables',
  'behavior',
] as const;

/** CEL's type identifiers (`type(x) == string`), which parse as plain identifiers. */
const CEL_TYPE_NAMES = [
  'int',
  'uint',
  'double',
  'bool',
  'string',
  'bytes',
  'list',
  'map',
  'null_type',
  'type',
  'dyn',
];
const ALLOWED_ROOTS = new Set<string>([...RUNTIME_VALIDATING_BINDINGS, ...CEL_TYPE_NAMES]);

class Compiler {
  readonly issues: CompileIssue[] = [];
  /** The paths of `event` the expressions read (their union). */
  readonly eventFields: FieldTree = emptyFieldTree();

  private issue(path: Path, message: string, target: 'key' | 'value' = 'value'): void {
    this.issues.push({ path, target, message });
  }

  /** Compiles one expression; checks its references against the bindings and the declared variables. */
  expression(text: string, path: Path, declared: readonly string[], what: string): CelProgram | undefined {
    let program: CelProgram;
    try {
      program = compileCel(text);
    } catch (e) {
      this.issue(path, `invalid ${what}: ${errText(e)}`);
      return undefined;
    }
    let ok = true;
    try {
      const refs = celReferences(text);
      const fields = refs.fields.get('event');
      if (fields) mergeFieldTree(this.eventFields, fields);
      for (const root of refs.roots) {
        if (ALLOWED_ROOTS.has(root)) continue;
        const hint = suggest(root, RUNTIME_VALIDATING_BINDINGS);
        this.issue(
          path,
          `${what}: undeclared reference \`${root}\`` +
            (hint ? `, did you mean \`${hint}\`?` : ` (known: ${RUNTIME_VALIDATING_BINDINGS.join(', ')})`),
        );
        ok = false;
      }
      for (const name of refs.variables) {
        if (declared.includes(name)) continue;
        const hint = suggest(name, declared);
        this.issue(
          path,
          `${what}: undeclared variable \`variables.${name}\`` +
            (hint
              ? `, did you mean \`variables.${hint}\`?`
              : declared.length > 0
                ? ` (declared before this point: ${declared.join(', ')})`
                : ' (no variables are declared before this point)'),
        );
        ok = false;
      }
    } catch (e) {
      this.issue(path, `invalid ${what}: ${errText(e)}`);
      return undefined;
    }
    return ok ? program : undefined;
  }

  behaviors(spec: Raw): Behavior[] {
    const list = Array.isArray(spec.behaviors) ? spec.behaviors : [];
    const out = new Set<Behavior>();
    list.forEach((b, i) => {
      if (isBehavior(b)) out.add(b);
      else this.issue(['spec', 'behaviors', i], `unknown behavior ${JSON.stringify(b)}`);
    });
    if (list.length === 0)
      this.issue(['spec', 'behaviors'], 'a RuntimeValidatingPolicy must name its behaviors');
    return [...out];
  }

  variables(spec: Raw): { names: string[]; ok: boolean } {
    const vars = Array.isArray(spec.variables) ? spec.variables : [];
    const names: string[] = [];
    let ok = true;
    vars.forEach((v, i) => {
      if (!isObj(v)) return;
      const name = str(v.name);
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
        this.issue(
          ['spec', 'variables', i, 'name'],
          `variable name ${JSON.stringify(name)} is not a CEL identifier`,
        );
        ok = false;
      } else if (names.includes(name)) {
        this.issue(['spec', 'variables', i, 'name'], `duplicate variable \`${name}\``);
        ok = false;
      }
      // A variable may use the ones declared before it (they are bound lazily, in order).
      const program = this.expression(
        str(v.expression),
        ['spec', 'variables', i, 'expression'],
        names,
        'variable',
      );
      if (!program) ok = false;
      names.push(name);
    });
    return { names, ok };
  }

  params(spec: Raw): ParamSpec | undefined {
    if (!isObj(spec.paramKind)) {
      if (spec.paramRef !== undefined) this.issue(['spec', 'paramRef'], 'paramRef needs paramKind', 'key');
      return undefined;
    }
    const ref = isObj(spec.paramRef) ? spec.paramRef : undefined;
    if (!ref || (typeof ref.name !== 'string' && !isObj(ref.selector))) {
      this.issue(
        ['spec', ref ? 'paramRef' : 'paramKind'],
        'paramKind needs a paramRef with a name or a selector',
      );
      return undefined;
    }
    if (typeof ref.name === 'string' && isObj(ref.selector)) {
      this.issue(['spec', 'paramRef'], 'paramRef takes a name or a selector, not both');
      return undefined;
    }
    const out: ParamSpec = {
      apiVersion: str(spec.paramKind.apiVersion),
      kind: str(spec.paramKind.kind),
      notFound: ref.parameterNotFoundAction === 'Allow' ? 'Allow' : 'Deny',
    };
    if (typeof ref.name === 'string') out.name = ref.name;
    if (typeof ref.namespace === 'string' && ref.namespace !== '') out.namespace = ref.namespace;
    if (isObj(ref.selector)) out.selector = ref.selector;
    return out;
  }
}

/** Deny means Enforce (run the actions); Audit and Warn report only. */
export function runtimeValidatingMode(actions: unknown): FailureAction {
  return Array.isArray(actions) && actions.includes('Deny') ? 'Enforce' : 'Audit';
}

/**
 * Compiles a schema-valid RuntimeValidatingPolicy document. Problems go to `issues` with their JSON
 * path; the policy is returned only when there are none.
 */
export function compileRuntimeValidatingPolicy(
  doc: Raw,
  source: { file: string; line: number },
  issues: CompileIssue[],
): CompiledPolicy | undefined {
  const md = isObj(doc.metadata) ? doc.metadata : {};
  const spec = isObj(doc.spec) ? doc.spec : {};
  const kind = str(doc.kind) as (typeof RUNTIME_VALIDATING_KINDS)[number];
  const name = str(md.name);
  const c = new Compiler();
  const behaviors = c.behaviors(spec);
  const vars = c.variables(spec);
  const declared = vars.names;
  const matchConditions: { name: string; program: CelProgram }[] = [];
  (Array.isArray(spec.matchConditions) ? spec.matchConditions : []).forEach((m, i) => {
    if (!isObj(m)) return;
    const program = c.expression(
      str(m.expression),
      ['spec', 'matchConditions', i, 'expression'],
      declared,
      'matchCondition',
    );
    if (program) matchConditions.push({ name: str(m.name), program });
  });
  const validations: CompiledValidation[] = [];
  const rawValidations = Array.isArray(spec.validations) ? spec.validations : [];
  if (rawValidations.length === 0)
    c.issues.push({
      path: ['spec', 'validations'],
      target: 'value',
      message: 'a policy needs at least one validation',
    });
  rawValidations.forEach((v, i) => {
    if (!isObj(v)) return;
    const at = ['spec', 'validations', i];
    const expression = str(v.expression);
    const program = c.expression(expression, [...at, 'expression'], declared, 'validation');
    const messageExpression =
      typeof v.messageExpression === 'string'
        ? c.expression(v.messageExpression, [...at, 'messageExpression'], declared, 'messageExpression')
        : undefined;
    if (!program) return;
    validations.push({
      expression,
      program,
      ...(typeof v.message === 'string' && v.message !== '' ? { message: v.message } : {}),
      ...(messageExpression ? { messageExpression } : {}),
      ...(typeof v.reason === 'string' ? { reason: v.reason } : {}),
    });
  });
  const auditAnnotations: CompiledAuditAnnotation[] = [];
  (Array.isArray(spec.auditAnnotations) ? spec.auditAnnotations : []).forEach((a, i) => {
    if (!isObj(a)) return;
    const program = c.expression(
      str(a.valueExpression),
      ['spec', 'auditAnnotations', i, 'valueExpression'],
      declared,
      'auditAnnotation',
    );
    if (program) auditAnnotations.push({ key: str(a.key), program });
  });
  const params = c.params(spec);
  const mc = isObj(spec.matchConstraints) ? spec.matchConstraints : {};
  const rules = resourceRules(mc.resourceRules);
  if (rules.length === 0)
    c.issues.push({
      path: ['spec', 'matchConstraints', 'resourceRules'],
      target: 'value',
      message: 'matchConstraints.resourceRules needs at least one rule',
    });
  let variables;
  if (vars.ok && declared.length > 0) {
    try {
      variables = compileCelVariables(spec.variables);
    } catch (e) {
      c.issues.push({
        path: ['spec', 'variables'],
        target: 'value',
        message: `invalid variables: ${errText(e)}`,
      });
    }
  }
  if (c.issues.length > 0) {
    issues.push(...c.issues);
    return undefined;
  }
  const validating: CompiledRuntimeValidating = {
    matchKey: JSON.stringify(mc),
    resourceRules: rules,
    excludeResourceRules: resourceRules(mc.excludeResourceRules),
    ...(isObj(mc.namespaceSelector) ? { namespaceSelector: mc.namespaceSelector } : {}),
    ...(isObj(mc.objectSelector) ? { objectSelector: mc.objectSelector } : {}),
    matchConditions,
    ...(variables ? { variables } : {}),
    validations,
    auditAnnotations,
    ...(params ? { params } : {}),
    eventFields: c.eventFields,
  };
  const mode = runtimeValidatingMode(spec.validationActions);
  const actions = (Array.isArray(spec.actions) ? spec.actions : []) as ActionSpec[];
  // One rule, named after the policy: reports and verdicts keep their (policy, rule) shape.
  const rule: CompiledRule = {
    name,
    index: 0,
    raw: { name, restrict: {} },
    match: compileMatch({}),
    context: [],
    celPreconditions: [],
    failureAction: mode,
    restrict: { behaviors, actions, validating },
  };
  const namespaced = kind === 'NamespacedRuntimeValidatingPolicy';
  const namespace = typeof md.namespace === 'string' && md.namespace !== '' ? md.namespace : 'default';
  const annotations = (isObj(md.annotations) ? md.annotations : {}) as Record<string, string>;
  return {
    apiVersion: str(doc.apiVersion),
    kind,
    name,
    ...(namespaced ? { namespace } : {}),
    document: doc,
    source,
    failureAction: mode,
    background: true,
    annotations,
    rules: [rule],
  };
}
