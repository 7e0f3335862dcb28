/**
 * Compiles one `restrict` rule once, at load time, into what the per-event path needs: its behavior
 * set (for the index), the pattern without its `behavior` list, conditions, CEL, message template and
 * actions. Nothing here parses anything per event.
 */
import type { ActionSpec } from '../../actions/types.js';
import { isBehavior, type Behavior } from '../../events/types.js';
import { compileCel, type CelProgram } from '../cel/index.js';
import { compileConditions, type CompiledConditions } from '../conditions/index.js';
import { compilePattern, type CompiledPattern } from '../pattern/index.js';
import { compileTemplate, type Template } from '../variables/index.js';
import type { FailureAction } from '../verdict.js';

export interface RestrictSpec {
  message?: string;
  behaviors?: string[];
  pattern?: Record<string, unknown>;
  conditions?: unknown;
  cel?: {
    expressions?: { expression: string; message?: string }[];
    variables?: { name: string; expression: string }[];
  };
  actions?: ActionSpec[];
}

export interface CompiledRestrictRule {
  policy: string;
  policyNamespace?: string;
  rule: string;
  mode: FailureAction;
  behaviors: ReadonlySet<Behavior>;
  /** Pattern over the runtime view; undefined when the rule has none (behaviors alone decide). */
  pattern?: PatternStage;
  preconditions?: CompiledConditions;
  conditions?: CompiledConditions;
  celPreconditions: CelProgram[];
  celExpressions: CelProgram[];
  celVariables: { name: string; program: CelProgram }[];
  message: Template;
  /** The message as written, shown when a variable in it cannot be resolved for an event. */
  messageText: string;
  actions: ActionSpec[];
  severity?: string;
  category?: string;
  /** The pattern's literal `event.file.path` prefixes, for the sensor's in-kernel filter. */
  filePathPrefixes: string[] | undefined;
}

/** A pattern without variables is compiled once; one with `{{ }}` is rendered, then compiled. */
export type PatternStage =
  { kind: 'static'; pattern: CompiledPattern } | { kind: 'templated'; template: Template };

export class RestrictRuleError extends Error {
  constructor(
    readonly policy: string,
    readonly rule: string,
    message: string,
  ) {
    super(`policy ${policy}, rule ${rule}: ${message}`);
    this.name = 'RestrictRuleError';
  }
}

export interface RuleOwner {
  policy: string;
  policyNamespace?: string;
  mode: FailureAction;
  severity?: string;
  category?: string;
}

export function compileRestrictRule(
  owner: RuleOwner,
  rule: { name: string; restrict: RestrictSpec; preconditions?: unknown; celPreconditions?: unknown },
): CompiledRestrictRule {
  const { restrict } = rule;
  const fail = (msg: string): never => {
    throw new RestrictRuleError(owner.policy, rule.name, msg);
  };

  const { behaviorList, rest } = splitBehaviorList(restrict.pattern);
  const named = [...(restrict.behaviors ?? []), ...behaviorList];
  const behaviors = new Set<Behavior>();
  for (const b of named) {
    if (!isBehavior(b)) fail(`unknown behavior "${b}"`);
    else behaviors.add(b);
  }
  if (behaviors.size === 0)
    fail('a restrict rule must name its behaviors (restrict.behaviors or pattern.behavior)');

  const messageText = restrict.message ?? `${rule.name}: restricted behavior`;
  const compiled: CompiledRestrictRule = {
    ...owner,
    rule: rule.name,
    behaviors,
    celPreconditions: celList(rule.celPreconditions),
    celExpressions: (restrict.cel?.expressions ?? []).map((e) => compileCel(e.expression)),
    celVariables: (restrict.cel?.variables ?? []).map((v) => ({
      name: v.name,
      program: compileCel(v.expression),
    })),
    message: compileTemplate(messageText),
    messageText,
    actions: owner.mode === 'Enforce' ? (restrict.actions ?? []) : [],
    filePathPrefixes: literalPathPrefixes(rest),
  };
  if (rest && Object.keys(rest).length > 0) {
    const template = compileTemplate(rest);
    compiled.pattern = template.isStatic
      ? { kind: 'static', pattern: compilePattern(rest) }
      : { kind: 'templated', template };
  }
  if (rule.preconditions !== undefined) compiled.preconditions = compileConditions(rule.preconditions);
  if (restrict.conditions !== undefined) compiled.conditions = compileConditions(restrict.conditions);
  return compiled;
}

/**
 * The pattern's `behavior` list is read as a set (any listed behavior triggers the rule), not as a
 * Kyverno array pattern — whose "first element only" rule would silently ignore all but one.
 */
function splitBehaviorList(pattern: Record<string, unknown> | undefined): {
  behaviorList: string[];
  rest: Record<string, unknown> | undefined;
} {
  if (!pattern || !('behavior' in pattern)) return { behaviorList: [], rest: pattern };
  const { behavior, ...rest } = pattern;
  const list = Array.isArray(behavior) ? behavior : [behavior];
  return { behaviorList: list.map(String), rest };
}

function celList(value: unknown): CelProgram[] {
  if (!Array.isArray(value)) return [];
  return value.map((entry) => {
    const expression = (entry as { expression?: unknown }).expression;
    return compileCel(typeof expression === 'string' ? expression : String(expression));
  });
}

/**
 * Literal prefixes of `event.file.path` in the pattern ("/etc/*" → "/etc/"), or undefined when the
 * rule's paths cannot be narrowed (no path pattern, a negation, a leading wildcard).
 */
function literalPathPrefixes(pattern: Record<string, unknown> | undefined): string[] | undefined {
  const event = pattern?.event as { file?: { path?: unknown } } | undefined;
  const path = event?.file?.path;
  if (typeof path !== 'string') return undefined;
  const prefixes: string[] = [];
  for (const alternative of path.split('|')) {
    const alt = alternative.trim();
    if (alt.startsWith('!') || /^[<>=]/.test(alt)) return undefined;
    const cut = alt.search(/[*?]/);
    const prefix = cut < 0 ? alt : alt.slice(0, cut);
    if (prefix === '' || !prefix.startsWith('/')) return undefined;
    prefixes.push(prefix);
  }
  return prefixes;
}
