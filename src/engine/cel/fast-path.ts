/**
 * A direct evaluator for the everyday subset of CEL, built once from a checked expression's AST:
 * field paths on the bindings, string/int/bool/null literals, `==`, `!=`, int comparisons, `in` a
 * literal list, `&&`, `||`, `!`, `has()`, `startsWith`/`endsWith`/`contains`, and `matches` with a
 * constant RE2 pattern. Hand-written because cel-js interprets the AST node by node and the runtime
 * path runs the same few expressions on every event; the closures are built from the policy's AST
 * only, and values from events are compared, never evaluated.
 *
 * It decides only the plain case, plus cel-js's most common error: selecting a key a map lacks
 * (`event.network.dport` on an event without `network`), which it reports as a MissingKey holding
 * cel-js's own message, so the caller raises the same error without re-running the expression.
 * Anything else on a given evaluation — a value of another type, a non-boolean operand, an object
 * where a scalar is needed, an exception — gives BAIL, and the caller runs cel-js on the same
 * activation, which yields its own result or error — unless a decisive other side of `&&`/`||`
 * absorbs it, as CEL does. So whenever the fast path answers, cel-js would have given the same value
 * or error (the differential test checks this); every other error comes from cel-js.
 */
import type { ASTNode } from '@marcbachmann/cel-js';
import { compileGoRegexp, type GoRegexp } from '../regexp.js';
import { MATCHES_METHOD, publicRegexMessage } from './regex-library.js';

/** Returned when the fast path does not decide this evaluation: run cel-js instead. */
export const BAIL: unique symbol = Symbol('cel fast path: not decided');

/**
 * An activation method (looked up through the prototype chain) that returns a binding as plain JSON,
 * before any conversion to CEL values, or NOT_RAW when it has no such binding. The fast path reads
 * JSON and converts only the scalars it uses (integers → int), which spares converting the event.
 */
export const RAW_BINDING: unique symbol = Symbol('raw binding');
export const NOT_RAW: unique symbol = Symbol('no raw binding');

/**
 * cel-js's error for selecting a key that a map lacks, decided here: errors propagate through the
 * operators in cel-js's order of evaluation (left operand, then right; receiver, then argument). One
 * instance per key of a path, built with the expression, so an evaluation that errs allocates nothing.
 */
export class MissingKey {
  /** The reason as cel-js words it, first line only (as the caller reports cel-js's errors). */
  readonly message: string;
  /**
   * The error the caller raised for this key, raised again for the next event that lacks it (as
   * compiled JMESPath paths do): never mutated once thrown, and building one per event cost more
   * than deciding the expression.
   */
  error: Error | undefined = undefined;
  constructor(key: string) {
    this.message = publicRegexMessage(`No such key: ${key}`.split('\n')[0]!);
  }
}

/** An operand the operator cannot use: its MissingKey is the outcome (cel-js's error), else BAIL. */
function undecided(v: unknown): MissingKey | typeof BAIL {
  return v instanceof MissingKey ? v : BAIL;
}

export type RawBindingReader = (name: string) => unknown;
export type FastProgram = (activation: Record<string, unknown>) => unknown;

type Node = ASTNode;
type Fast = (act: Record<string, unknown>) => unknown;

/**
 * The value domain of the root last read (set by readRoot) and of the last walk's root (set by
 * parentOf as it returns): JSON (integral numbers are CEL ints) or already CEL values (a JS number
 * is a double). Each is copied to a local right after the call that sets it, because reading a lazy
 * variable during a walk evaluates another expression, which sets them again.
 */
let rootIsJson = false;
let walkIsJson = false;

function readRoot(act: Record<string, unknown>, name: string): unknown {
  const raw = (act as { [RAW_BINDING]?: RawBindingReader })[RAW_BINDING];
  if (raw !== undefined) {
    const value = raw.call(act, name);
    if (value !== NOT_RAW) {
      rootIsJson = true;
      return value;
    }
  }
  const value = act[name];
  rootIsJson = false;
  return value;
}

/** A map cel-js reads with own-property semantics: a plain object (constructor Object or none). */
function isPlainMap(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
  const c = (v as { constructor?: unknown }).constructor;
  return c === Object || c === undefined;
}

/** A scalar as cel-js would see it (JSON integers → int), or BAIL for anything else. */
function scalar(v: unknown, json: boolean): unknown {
  switch (typeof v) {
    case 'string':
    case 'boolean':
    case 'bigint':
      return v;
    case 'number':
      // As toCel converts JSON: a safe integer is an int; in CEL values a JS number is a double.
      return json && Number.isSafeInteger(v) ? BigInt(v) : v;
    case 'object':
      return v === null ? null : BAIL;
    case 'function':
    case 'symbol':
    case 'undefined':
      return BAIL;
  }
}

