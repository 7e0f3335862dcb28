/**
 * Turns a schema-valid policy document into a CompiledPolicy: match/exclude, patterns, templates,
 * conditions and CEL are compiled here, once. Every problem is returned with the JSON path it belongs to,
 * so the loader can point at file:line:col; compile never throws.
 */
import type { ActionSpec } from '../contracts/actions.js';
import {
  compileCel,
  compileCelVariables,
  RUNTIME_CEL_VARIABLES,
  type CelCompileOptions,
} from '../engine/cel/index.js';
import {
  compileConditions,
  ConditionCompileError,
  type CompiledConditions,
} from '../engine/conditions/index.js';
import { generateAutogenRules } from '../engine/autogen/index.js';
import { compileMatch } from '../engine/match/index.js';
import { compilePattern, PatternReferenceError, resolvePatternReferences } from '../engine/pattern/index.js';
import { compileQueryTemplate, compileTemplate, type Template } from '../engine/variables/index.js';
import { BEHAVIORS, isBehavior, type Behavior } from '../events/types.js';
import { suggest } from './suggest.js';
import { growingLru } from '../util/growing-lru.js';
import { compileUrlTemplate } from '../engine/runtime/context.js';
import type {
  CompiledCel,
  CompiledContextEntry,
  CompiledForeach,
  CompiledRestrict,
  CompiledRule,
  CompiledValidation,
  PatternSlot,
} from '../engine/api/compiled-policy.js';
import type { FailureAction } from '../contracts/verdict.js';

/**
 * Templates compiled from one string are identical (pure functions of the text), so policies that
 * share a message (generated policy sets often do) share one compiled template instead of a closure
 * tree each. Bounded; long texts are compiled apart rather than kept.
 */
const sharedTemplates = growingLru<string, Template>(4096);
const MAX_SHARED_TEMPLATE_LENGTH = 4096;

function compileSharedTemplate(value: unknown): Template {
  if (typeof value !== 'string' || value.length > MAX_SHARED_TEMPLATE_LENGTH) return compileTemplate(value);
  let t = sharedTemplates.get(value);
  if (t === undefined) {
    t = compileTemplate(value);
    sharedTemplates.set(value, t);
  }
  return t;
}

type Raw = Record<string, unknown>;
type Path = (string | number)[];
export interface CompileIssue {
  path: Path;
  target: 'key' | 'value';
  message: string;
}

const isObj = (v: unknown): v is Raw => v !== null && typeof v === 'object' && !Array.isArray(v);
const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const errText = (e: unknown): string => (e instanceof Error ? e.message : String(e));

export const RUNTIME_KINDS = ['ClusterRuntimePolicy', 'RuntimePolicy'] as const;
export const KYVERNO_KINDS = ['ClusterPolicy', 'Policy'] as const;

/** Compiles the rules of one policy. `issues` collects every problem; a policy with issues is not used. */
export class RuleCompiler {
  readonly issues: CompileIssue[] = [];
  constructor(private readonly runtime: boolean) {}

  /**
   * Runtime restrict rules (their cel, its variables, the rule's celPreconditions) read a known set of
   * variables; a typo there (`evnt.x`) would otherwise compile, fail on every event, and never fire.
   */
  private get celOptions(): CelCompileOptions {
    return this.runtime ? { declared: RUNTIME_CEL_VARIABLES } : {};
  }

  private guard<T>(path: Path, what: string, fn: () => T): T | undefined {
    try {
      return fn();
    } catch (e) {
      this.issues.push({ path, target: 'value', message: `invalid ${what}: ${errText(e)}` });
      return undefined;
    }
  }

  private template(value: unknown, path: Path, what: string): Template | undefined {
    return this.guard(path, what, () => compileSharedTemplate(value));
  }

  private hasVariables(value: unknown): boolean {
    return JSON.stringify(value ?? null).includes('{{');
  }

  private pattern(value: unknown, path: Path): PatternSlot | undefined {
    if (this.hasVariables(value)) {
      // Kyverno resolves `$(...)` references before `{{ }}` variables, so a `$(` in a value is data.
      let resolved: unknown;
      try {
        resolved = resolvePatternReferences(value);
      } catch (e) {
        if (!(e instanceof PatternReferenceError)) throw e;
        // compilePattern turns the unresolvable reference into the rule error Kyverno reports.
        const failing = compilePattern(value);
        return { kind: 'static', pattern: failing };
      }
      const template = this.template(resolved, path, 'pattern');
      return template && { kind: 'template', template };
    }
    const pattern = this.guard(path, 'pattern', () => compilePattern(value));
    return pattern && { kind: 'static', pattern };
  }

