/**
 * Kyverno's JMESPath dialect — community JMESPath syntax, Kyverno's
 * functions, and the go-jmespath fork's `Unknown key "x" in path` errors. Expressions are parsed once and cached.
 */
import { compile } from '@jmespath-community/jmespath';
import { LRUCache } from 'lru-cache';
import { JmesPathError, JmesPathNotFoundError, JmesPathSyntaxError } from './errors.js';
import { firstInTree, kyvernoDialectError } from './dialect.js';
import { createFunctionTable, kyvernoFunctions } from './functions/index.js';
import { REGEX_FUNCTIONS } from './functions/go-regexp.js';
import { goRegexpError } from '../regexp.js';
import { evaluate, type ExpressionNode } from './interpreter.js';
import type { EvalContext } from './types.js';

export {
  JmesPathError,
  JmesPathFunctionError,
  JmesPathNotFoundError,
  JmesPathSyntaxError,
} from './errors.js';
export { kyvernoFunctions, createFunctionTable, type KyvernoFunction } from './functions/index.js';
export type { FunctionTable } from './types.js';
export { isFalsy, type ExpressionNode } from './interpreter.js';

export type JmesPathQuery = (data: unknown) => unknown;

const functions = createFunctionTable();

/** `a.b.c` as ["a", "b", "c"], or undefined when the expression is anything else. */
function fieldChain(node: ExpressionNode): string[] | undefined {
  if (node.type === 'Field') return [node.name];
  if (node.type !== 'Subexpression') return undefined;
  const left = fieldChain(node.left);
  const right = fieldChain(node.right);
  return left && right ? [...left, ...right] : undefined;
}

/**
 * Fast path for plain field paths (`request.object.metadata.name`, most `{{ }}` variables): same semantics as the
 * tree walk — null through non-objects, Unknown key for a missing key — without the per-node dispatch.
 */
function fieldPathQuery(keys: readonly string[]): JmesPathQuery {
  // One error per key, made on first use and thrown again after. On the runtime path a missing key is
  // an expected outcome (a field this event does not carry, on every such event), and a new Error with
  // its message each time cost more than the rule. Errors are never mutated once thrown.
  const notFound: (JmesPathNotFoundError | undefined)[] = keys.map(() => undefined);
  return (data) => {
    let v: unknown = data;
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i]!;
      if (typeof v !== 'object' || v === null || Array.isArray(v)) return null;
      if (!Object.hasOwn(v, k)) throw (notFound[i] ??= new JmesPathNotFoundError(k));
      v = (v as Record<string, unknown>)[k] ?? null;
    }
    return v;
  };
}
/**
 * The RE2 error of the first constant pattern given to a regex function (`regex_match('(a)\\1', x)`), so it
 * fails the policy load rather than every event.
 */
function constantRegexError(root: ExpressionNode): string | undefined {
  return firstInTree(root, (node) => {
    if (node['type'] !== 'Function' || typeof node['name'] !== 'string' || !REGEX_FUNCTIONS.has(node['name']))
      return undefined;
    const first = (node['children'] as unknown[] | undefined)?.[0] as Record<string, unknown> | undefined;
    if (first?.['type'] !== 'Literal' || typeof first['value'] !== 'string') return undefined;
    const error = goRegexpError(first['value']);
    return error === undefined ? undefined : `${node['name']}: ${error}`;
  });
}

const cache = new LRUCache<string, JmesPathQuery>({ max: 10_000 });
const kyvernoNames: ReadonlySet<string> = new Set(kyvernoFunctions.map((f) => f.name));

/** Parses with the community parser and refuses what Kyverno's JMESPath does not have (dialect.ts). */
function parseKyverno(expression: string): ExpressionNode {
  let ast: ExpressionNode;
  try {
    ast = compile(expression);
  } catch (e) {
    throw new JmesPathSyntaxError((e as Error).message, expression);
  }
  const dialect = kyvernoDialectError(ast, kyvernoNames);
  if (dialect !== undefined) throw new JmesPathSyntaxError(dialect, expression);
  return ast;
}

/** Parses without caching; throws JmesPathSyntaxError. For callers that adapt the tree before evaluating it. */
export function parseJmesPath(expression: string): ExpressionNode {
  return parseKyverno(expression);
}

/** Evaluates a parsed tree with Kyverno's functions and errors, as a compiled query would. */
export function evaluateJmesPathAst(ast: ExpressionNode, data: unknown, expression: string): unknown {
  const ctx: EvalContext = { root: data, functions, scopes: [] };
  try {
    return evaluate(ast, data, ctx);
  } catch (e) {
    if (e instanceof JmesPathError) throw e;
    throw new JmesPathError((e as Error).message, expression);
  }
}

/** Parses once; the returned query throws JmesPathError on Kyverno's error cases. */
export function compileJmesPath(expression: string): JmesPathQuery {
  const cached = cache.get(expression);
  if (cached !== undefined) return cached;
  const ast = parseKyverno(expression);
  const regexError = constantRegexError(ast);
  if (regexError !== undefined) throw new JmesPathSyntaxError(regexError, expression);
  const chain = fieldChain(ast);
  const query: JmesPathQuery =
    chain !== undefined ? fieldPathQuery(chain) : (data) => evaluateJmesPathAst(ast, data, expression);
  cache.set(expression, query);
  return query;
}
