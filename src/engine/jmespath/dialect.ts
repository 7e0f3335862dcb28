/**
 * What Kyverno's JMESPath accepts. The community parser reads a superset of it: arithmetic operators
 * (`a + b`, `-a`, `a % b`, `a // b`), `let $x = … in …` and `$x` variables, the `$` root, the ternary
 * `a ? b : c`, and functions such as `lower`, `upper`, `trim_left`, `pad_left`, `find_first`, `group_by`,
 * `zip`, `from_items`. Kyverno's go-jmespath fork (the original JMESPath grammar and its 26 functions, plus
 * Kyverno's own) rejects all of these, so a policy that used them would never work under Kyverno; they fail
 * the load here, with the replacement when Kyverno has one.
 */
import type { ExpressionNode } from './interpreter.js';

/** The functions of the original JMESPath specification, which go-jmespath implements. */
export const STANDARD_FUNCTIONS: ReadonlySet<string> = new Set([
  'abs',
  'avg',
  'ceil',
  'contains',
  'ends_with',
  'floor',
  'join',
  'keys',
  'length',
  'map',
  'max',
  'max_by',
  'merge',
  'min',
  'min_by',
  'not_null',
  'reverse',
  'sort',
  'sort_by',
  'starts_with',
  'sum',
  'to_array',
  'to_number',
  'to_string',
  'type',
  'values',
]);

/** Kyverno's spelling of what other JMESPath dialects call differently. */
const REPLACEMENTS: Readonly<Record<string, string>> = {
  lower: 'to_lower(s)',
  upper: 'to_upper(s)',
  trim_left: "trim_prefix(s, prefix) or trim(s, ' ')",
  trim_right: "trim(s, ' ')",
  trim_suffix: "regex_replace_all('suffix$', s, '')",
  find_first: 'a filter expression [?…] | [0]',
  from_items: 'object_from_lists(keys, values)',
};

const SYNTAX: Readonly<Record<string, string>> = {
  Arithmetic:
    'arithmetic operators (+, -, *, /, %, //) are not JMESPath in Kyverno; use add(), subtract(), multiply(), divide(), modulo()',
  Unary: 'unary +/- is not JMESPath in Kyverno; use multiply(x, `-1`)',
  LetExpression: 'let expressions are not JMESPath in Kyverno',
  Variable: '$variables are not JMESPath in Kyverno',
  Binding: 'let bindings are not JMESPath in Kyverno',
  Root: 'the $ root is not JMESPath in Kyverno',
  Ternary: 'the ?: operator is not JMESPath in Kyverno; use `a && b || c`',
};

/**
 * The first non-undefined answer of `visit` over the nodes of a parsed expression (Literal nodes and
 * what they hold are skipped: a literal is data). Iterative: the tree is as deep as the expression nests.
 */
export function firstInTree(
  root: ExpressionNode,
  visit: (node: Record<string, unknown>) => string | undefined,
): string | undefined {
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const v = stack.pop();
    if (typeof v !== 'object' || v === null) continue;
    if (Array.isArray(v)) {
      for (const x of v) stack.push(x);
      continue;
    }
    const node = v as Record<string, unknown>;
    if (node['type'] === 'Literal') continue;
    const found = visit(node);
    if (found !== undefined) return found;
    for (const k of Object.keys(node)) stack.push(node[k]);
  }
  return undefined;
}

/**
 * The first construct Kyverno would reject, as a message; undefined when the tree is Kyverno JMESPath.
 * `known` is the set of Kyverno's own function names.
 */
export function kyvernoDialectError(root: ExpressionNode, known: ReadonlySet<string>): string | undefined {
  return firstInTree(root, (node) => {
    const type = node['type'];
    if (typeof type === 'string' && SYNTAX[type] !== undefined) return SYNTAX[type];
    if (type === 'Function' && typeof node['name'] === 'string') {
      const name = node['name'];
      if (!known.has(name) && !STANDARD_FUNCTIONS.has(name)) {
        const hint = REPLACEMENTS[name];
        return `unknown function: ${name}() is not a Kyverno JMESPath function${hint === undefined ? '' : `; use ${hint}`}`;
      }
    }
    return undefined;
  });
}
