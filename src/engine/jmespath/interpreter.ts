/**
 * A tree-walking evaluator over @jmespath-community/jmespath's AST with the behaviour of Kyverno's go-jmespath
 * fork: a field path that names a key missing from an object throws JmesPathNotFoundError (rule result `error`),
 * while `||`, comparisons, function arguments, projections, filters and multi-selects read it as null (so
 * `{{ request.object.metadata.labels.app || '' }}` and `spec.[initContainers, containers][]` work). A projection
 * over a missing key (`element.resourceNames[]`, `userInfo.groups[?…]`) is null too, as Kyverno's tests expect.
 *
 * Why our own walker instead of the library's TreeInterpreter: the library returns null for missing keys and
 * keeps its function registry module-global; here the Kyverno function table is private to this module and
 * the semantics above are explicit. Parsing still comes from the library (`compile`).
 *
 * A missing key travels up the tree as a `Missing` marker rather than an exception: `{{ labels.app || '' }}`
 * on an object without `app` is the common case, and throwing costs far more than returning.
 */
import type { compile } from '@jmespath-community/jmespath';
import { JmesPathError, JmesPathNotFoundError } from './errors.js';
import type { EvalContext } from './types.js';

/** The library's AST node type (not exported by name). */
export type ExpressionNode = ReturnType<typeof compile>;
type Node = ExpressionNode & { expref?: boolean };

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** JMESPath truthiness: false, null, "", [], {} are false. */
export function isFalsy(v: unknown): boolean {
  if (v === null || v === undefined || v === false || v === '') return true;
  if (Array.isArray(v)) return v.length === 0;
  if (isObject(v)) {
    for (const _ in v) return false;
    return true;
  }
  return false;
}

export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!jsonEqual(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const ak = Object.keys(a);
  const bo = b as Record<string, unknown>;
  if (ak.length !== Object.keys(bo).length) return false;
  for (const k of ak) {
    if (!Object.hasOwn(bo, k) || !jsonEqual((a as Record<string, unknown>)[k], bo[k])) return false;
  }
  return true;
}

/** A field path named a key the object lacks (Kyverno's NotFoundError, before it is thrown). */
class Missing {
  constructor(readonly key: string) {}
}

/** Evaluates `node`; throws JmesPathNotFoundError for a missing key in a field path. */
export function evaluate(node: Node, value: unknown, ctx: EvalContext): unknown {
  const r = walk(node, value, ctx);
  if (r instanceof Missing) throw new JmesPathNotFoundError(r.key);
  return r;
}

/** Evaluates `node`, reading a missing key as null (the fork's lenient positions). */
export function evaluateLenient(node: Node, value: unknown, ctx: EvalContext): unknown {
  const r = walk(node, value, ctx);
  return r instanceof Missing ? null : r;
}

function arithmetic(op: string, a: unknown, b: unknown): unknown {
  if (typeof a !== 'number' || typeof b !== 'number') {
    throw new JmesPathError(`invalid arithmetic operands: ${typeof a} ${op} ${typeof b}`);
  }
  switch (op) {
    case 'Plus':
      return a + b;
    case 'Minus':
      return a - b;
    case 'Multiply':
    case 'Star':
      return a * b;
    case 'Divide':
      return a / b;
    case 'Modulo':
      return a % b;
    case 'Div':
      return Math.floor(a / b);
    default:
      throw new JmesPathError(`unknown arithmetic operator ${op}`);
  }
}

function sliceParams(length: number, start: number | null, stop: number | null, step: number | null) {
  const s = step ?? 1;
  if (s === 0) throw new JmesPathError('Invalid value: slice step cannot be 0');
  const cap = (v: number) => {
    if (v < 0) {
      const r = v + length;
      return r < 0 ? (s < 0 ? -1 : 0) : r;
    }
    return v >= length ? (s < 0 ? length - 1 : length) : v;
  };
  return {
    start: start === null ? (s < 0 ? length - 1 : 0) : cap(start),
    stop: stop === null ? (s < 0 ? -1 : length) : cap(stop),
    step: s,
  };
}

function slice<T>(items: readonly T[], start: number, stop: number, step: number): T[] {
  const out: T[] = [];
  if (step > 0) for (let i = start; i < stop; i += step) out.push(items[i]!);
  else for (let i = start; i > stop; i += step) out.push(items[i]!);
  return out;
}