/** `root.a.b` / `root['a']` with literal names, as the root and its path, else undefined. */
function pathOf(node: Node): { root: string; path: string[] } | undefined {
  const path: string[] = [];
  let n: Node = node;
  for (;;) {
    if (n.op === 'id' && typeof n.args === 'string') return { root: n.args, path: path.reverse() };
    if (n.op === '.') {
      const [target, field] = n.args;
      path.push(field);
      n = target;
      continue;
    }
    if (n.op === '[]') {
      const [target, field] = n.args;
      if (field.op !== 'value' || typeof field.args !== 'string') return undefined;
      path.push(field.args);
      n = target;
      continue;
    }
    return undefined;
  }
}

/**
 * The map holding the path's last key (the root when the path has one key), the MissingKey of the
 * first intermediate key a plain map lacks, or BAIL. Intermediate keys must be present with
 * plain-object values, as cel-js requires to select through them.
 */
function parentOf(
  act: Record<string, unknown>,
  root: string,
  path: readonly string[],
  missing: readonly MissingKey[],
): unknown {
  let v = readRoot(act, root);
  const json = rootIsJson;
  for (let i = 0; i < path.length - 1; i++) {
    if (!isPlainMap(v)) return BAIL;
    const key = path[i]!;
    // What cel-js's field access reads: an own property (a null-prototype map has no constructor).
    if (!Object.hasOwn(v, key)) return missing[i];
    v = v[key];
  }
  walkIsJson = json;
  return isPlainMap(v) ? v : BAIL;
}

function compilePath(root: string, path: readonly string[]): Fast {
  if (path.length === 0)
    return (act) => {
      const v = readRoot(act, root);
      return v === undefined ? BAIL : scalar(v, rootIsJson);
    };
  const last = path[path.length - 1]!;
  const missing = path.map((key) => new MissingKey(key));
  const missingLast = missing[missing.length - 1]!;
  return (act) => {
    const parent = parentOf(act, root, path, missing);
    const json = walkIsJson;
    if (parent === BAIL || parent instanceof MissingKey) return parent;
    const map = parent as Record<string, unknown>;
    if (!Object.hasOwn(map, last)) return missingLast;
    const v = map[last];
    return v === undefined ? BAIL : scalar(v, json);
  };
}

function compileHas(arg: Node): Fast | undefined {
  // has() takes a field selection (`a.b`), not an index or a bare name.
  if (arg.op !== '.') return undefined;
  const p = pathOf(arg);
  if (p === undefined || p.path.length === 0) return undefined;
  const { root, path } = p;
  const last = path[path.length - 1]!;
  // has() tests its last key; an intermediate one that is missing is an error, as in cel-js.
  const missing = path.map((key) => new MissingKey(key));
  return (act) => {
    const parent = parentOf(act, root, path, missing);
    if (parent === BAIL || parent instanceof MissingKey) return parent;
    const map = parent as Record<string, unknown>;
    return Object.hasOwn(map, last) && map[last] !== undefined;
  };
}

type Literal = string | bigint | boolean | null;

function literalOf(node: Node): { value: Literal } | undefined {
  if (node.op !== 'value') return undefined;
  const v: unknown = node.args;
  if (v === null || typeof v === 'string' || typeof v === 'bigint' || typeof v === 'boolean')
    return { value: v };
  return undefined;
}

const STRING_METHODS: Record<string, (s: string, arg: string) => boolean> = {
  startsWith: (s, a) => s.startsWith(a),
  endsWith: (s, a) => s.endsWith(a),
  contains: (s, a) => s.includes(a),
};

