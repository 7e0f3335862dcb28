/**
 * Kyverno conditions (preconditions, deny.conditions, foreach
 * preconditions, restrict.conditions): `{any, all}` blocks or a legacy list, every operator, compiled once.
 *
 * Combination (Kyverno pkg/engine/variables/evaluate.go): `any` is an OR that is false when present but empty,
 * `all` is an AND, both must hold when both are present; the legacy plain list is an AND. Operators are matched
 * case-insensitively. The decisive conditions' messages are joined with "; ".
 */
import { KyvernoRuntimeError } from '../../contracts/errors.js';
import { compileTemplate, type RenderOptions, type Template } from '../variables/index.js';
import { operatorFunction, type OperatorFn } from './operators.js';

export * from './operators.js';
export { parseSemVer, compareSemVer, parseSemVerRange, type SemVer } from './semver.js';

export interface ConditionOutcome {
  /** For preconditions: true = rule applies. For deny: true = request denied. */
  result: boolean;
  /** The `message` of the condition(s) that decided, when they have one ("; "-joined). */
  message?: string;
}

export interface CompiledConditions {
  /** Throws on a variable/JMESPath error (rule result: error). */
  evaluate(context: Record<string, unknown>, options?: RenderOptions): ConditionOutcome;
}

export interface ConditionOptions {
  /**
   * `preconditions`: a variable that fails to resolve becomes "" (Kyverno's preconditions resolver);
   * `strict` (default, deny/restrict conditions): it throws VariableSubstitutionError.
   */
  readonly mode?: 'preconditions' | 'strict';
  /** JSON pointer of the block, for error messages ("/spec/rules/0/preconditions"). */
  readonly basePath?: string;
}

/** A malformed condition block, reported at load time with its JSON pointer. */
export class ConditionCompileError extends KyvernoRuntimeError {
  constructor(
    readonly path: string,
    message: string,
  ) {
    super('E_CONDITION_COMPILE', `${path === '' ? '/' : path}: ${message}`);
  }
}

interface CompiledCondition {
  readonly key: Template;
  readonly value: Template;
  readonly operator: OperatorFn;
  readonly message: Template | undefined;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function compileCondition(raw: unknown, path: string, unresolvedAsEmpty: boolean): CompiledCondition {
  if (!isRecord(raw))
    throw new ConditionCompileError(path, 'a condition must be an object with key, operator and value');
  const op = raw['operator'];
  if (typeof op !== 'string')
    throw new ConditionCompileError(`${path}/operator`, 'operator must be a string');
  let operator: OperatorFn;
  try {
    operator = operatorFunction(op);
  } catch (e) {
    throw new ConditionCompileError(`${path}/operator`, (e as Error).message);
  }
  const tpl = (v: unknown, sub: string) => {
    try {
      return compileTemplate(v ?? null, { unresolvedAsEmpty, basePath: `${path}/${sub}` });
    } catch (e) {
      // Carries where in the block it failed, so a policy load error points at this key/value/message.
      throw new ConditionCompileError(`${path}/${sub}`, (e as Error).message);
    }
  };
  const message = raw['message'];
  return {
    key: tpl(raw['key'], 'key'),
    value: tpl(raw['value'], 'value'),
    operator,
    message: typeof message === 'string' && message !== '' ? tpl(message, 'message') : undefined,
  };
}

function compileList(raw: unknown, path: string, unresolvedAsEmpty: boolean): CompiledCondition[] {
  if (!Array.isArray(raw)) throw new ConditionCompileError(path, 'expected a list of conditions');
  return raw.map((c, i) => compileCondition(c, `${path}/${i}`, unresolvedAsEmpty));
}

function messageOf(
  c: CompiledCondition,
  context: Record<string, unknown>,
  options?: RenderOptions,
): string | undefined {
  if (c.message === undefined) return undefined;
  const m = c.message.render(context, options);
  return typeof m === 'string' ? m : JSON.stringify(m);
}

function holds(c: CompiledCondition, context: Record<string, unknown>, options?: RenderOptions): boolean {
  return c.operator(c.key.render(context, options), c.value.render(context, options));
}

const ALWAYS: CompiledConditions = { evaluate: () => ({ result: true }) };

/** Accepts `{any, all}`, a legacy plain list (ANDed), or undefined (always true). */
export function compileConditions(conditions: unknown, options: ConditionOptions = {}): CompiledConditions {
  const path = options.basePath ?? '';
  const unresolvedAsEmpty = options.mode === 'preconditions';
  if (conditions === undefined || conditions === null) return ALWAYS;
  let any: CompiledCondition[] | undefined;
  let all: CompiledCondition[];
  if (Array.isArray(conditions)) {
    all = compileList(conditions, path, unresolvedAsEmpty);
  } else if (isRecord(conditions)) {
    for (const k of Object.keys(conditions)) {
      if (k !== 'any' && k !== 'all')
        throw new ConditionCompileError(`${path}/${k}`, 'unknown field (expected any or all)');
    }
    any =
      conditions['any'] == null
        ? undefined
        : compileList(conditions['any'], `${path}/any`, unresolvedAsEmpty);
    all = conditions['all'] == null ? [] : compileList(conditions['all'], `${path}/all`, unresolvedAsEmpty);
  } else {
    throw new ConditionCompileError(path, 'conditions must be {any, all} or a list');
  }
  const anyList = any;
  return {
    evaluate(context, renderOptions) {
      let trueMessages: string[] | undefined;
      let falseMessages: string[] | undefined;
      let anyResult = true;
      if (anyList !== undefined) {
        anyResult = false;
        for (const c of anyList) {
          const ok = holds(c, context, renderOptions);
          const m = messageOf(c, context, renderOptions);
          if (ok) {
            anyResult = true;
            if (m !== undefined) (trueMessages ??= []).push(m);
            break;
          }
          if (m !== undefined) (falseMessages ??= []).push(m);
        }
      }
      // Kyverno evaluates `all` even when `any` failed, so a substitution error there still surfaces.
      let allResult = true;
      for (const c of all) {
        const ok = holds(c, context, renderOptions);
        const m = messageOf(c, context, renderOptions);
        if (!ok) {
          allResult = false;
          if (m !== undefined) (falseMessages ??= []).push(m);
          break;
        }
        if (m !== undefined) (trueMessages ??= []).push(m);
      }
      const result = anyResult && allResult;
      const messages = result ? trueMessages : falseMessages;
      return messages === undefined ? { result } : { result, message: messages.join('; ') };
    },
  };
}