function walk(node: Node, value: unknown, ctx: EvalContext): unknown {
  switch (node.type) {
    case 'Field': {
      if (!isObject(value)) return null;
      if (!Object.hasOwn(value, node.name)) return new Missing(node.name);
      return value[node.name] ?? null;
    }
    case 'Subexpression': {
      const left = walk(node.left, value, ctx);
      return left === null || left instanceof Missing ? left : walk(node.right, left, ctx);
    }
    case 'IndexExpression':
    case 'Pipe': {
      const left = walk(node.left, value, ctx);
      return left instanceof Missing ? left : walk(node.right, left, ctx);
    }
    case 'Index': {
      if (!Array.isArray(value)) return null;
      const i = node.value < 0 ? value.length + node.value : node.value;
      return (value as unknown[])[i] ?? null;
    }
    case 'Slice': {
      if (typeof value === 'string') {
        const chars = Array.from(value);
        const p = sliceParams(chars.length, node.start, node.stop, node.step);
        return slice(chars, p.start, p.stop, p.step).join('');
      }
      if (!Array.isArray(value)) return null;
      const p = sliceParams(value.length, node.start, node.stop, node.step);
      return slice(value as unknown[], p.start, p.stop, p.step);
    }
    case 'Projection': {
      const left = node.left;
      const base = walk(left, value, ctx);
      if (base instanceof Missing) return null;
      if (typeof base === 'string' && left.type === 'IndexExpression' && left.right.type === 'Slice') {
        return walk(node.right, base, ctx);
      }
      if (!Array.isArray(base)) return null;
      const out: unknown[] = [];
      for (const elem of base as unknown[]) {
        const r = evaluateLenient(node.right, elem, ctx);
        if (r !== null) out.push(r);
      }
      return out;
    }
    case 'ValueProjection': {
      const base = walk(node.left, value, ctx);
      if (base instanceof Missing) return null;
      if (!isObject(base)) return null;
      const out: unknown[] = [];
      for (const elem of Object.values(base)) {
        const r = evaluateLenient(node.right, elem, ctx);
        if (r !== null) out.push(r);
      }
      return out;
    }
    case 'FilterProjection': {
      const base = walk(node.left, value, ctx);
      if (base instanceof Missing) return null;
      if (!Array.isArray(base)) return null;
      const out: unknown[] = [];
      for (const elem of base as unknown[]) {
        if (isFalsy(evaluateLenient(node.condition, elem, ctx))) continue;
        const r = evaluateLenient(node.right, elem, ctx);
        if (r !== null) out.push(r);
      }
      return out;
    }
    case 'Flatten': {
      const base = walk(node.child, value, ctx);
      if (base instanceof Missing) return null;
      if (!Array.isArray(base)) return null;
      const out: unknown[] = [];
      for (const e of base as unknown[]) {
        if (Array.isArray(e)) out.push(...(e as unknown[]));
        else out.push(e);
      }
      return out;
    }
    case 'Comparator': {
      const a = evaluateLenient(node.left, value, ctx);
      const b = evaluateLenient(node.right, value, ctx);
      if (node.name === 'EQ') return jsonEqual(a, b);
      if (node.name === 'NE') return !jsonEqual(a, b);
      if (typeof a !== 'number' || typeof b !== 'number') return null;
      switch (node.name) {
        case 'GT':
          return a > b;
        case 'GTE':
          return a >= b;
        case 'LT':
          return a < b;
        case 'LTE':
          return a <= b;
      }
      return null;
    }
    case 'OrExpression': {
      const left = evaluateLenient(node.left, value, ctx);
      return isFalsy(left) ? walk(node.right, value, ctx) : left;
    }
    case 'AndExpression': {
      const left = walk(node.left, value, ctx);
      return left instanceof Missing || isFalsy(left) ? left : walk(node.right, value, ctx);
    }
    case 'NotExpression': {
      const child = walk(node.child, value, ctx);
      return child instanceof Missing ? child : isFalsy(child);
    }
    case 'MultiSelectList': {
      if (value === null) return null;
      return node.children.map((c) => evaluateLenient(c, value, ctx));
    }
    case 'MultiSelectHash': {
      if (value === null) return null;
      const out: Record<string, unknown> = {};
      for (const c of node.children) out[c.name] = evaluateLenient(c.value, value, ctx);
      return out;
    }
    case 'Literal':
      return node.value;
    case 'Current':
    case 'Identity':
      return value;
    case 'Root':
      return ctx.root;
    case 'Function': {
      const args: unknown[] = [];
      for (const c of node.children) {
        args.push(
          c.type === 'ExpressionReference' ? { ...c.child, expref: true } : evaluateLenient(c, value, ctx),
        );
      }
      return ctx.functions.call(node.name, args, ctx);
    }
    case 'ExpressionReference':
      return { ...node.child, expref: true };
    case 'Arithmetic': {
      const a = walk(node.left, value, ctx);
      if (a instanceof Missing) return a;
      const b = walk(node.right, value, ctx);
      return b instanceof Missing ? b : arithmetic(node.operator, a, b);
    }
    case 'Unary': {
      const v = walk(node.operand, value, ctx);
      if (v instanceof Missing) return v;
      if (typeof v !== 'number') throw new JmesPathError('unary arithmetic on a non-number');
      return node.operator === 'Minus' ? -v : v;
    }
    case 'Ternary': {
      const c = walk(node.condition, value, ctx);
      if (c instanceof Missing) return c;
      return isFalsy(c) ? walk(node.falseExpr, value, ctx) : walk(node.trueExpr, value, ctx);
    }
    case 'LetExpression': {
      const scope: Record<string, unknown> = {};
      for (const b of node.bindings) {
        const r = walk(b.reference, value, ctx);
        if (r instanceof Missing) return r;
        scope[b.variable] = r;
      }
      return walk(node.expression, value, { ...ctx, scopes: [...ctx.scopes, scope] });
    }
    case 'Variable': {
      for (let i = ctx.scopes.length - 1; i >= 0; i--) {
        const s = ctx.scopes[i]!;
        if (Object.hasOwn(s, node.name)) return s[node.name];
      }
      throw new JmesPathError(`undefined variable $${node.name}`);
    }
    case 'Binding':
      return walk(node.reference, value, ctx);
  }
}