  private conditions(value: unknown, path: Path): CompiledConditions | undefined {
    if (value === undefined || value === null) return undefined;
    if (isObj(value)) {
      for (const key of Object.keys(value)) {
        if (key === 'any' || key === 'all') continue;
        const hint = suggest(key, ['any', 'all']);
        this.issues.push({
          path: [...path, key],
          target: 'key',
          message: hint
            ? `unknown field \`${key}\`, did you mean \`${hint}\`?`
            : `unknown field \`${key}\` (allowed: any, all)`,
        });
      }
    } else if (!Array.isArray(value)) {
      this.issues.push({
        path,
        target: 'value',
        message: 'conditions must be {any, all} or a list of conditions',
      });
      return undefined;
    }
    try {
      return compileConditions(value);
    } catch (e) {
      // A ConditionCompileError names the failing part (`/all/0/key`): point at it, not at the block.
      const at = e instanceof ConditionCompileError ? e.path.split('/').filter((s) => s !== '') : [];
      this.issues.push({
        path: [...path, ...at],
        target: 'value',
        message: `invalid conditions: ${errText(e)}`,
      });
      return undefined;
    }
  }

  private context(value: unknown, path: Path): CompiledContextEntry[] {
    if (!Array.isArray(value)) return [];
    return value.filter(isObj).map((entry, i) => {
      const name = typeof entry.name === 'string' ? entry.name : '';
      const at = [...path, i];
      if (isObj(entry.variable)) {
        const v = entry.variable;
        const out: CompiledContextEntry = { name, type: 'variable' };
        if (v.value !== undefined)
          out.value = this.template(v.value, [...at, 'variable', 'value'], 'variable value');
        if (typeof v.jmesPath === 'string' && v.jmesPath.trim() !== '') {
          const text = v.jmesPath;
          out.jmesPath = this.guard([...at, 'variable', 'jmesPath'], 'jmesPath', () =>
            compileQueryTemplate(text),
          );
        }
        if (v.default !== undefined)
          out.default = this.template(v.default, [...at, 'variable', 'default'], 'default');
        return out;
      }
      const type = (['configMap', 'apiCall', 'imageRegistry', 'globalReference'] as const).find(
        (t) => entry[t] !== undefined,
      );
      const out: CompiledContextEntry = { name, type: type ?? 'unknown' };
      if (this.runtime && type !== undefined) this.externalContext(entry, type, at, out);
      return out;
    });
  }

  /** configMap / apiCall / globalReference of a runtime rule, compiled for the event path. */
  private externalContext(
    entry: Raw,
    type: 'configMap' | 'apiCall' | 'imageRegistry' | 'globalReference',
    at: Path,
    out: CompiledContextEntry,
  ): void {
    const body = entry[type];
    const where = [...at, type];
    if (!isObj(body)) {
      this.issues.push({ path: where, target: 'value', message: `${type} must be an object` });
      return;
    }
    const jmesPath = (): CompiledContextEntry['jmesPath'] => {
      if (typeof body.jmesPath !== 'string' || body.jmesPath.trim() === '') return undefined;
      const text = body.jmesPath;
      return this.guard([...where, 'jmesPath'], 'jmesPath', () => compileQueryTemplate(text));
    };
    if (type === 'configMap') {
      const name = this.template(body.name ?? '', [...where, 'name'], 'configMap name');
      const namespace = this.template(body.namespace ?? '', [...where, 'namespace'], 'configMap namespace');
      if (typeof body.name !== 'string' || body.name === '')
        this.issues.push({ path: where, target: 'key', message: 'configMap.name is required' });
      else if (name && namespace) out.configMap = { name, namespace };
    } else if (type === 'apiCall') {
      if (body.service !== undefined)
        this.issues.push({
          path: [...where, 'service'],
          target: 'key',
          message:
            'apiCall.service is not supported on runtime rules (no calls to services from the event path); use urlPath',
        });
      if (body.method !== undefined && body.method !== 'GET')
        this.issues.push({
          path: [...where, 'method'],
          target: 'value',
          message: 'only GET apiCalls are supported',
        });
      if (typeof body.urlPath !== 'string' || !body.urlPath.startsWith('/'))
        this.issues.push({
          path: where,
          target: 'key',
          message: 'apiCall.urlPath must be an API server path (/api/…, /apis/…)',
        });
      else {
        const urlPath = this.guard([...where, 'urlPath'], 'urlPath', () =>
          compileUrlTemplate(body.urlPath as string),
        );
        const q = jmesPath();
        if (urlPath) out.apiCall = { urlPath, ...(q ? { jmesPath: q } : {}) };
      }
    } else if (type === 'globalReference') {
      if (typeof body.name !== 'string' || body.name === '')
        this.issues.push({ path: where, target: 'key', message: 'globalReference.name is required' });
      else {
        const q = jmesPath();
        out.globalReference = { name: body.name, ...(q ? { jmesPath: q } : {}) };
      }
    } else {
      this.issues.push({
        path: where,
        target: 'key',
        message: 'imageRegistry context entries are not supported on runtime rules',
      });
    }
  }