function compileNode(node: Node): Fast | undefined {
  switch (node.op) {
    case 'value': {
      const lit = literalOf(node);
      if (lit === undefined) return undefined;
      const { value } = lit;
      return () => value;
    }
    case 'id':
    case '.':
    case '[]': {
      const p = pathOf(node);
      return p === undefined ? undefined : compilePath(p.root, p.path);
    }
    case '!_': {
      const operand = compileNode(node.args);
      if (operand === undefined) return undefined;
      return (act) => {
        const v = operand(act);
        return typeof v === 'boolean' ? !v : undecided(v);
      };
    }
    case '&&':
    case '||': {
      const [l, r] = node.args;
      const left = compileNode(l);
      const right = compileNode(r);
      if (left === undefined || right === undefined) return undefined;
      // The decisive value: false for `&&`, true for `||`. As in cel-js (and CEL): a decisive left
      // side decides without the right one; otherwise a decisive right side decides whatever the left
      // side gave, even an error or a non-boolean (CEL absorbs it). So a side this evaluator leaves
      // undecided (BAIL: an error, another type, or outside the subset) does not matter beside a
      // decisive other side. When neither side decides: both booleans give the right one; after a
      // known left side (a boolean or a MissingKey) the right side's error is the outcome (cel-js
      // runs the right side unguarded), and beside a boolean right side the left side's error; any
      // other mix is cel-js's.
      const decisive = node.op === '||';
      return (act) => {
        const a = left(act);
        if (a === decisive) return decisive;
        const b = right(act);
        if (b === decisive) return decisive;
        if (a === BAIL || b === BAIL) return BAIL;
        if (b instanceof MissingKey) return b;
        if (typeof b !== 'boolean') return BAIL;
        return typeof a === 'boolean' ? b : undecided(a);
      };
    }
    case '==':
    case '!=': {
      const [l, r] = node.args;
      const left = compileNode(l);
      const right = compileNode(r);
      if (left === undefined || right === undefined) return undefined;
      const equal = node.op === '==';
      return (act) => {
        // cel-js evaluates the left operand first: its error is the outcome.
        const a = left(act);
        if (a === BAIL || a instanceof MissingKey) return a;
        const b = right(act);
        if (b === BAIL || b instanceof MissingKey) return b;
        // Same type only (null with null): CEL's cross-type equality is left to cel-js.
        if (a === null || b === null) return a === null && b === null ? equal : BAIL;
        if (typeof a !== typeof b) return BAIL;
        return (a === b) === equal;
      };
    }
    case '<':
    case '<=':
    case '>':
    case '>=': {
      const [l, r] = node.args;
      const left = compileNode(l);
      const right = compileNode(r);
      if (left === undefined || right === undefined) return undefined;
      const op = node.op;
      return (act) => {
        const a = left(act);
        if (a === BAIL || a instanceof MissingKey) return a;
        const b = right(act);
        if (b instanceof MissingKey) return b;
        // Ints only: string order (code points) and doubles are cel-js's.
        if (typeof a !== 'bigint' || typeof b !== 'bigint') return BAIL;
        return op === '<' ? a < b : op === '<=' ? a <= b : op === '>' ? a > b : a >= b;
      };
    }
    case 'in': {
      const [l, r] = node.args;
      const left = compileNode(l);
      if (left === undefined || r.op !== 'list') return undefined;
      const items = r.args.map(literalOf);
      if (items.length === 0 || items.some((i) => i === undefined || i.value === null)) return undefined;
      const values = items.map((i) => i!.value);
      const type = typeof values[0];
      if (values.some((v) => typeof v !== type)) return undefined;
      const set = new Set<unknown>(values);
      return (act) => {
        const a = left(act);
        return typeof a === type ? set.has(a) : undecided(a);
      };
    }
    case 'call': {
      const [name, args] = node.args;
      if (name === 'has' && args.length === 1) return compileHas(args[0]!);
      return undefined;
    }
    case 'rcall': {
      const [name, receiverNode, args] = node.args;
      if (args.length !== 1) return undefined;
      const receiver = compileNode(receiverNode);
      if (receiver === undefined) return undefined;
      if (name === MATCHES_METHOD) {
        const pattern = literalOf(args[0]!);
        if (pattern === undefined || typeof pattern.value !== 'string') return undefined;
        let re: GoRegexp;
        try {
          re = compileGoRegexp(pattern.value);
        } catch {
          return undefined;
        }
        return (act) => {
          const s = receiver(act);
          return typeof s === 'string' ? re.test(s) : undecided(s);
        };
      }
      const method = Object.hasOwn(STRING_METHODS, name) ? STRING_METHODS[name] : undefined;
      if (method === undefined) return undefined;
      const arg = compileNode(args[0]!);
      if (arg === undefined) return undefined;
      return (act) => {
        // cel-js evaluates a call's operands last to first (the argument, then the receiver): the
        // first error met is the outcome.
        const a = arg(act);
        if (a === BAIL || a instanceof MissingKey) return a;
        const s = receiver(act);
        if (s instanceof MissingKey) return s;
        return typeof s === 'string' && typeof a === 'string' ? method(s, a) : BAIL;
      };
    }
    // Outside the subset: the whole expression is cel-js's.
    case '-_':
    case '-':
    case '?:':
    case '.?':
    case '[?]':
    case '*':
    case '/':
    case '%':
    case '+':
    case 'list':
    case 'map':
      return undefined;
  }
}

/**
 * The fast program of a checked AST (after prepareRegexCalls), or undefined when the expression uses
 * anything outside the subset. The program returns a CEL value, a MissingKey or BAIL; it never throws (an
 * exception, e.g. from a lazy variable's getter, is a BAIL: cel-js then meets it itself).
 */
export function compileFastPath(ast: Node): FastProgram | undefined {
  const fast = compileNode(ast);
  if (fast === undefined) return undefined;
  return (act) => {
    try {
      return fast(act);
    } catch {
      return BAIL;
    }
  };
}
