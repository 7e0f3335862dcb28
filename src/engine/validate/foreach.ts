/**
 * validate.foreach (Kyverno's `validateForEach` / `validateElements`):
 * - each `list` is a JMESPath expression over the context; when it cannot be evaluated (e.g. an
 *   "Unknown key"), that foreach is skipped;
 * - every non-null element is bound to `element`/`elementIndex` (and `element<N>`/`elementIndex<N>` by
 *   nesting level), then its own context, preconditions and pattern/anyPattern/deny/nested foreach run;
 * - skipped elements are ignored; the first failing element decides the rule (fail); an error decides it
 *   only on the last element (Kyverno ignores errors on earlier elements);
 * - when no element applied at all, the rule produces no result (as Kyverno: "did not apply").
 */
import type { CompiledForeach } from '../api/compiled-policy.js';
import type { Template } from '../variables/index.js';
import { loadContextEntries, type JsonContext } from './context.js';
import { validateDeny } from './deny.js';
import { validateAnyPattern, validatePattern } from './patterns.js';
import { errorMessage, type Outcome } from './result.js';

interface ForeachResult {
  outcome: Outcome;
  applied: number;
}

function evaluateList(f: CompiledForeach, ctx: JsonContext): unknown[] | undefined {
  try {
    // Kyverno accepts the list written with or without {{ }}; compileQueryTemplate reads both.
    const value = f.list.evaluate(ctx, ctx);
    return Array.isArray(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

function validateElement(
  rule: string,
  f: CompiledForeach,
  element: unknown,
  ctx: JsonContext,
  nesting: number,
  message: Template | undefined,
  provided: ReadonlySet<string>,
): Outcome {
  try {
    loadContextEntries(f.context, ctx, provided);
  } catch (e) {
    return { status: 'error', message: `failed to load context: ${errorMessage(e)}` };
  }
  if (f.preconditions) {
    try {
      if (!f.preconditions.evaluate(ctx).result) return { status: 'skip', message: 'preconditions not met' };
    } catch (e) {
      return { status: 'error', message: `failed to evaluate preconditions: ${errorMessage(e)}` };
    }
  }
  // Patterns are checked against the element unless elementScope is false.
  const target = f.elementScope === false ? (ctx.request as Record<string, unknown>).object : element;
  if (f.deny) return validateDeny(rule, f.deny, ctx, message);
  if (f.pattern) return validatePattern(rule, f.pattern, target, ctx, message);
  if (f.anyPattern) return validateAnyPattern(rule, f.anyPattern, target, ctx, message);
  if (f.foreach) {
    const r = validateForeachList(rule, f.foreach, ctx, nesting + 1, message, provided);
    return r.applied === 0 && r.outcome.status === 'pass'
      ? { status: 'skip', message: 'rule skipped' }
      : r.outcome;
  }
  return { status: 'error', message: `foreach of rule ${rule} has nothing to validate` };
}

export function validateForeachList(
  rule: string,
  list: readonly CompiledForeach[],
  ctx: JsonContext,
  nesting: number,
  message: Template | undefined,
  provided: ReadonlySet<string>,
): ForeachResult {
  let applied = 0;
  for (const f of list) {
    const elements = evaluateList(f, ctx);
    if (!elements) continue;
    for (const [index, element] of elements.entries()) {
      if (element === null || element === undefined) continue;
      // Each element sees a fresh copy of the outer context plus its bindings.
      const elementCtx: JsonContext = {
        ...ctx,
        element,
        elementIndex: index,
        [`element${nesting}`]: element,
        [`elementIndex${nesting}`]: index,
      };
      const r = validateElement(rule, f, element, elementCtx, nesting, message, provided);
      if (r.status === 'skip') continue;
      if (r.status === 'error') {
        if (index < elements.length - 1) continue;
        return { outcome: { status: 'error', message: `validation failure: ${r.message}` }, applied };
      }
      if (r.status === 'fail')
        return { outcome: { status: 'fail', message: `validation failure: ${r.message}` }, applied };
      applied++;
    }
  }
  return { outcome: { status: 'pass', message: `validation rule '${rule}' passed.` }, applied };
}

export function validateForeach(
  rule: string,
  list: readonly CompiledForeach[],
  ctx: JsonContext,
  message: Template | undefined,
  provided: ReadonlySet<string>,
): Outcome | undefined {
  const r = validateForeachList(rule, list, ctx, 0, message, provided);
  if (r.outcome.status === 'pass' && r.applied === 0) return undefined;
  return r.outcome;
}