  private cel(value: unknown, path: Path, options: CelCompileOptions = {}): CompiledCel | undefined {
    if (!isObj(value)) return undefined;
    const exprs = Array.isArray(value.expressions) ? value.expressions.filter(isObj) : [];
    const vars = Array.isArray(value.variables) ? value.variables.filter(isObj) : [];
    const expressions: CompiledCel['expressions'] = [];
    exprs.forEach((e, i) => {
      const expression = str(e.expression);
      const program = this.guard([...path, 'expressions', i, 'expression'], 'CEL expression', () =>
        compileCel(expression, options),
      );
      if (!program) return;
      const messageExpression =
        typeof e.messageExpression === 'string'
          ? this.guard([...path, 'expressions', i, 'messageExpression'], 'CEL messageExpression', () =>
              compileCel(e.messageExpression as string, options),
            )
          : undefined;
      expressions.push({
        expression,
        program,
        ...(typeof e.message === 'string' ? { message: e.message } : {}),
        ...(messageExpression ? { messageExpression } : {}),
      });
    });
    // Each variable is checked at its own expression first, so an error points at the line that has it.
    const varsOk = vars.every(
      (v, i) =>
        this.guard([...path, 'variables', i, 'expression'], 'CEL variable', () =>
          compileCel(str(v.expression), options),
        ) !== undefined,
    );
    const variables =
      vars.length && varsOk
        ? this.guard([...path, 'variables'], 'CEL variables', () => compileCelVariables(vars, options))
        : undefined;
    return { expressions, ...(variables ? { variables } : {}) };
  }

  private foreach(value: unknown, path: Path): CompiledForeach[] {
    if (!Array.isArray(value)) return [];
    const out: CompiledForeach[] = [];
    value.forEach((f, i) => {
      if (!isObj(f)) return;
      const at = [...path, i];
      const list = this.guard([...at, 'list'], 'foreach list', () => compileQueryTemplate(str(f.list)));
      if (!list) return;
      const item: CompiledForeach = { list, context: this.context(f.context, [...at, 'context']) };
      if (typeof f.elementScope === 'boolean') item.elementScope = f.elementScope;
      const pre = this.conditions(f.preconditions, [...at, 'preconditions']);
      if (pre) item.preconditions = pre;
      if (f.pattern !== undefined) item.pattern = this.pattern(f.pattern, [...at, 'pattern']);
      if (Array.isArray(f.anyPattern)) {
        item.anyPattern = f.anyPattern
          .map((p, j) => this.pattern(p, [...at, 'anyPattern', j]))
          .filter((p): p is PatternSlot => !!p);
      }
      if (isObj(f.deny)) item.deny = this.conditions(f.deny.conditions ?? {}, [...at, 'deny', 'conditions']);
      if (Array.isArray(f.foreach)) item.foreach = this.foreach(f.foreach, [...at, 'foreach']);
      out.push(item);
    });
    return out;
  }

  private validation(v: Raw, path: Path): CompiledValidation {
    const out: CompiledValidation = {};
    if (typeof v.message === 'string')
      out.message = this.template(v.message, [...path, 'message'], 'message');
    if (isObj(v.deny)) {
      out.deny = this.conditions(v.deny.conditions ?? {}, [...path, 'deny', 'conditions']);
    } else if (v.pattern !== undefined) {
      out.pattern = this.pattern(v.pattern, [...path, 'pattern']);
    } else if (Array.isArray(v.anyPattern)) {
      out.anyPattern = v.anyPattern
        .map((p, i) => this.pattern(p, [...path, 'anyPattern', i]))
        .filter((p): p is PatternSlot => !!p);
    } else if (Array.isArray(v.foreach)) {
      out.foreach = this.foreach(v.foreach, [...path, 'foreach']);
    } else if (v.cel !== undefined) {
      out.cel = this.cel(v.cel, [...path, 'cel']);
    } else {
      const kind = ['podSecurity', 'manifests', 'assert'].find((k) => v[k] !== undefined);
      if (kind) out.unsupported = kind;
      else
        this.issues.push({
          path,
          target: 'value',
          message: 'validate needs one of pattern, anyPattern, deny, foreach, cel',
        });
    }
    return out;
  }

  private restrict(r: Raw, path: Path): CompiledRestrict | undefined {
    const behaviors = new Set<Behavior>();
    const addBehavior = (b: unknown, at: Path): void => {
      if (isBehavior(b)) behaviors.add(b);
      else {
        const hint = typeof b === 'string' ? suggest(b, BEHAVIORS) : undefined;
        this.issues.push({
          path: at,
          target: 'value',
          message:
            `unknown behavior ${JSON.stringify(b)}` +
            (hint ? `, did you mean \`${hint}\`?` : ` (known: ${BEHAVIORS.join(', ')})`),
        });
      }
    };
    if (Array.isArray(r.behaviors)) r.behaviors.forEach((b, i) => addBehavior(b, [...path, 'behaviors', i]));
    const patternBehaviors = isObj(r.pattern) ? r.pattern.behavior : undefined;
    if (Array.isArray(patternBehaviors)) {
      patternBehaviors.forEach((b, i) => addBehavior(b, [...path, 'pattern', 'behavior', i]));
    } else if (typeof patternBehaviors === 'string') {
      addBehavior(patternBehaviors, [...path, 'pattern', 'behavior']);
    }
    if (behaviors.size === 0 && !this.issues.some((i) => i.path.join('.').startsWith(path.join('.')))) {
      this.issues.push({
        path,
        target: 'key',
        message:
          'a restrict rule must name its behaviors: set restrict.behaviors or a `behavior` list in restrict.pattern',
      });
    }
    const out: CompiledRestrict = {
      behaviors: [...behaviors],
      actions: (Array.isArray(r.actions) ? r.actions : []) as ActionSpec[],
    };
    if (typeof r.message === 'string')
      out.message = this.template(r.message, [...path, 'message'], 'message');
    if (r.pattern !== undefined) {
      // The pattern's `behavior` list is a set (any listed behavior triggers the rule), read above; left
      // in the pattern, Kyverno's first-element array rule would silently ignore all but one.
      const { behavior: _behaviors, ...pattern } = isObj(r.pattern) ? r.pattern : { behavior: undefined };
      const slot = this.pattern(isObj(r.pattern) ? pattern : r.pattern, [...path, 'pattern']);
      if (slot?.kind === 'static') out.pattern = slot.pattern;
      else if (slot) out.patternTemplate = slot.template;
    }
    const conditions = this.conditions(r.conditions, [...path, 'conditions']);
    if (conditions) out.conditions = conditions;
    const cel = this.cel(r.cel, [...path, 'cel'], this.celOptions);
    if (cel) out.cel = cel;
    return out;
  }

  /**
   * `subjects`, `roles` and `clusterRoles` select by the admission request's user. Runtime events have no
   * user, so in a runtime rule they would be dropped: the rule would match (or fail to exclude) far beyond
   * what was written — under Enforce, with kill. They fail the load instead.
   */
  private userInfoFilters(raw: Raw, path: Path): void {
    for (const side of ['match', 'exclude'] as const) {
      const m = raw[side];
      if (!isObj(m)) continue;
      const filters: [Raw, Path][] = [[m, [...path, side]]];
      for (const block of ['any', 'all'] as const) {
        const list = m[block];
        if (Array.isArray(list))
          list.forEach((f, i) => {
            if (isObj(f)) filters.push([f, [...path, side, block, i]]);
          });
      }
      for (const [f, at] of filters) {
        for (const key of ['subjects', 'roles', 'clusterRoles']) {
          if (f[key] === undefined) continue;
          this.issues.push({
            path: [...at, key],
            target: 'key',
            message:
              `${side}.${key} selects by the admission request's user, which runtime events do not have: ` +
              'it would be ignored and the rule would act beyond what was written. Select with resources ' +
              '(kinds, namespaces, selectors) instead',
          });
        }
      }
    }
  }

  rule(raw: Raw, path: Path, index: number, policyAction: FailureAction): CompiledRule {
    const name = str(raw.name);
    for (const side of ['match', 'exclude'] as const) {
      const m = raw[side];
      if (isObj(m) && Array.isArray(m.any) && m.any.length > 0 && Array.isArray(m.all) && m.all.length > 0) {
        this.issues.push({
          path: [...path, side],
          target: 'key',
          message: `${side}: any and all cannot both be set`,
        });
      }
    }
    if (this.runtime) this.userInfoFilters(raw, path);
    const rule: CompiledRule = {
      name,
      index,
      raw,
      match: compileMatch(raw.match),
      context: this.context(raw.context, [...path, 'context']),
      celPreconditions: [],
      failureAction: policyAction,
    };
    if (raw.exclude !== undefined) rule.exclude = compileMatch(raw.exclude);
    const pre = this.conditions(raw.preconditions, [...path, 'preconditions']);
    if (pre) rule.preconditions = pre;
    if (Array.isArray(raw.celPreconditions)) {
      raw.celPreconditions.forEach((c, i) => {
        if (!isObj(c)) return;
        const program = this.guard([...path, 'celPreconditions', i, 'expression'], 'CEL precondition', () =>
          compileCel(str(c.expression), raw.restrict !== undefined ? this.celOptions : {}),
        );
        if (program) rule.celPreconditions.push({ name: str(c.name), program });
      });
    }
    const types = ['validate', 'restrict', 'mutate', 'generate', 'verifyImages'].filter(
      (t) => raw[t] !== undefined,
    );
    if (types.length !== 1) {
      this.issues.push({
        path,
        target: 'value',
        message:
          types.length === 0
            ? `rule \`${name}\` needs one of ${this.runtime ? 'restrict, validate' : 'validate, mutate, generate, verifyImages'}`
            : `rule \`${name}\` has more than one type: ${types.join(', ')}`,
      });
    }
    if (isObj(raw.validate)) {
      rule.validate = this.validation(raw.validate, [...path, 'validate']);
      const fa = normalizeFailureAction(raw.validate.failureAction);
      if (fa) rule.failureAction = fa;
    }
    if (raw.restrict !== undefined) {
      if (!this.runtime) {
        this.issues.push({
          path: [...path, 'restrict'],
          target: 'key',
          message: 'restrict rules need kind ClusterRuntimePolicy or RuntimePolicy',
        });
      } else if (isObj(raw.restrict)) {
        rule.restrict = this.restrict(raw.restrict, [...path, 'restrict']);
      }
    }
    for (const t of ['mutate', 'generate', 'verifyImages']) {
      if (raw[t] === undefined) continue;
      if (this.runtime)
        this.issues.push({
          path: [...path, t],
          target: 'key',
          message: `${t} rules are not supported in runtime policies`,
        });
      rule.otherType = t;
    }
    return rule;
  }

  /** Original rules followed by Kyverno's autogen rules (ClusterPolicy/Policy only). */
  rules(spec: Raw, annotations: Raw | undefined, kyverno: boolean): CompiledRule[] {
    const rawRules = Array.isArray(spec.rules) ? spec.rules.filter(isObj) : [];
    const policyAction =
      normalizeFailureAction(spec.failureAction) ??
      normalizeFailureAction(spec.validationFailureAction) ??
      'Audit';
    const seen = new Set<string>();
    const out = rawRules.map((r, i) => {
      const name = str(r.name);
      if (seen.has(name))
        this.issues.push({
          path: ['spec', 'rules', i, 'name'],
          target: 'value',
          message: `duplicate rule name \`${name}\``,
        });
      seen.add(name);
      return this.rule(r, ['spec', 'rules', i], i, policyAction);
    });
    if (kyverno) {
      for (const gen of generateAutogenRules(annotations, rawRules)) {
        const origin = out.find((r) => r.name === gen.autogenOf);
        const issuesBefore = this.issues.length;
        const compiled = this.rule(
          gen.rule,
          ['spec', 'rules', origin?.index ?? 0],
          origin?.index ?? 0,
          policyAction,
        );
        // Problems of a generated rule are the origin's problems, already reported once.
        this.issues.length = issuesBefore;
        compiled.autogen = { of: gen.autogenOf, kind: gen.kind };
        out.push(compiled);
      }
    }
    if (rawRules.length === 0)
      this.issues.push({
        path: ['spec', 'rules'],
        target: 'value',
        message: 'a policy needs at least one rule',
      });
    return out;
  }
}

export function normalizeFailureAction(v: unknown): FailureAction | undefined {
  if (typeof v !== 'string') return undefined;
  const lower = v.toLowerCase();
  if (lower === 'audit') return 'Audit';
  if (lower === 'enforce') return 'Enforce';
  return undefined;
}
