/**
 * `{{ }}` variable substitution in any JSON value (strings, keys,
 * nested), compiled once.
 *
 * Semantics (Kyverno pkg/engine/variables/vars.go):
 * - variables are found with Kyverno's regex (one nested `{…}` level allowed, for multi-select hashes);
 * - a string that is exactly one variable takes the variable's JSON type; otherwise the text is interpolated
 *   (strings as-is, other values JSON-encoded, null as `null`);
 * - substitution happens once: a substituted value is data and is never scanned for `{{ }}` again (Kyverno
 *   re-scans it; here a process named `{{ to_string(event) }}` stays that text). A variable written inside
 *   another one by the policy author (`{{ f('{{ inner }}') }}`) still works: the inner value is placed into
 *   the string literal / quoted name of the already parsed outer expression, never into its text, so no value
 *   can close the literal or change the expression. A nested variable outside a quoted literal is a load
 *   error. `{{- x }}` means the same as `{{ x }}`;
 * - `\{{ … }}` written in the policy stays literal and loses its backslash (a value's backslashes are kept);
 * - `{{@}}` reads the value at the current pattern location (`RenderOptions.path`) under `request.object`;
 * - on a DELETE request `request.object` reads `request.oldObject`;
 * - a JMESPath error (e.g. `Unknown key`) throws VariableSubstitutionError, except in preconditions mode, where
 *   Kyverno substitutes an empty string.
 * Every JMESPath is parsed at compile time, nested ones included; nothing is parsed at render time.
 */
import { KyvernoRuntimeError } from '../../contracts/errors.js';
import {
  compileJmesPath,
  evaluateJmesPathAst,
  parseJmesPath,
  type ExpressionNode,
  type JmesPathQuery,
} from '../jmespath/index.js';
import { VariableSubstitutionError } from './errors.js';

export { VariableSubstitutionError, describeSubstitutionFailure } from './errors.js';
export {
  MAX_MESSAGE_LENGTH,
  MAX_PAYLOAD_STRING_LENGTH,
  capRendered,
  renderTruncations,
  type TruncationKind,
} from './bounds.js';

export interface RenderOptions {
  /** JSON pointer of the pattern location that `{{@}}` refers to ("/spec/containers/0/image"). */
  readonly path?: string;
}

export interface Template {
  /** True when the value contains no variables: render returns it unchanged. */
  readonly isStatic: boolean;
  /** Throws VariableSubstitutionError when a variable cannot be resolved (rule result: error). */
  render(context: Record<string, unknown>, options?: RenderOptions): unknown;
}

export interface TemplateOptions {
  /** Preconditions resolve a failing variable to "" instead of throwing (Kyverno's preconditions resolver). */
  readonly unresolvedAsEmpty?: boolean;
  /** JSON pointer prefix used in error messages ("/preconditions/all/0/key"). */
  readonly basePath?: string;
}

/** Kyverno's `RegexVariables`: group 1 is the preceding character (or start), group 2 the variable. */
const VARIABLE = /(^|[^\\])(\{\{(?:\{[^{}]*\}|[^{}])*\}\})/g;

/** True when `s` holds at least one `{{ }}` variable. */
export function hasVariables(s: string): boolean {
  // Every variable starts with "{{": most strings (rendered messages, plain values) have none.
  if (!s.includes('{{')) return false;
  VARIABLE.lastIndex = 0;
  return VARIABLE.test(s);
}

/**
 * Placeholders for nested variables while the outer text is parsed: private-use characters, which a JMESPath
 * identifier cannot contain, so a placeholder parses only inside a quoted literal or name.
 */
const MARK_OPEN = '\uE000';
const MARK_CLOSE = '\uE001';
const MARKER = /\uE000(\d+)\uE001/g;
/** Deeper nesting than this is refused at load time (Kyverno's policies nest one level). */
const MAX_NESTING = 8;

/** A policy text that cannot be compiled as a template (load time; the loader adds file:line:col). */
export class TemplateCompileError extends KyvernoRuntimeError {
  constructor(message: string) {
    super('E_TEMPLATE_COMPILE', message);
  }
}

interface CompiledVariable {
  /** Text inside the braces, trimmed, nested variables shown as written (error messages). */
  readonly variable: string;
  readonly usesCurrent: boolean;
  readonly query: JmesPathQuery | undefined;
  /** Same query with request.object → request.oldObject, for DELETE requests. */
  readonly deleteQuery: JmesPathQuery | undefined;
  /** Present when the author nested variables inside this one. */
  readonly nested: NestedQuery | undefined;
  /** The last substitution failure, thrown again for the same cause at the same path (resolve). */
  lastFailure: VariableSubstitutionError | undefined;
}

/** An outer expression parsed with placeholders; each render puts the inner values into a copy of the tree. */
interface NestedQuery {
  /** Each nested variable with the number of its placeholder. */
  readonly children: readonly { readonly index: number; readonly variable: CompiledVariable }[];
  readonly ast: ExpressionNode;
  readonly deleteAst: ExpressionNode | undefined;
}

interface Settings {
  readonly unresolvedAsEmpty: boolean;
}

/** `raw` with placeholders (`\uE000i\uE001`) shown as the variables they stand for. */
function display(raw: string, vars: readonly CompiledVariable[]): string {
  return raw.replace(MARKER, (_, i: string) => `{{ ${vars[Number(i)]!.variable} }}`);
}

function compileVariable(raw: string, vars: readonly CompiledVariable[]): CompiledVariable {
  let inner = raw.slice(2, -2);
  if (inner.startsWith('-')) inner = inner.slice(1);
  return compileExpression(inner.trim(), vars);
}

/** A JMESPath expression whose nested variables are placeholders numbered into `vars`. */
function compileExpression(text: string, vars: readonly CompiledVariable[]): CompiledVariable {
  const variable = display(text, vars);
  const usesCurrent = text === '@' || text.startsWith('@.') || text.startsWith('@[');
  const children = [...text.matchAll(MARKER)].map((m) => ({
    index: Number(m[1]),
    variable: vars[Number(m[1])]!,
  }));
  const base = { variable, usesCurrent, lastFailure: undefined };
  if (children.length > 0) {
    if (usesCurrent) throw new TemplateCompileError(`{{ ${variable} }}: {{@}} cannot hold a nested variable`);
    const nested: NestedQuery = {
      children,
      ast: parseNested(text, variable),
      deleteAst: text.includes('request.object')
        ? parseNested(text.replaceAll('request.object', 'request.oldObject'), variable)
        : undefined,
    };
    return { ...base, query: undefined, deleteQuery: undefined, nested };
  }
  if (usesCurrent) return { ...base, query: undefined, deleteQuery: undefined, nested: undefined };
  const query = compileJmesPath(text);
  const deleteQuery = text.includes('request.object')
    ? compileJmesPath(text.replaceAll('request.object', 'request.oldObject'))
    : undefined;
  return { ...base, query, deleteQuery, nested: undefined };
}

/**
 * Parses an outer expression whose nested variables are placeholders, and checks that each placeholder
 * landed in a string literal, a JSON literal or a quoted name: the only places where a value is data.
 */
function parseNested(text: string, shown: string): ExpressionNode {
  let ast: ExpressionNode;
  try {
    ast = parseJmesPath(text);
  } catch (e) {
    // With plain letters in their place the text parses: the placeholders were outside any quotes.
    let bare = false;
    try {
      parseJmesPath(text.replace(MARKER, 'x'));
      bare = true;
    } catch {
      // a syntax error of its own, reported below
    }
    if (bare)
      throw new TemplateCompileError(
        `{{ ${shown} }}: a nested variable must sit inside a quoted literal ('…', "…" or a JSON string in \`…\`), ` +
          'so that its value stays data',
      );
    throw new TemplateCompileError(`{{ ${shown} }}: ${(e as Error).message.replace(MARKER, '…')}`);
  }
  const found = new Set<string>();
  checkPlaceholders(ast, found, shown);
  const expected = [...text.matchAll(MARKER)].map((m) => m[1]!);
  if (expected.some((i) => !found.has(i)))
    throw new TemplateCompileError(`{{ ${shown} }}: a nested variable is not in a quoted literal`);
  return ast;
}

/** Walks the tree: placeholders may appear in Literal values, Field names and multi-select hash keys only. */
function checkPlaceholders(node: unknown, found: Set<string>, shown: string): void {
  if (Array.isArray(node)) {
    for (const n of node) checkPlaceholders(n, found, shown);
    return;
  }
  if (typeof node !== 'object' || node === null) return;
  const rec = node as Record<string, unknown>;
  for (const [k, v] of Object.entries(rec)) {
    if (typeof v === 'string') {
      if (!v.includes(MARK_OPEN)) continue;
      const allowed =
        (k === 'name' && (rec['type'] === 'Field' || rec['type'] === 'KeyValuePair')) ||
        (k === 'value' && rec['type'] === 'Literal');
      if (!allowed)
        throw new TemplateCompileError(`{{ ${shown} }}: a nested variable must sit inside a quoted literal`);
      for (const m of v.matchAll(MARKER)) found.add(m[1]!);
    } else if (k === 'value' && rec['type'] === 'Literal') {
      collectLiteralMarkers(v, found);
    } else {
      checkPlaceholders(v, found, shown);
    }
  }
}

/** Placeholders inside a JSON literal's strings and keys (all of which are data). */
function collectLiteralMarkers(v: unknown, found: Set<string>): void {
  if (typeof v === 'string') {
    for (const m of v.matchAll(MARKER)) found.add(m[1]!);
  } else if (Array.isArray(v)) {
    for (const e of v) collectLiteralMarkers(e, found);
  } else if (typeof v === 'object' && v !== null) {
    for (const [k, e] of Object.entries(v)) {
      collectLiteralMarkers(k, found);
      collectLiteralMarkers(e, found);
    }
  }
}

/**
 * A copy of `node` with every placeholder in a string replaced by its value's text. Only strings change
 * (checkPlaceholders made sure they are literals and names), so a value can never alter the tree's shape.
 */
function instantiate(node: unknown, values: readonly string[]): unknown {
  if (typeof node === 'string')
    return node.includes(MARK_OPEN) ? node.replace(MARKER, (_, i: string) => values[Number(i)]!) : node;
  if (Array.isArray(node)) return node.map((n) => instantiate(n, values));
  if (typeof node !== 'object' || node === null) return node;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(node)) out[instantiate(k, values) as string] = instantiate(v, values);
  return out;
}

/** JSON pointer → JMESPath under request.object ("/spec/containers/0" → request.object.spec.containers[0]). */
function pointerToJmesPath(pointer: string): string {
  let out = 'request.object';
  for (const raw of pointer.split('/').slice(1)) {
    if (raw === '') continue;
    const seg = raw.replaceAll('~1', '/').replaceAll('~0', '~');
    out += /^\d+$/.test(seg) ? `[${seg}]` : `.${JSON.stringify(seg)}`;
  }
  return out;
}

function isDelete(context: Record<string, unknown>): boolean {
  const req = context['request'];
  return (
    typeof req === 'object' && req !== null && (req as Record<string, unknown>)['operation'] === 'DELETE'
  );
}

/**
 * The value of `v`. The usual variable, a plain path, is decided here; `{{@}}` and nested variables
 * take resolveSpecial, kept out of line so this per-event function stays small enough to inline.
 */
function resolve(
  v: CompiledVariable,
  context: Record<string, unknown>,
  path: string,
  settings: Settings,
  options: RenderOptions | undefined,
  data: unknown,
): unknown {
  try {
    if (v.query !== undefined) {
      const q = v.deleteQuery !== undefined && isDelete(context) ? v.deleteQuery : v.query;
      return q(data);
    }
    return resolveSpecial(v, context, path, settings, options, data);
  } catch (e) {
    if (settings.unresolvedAsEmpty) return '';
    throw substitutionFailure(v, path, e);
  }
}

/** `{{@}}` (relative to the pattern location) and variables with nested variables. */
function resolveSpecial(
  v: CompiledVariable,
  context: Record<string, unknown>,
  path: string,
  settings: Settings,
  options: RenderOptions | undefined,
  data: unknown,
): unknown {
  if (v.usesCurrent) {
    const expr = pointerToJmesPath(options?.path ?? '') + v.variable.slice(1);
    return compileJmesPath(expr)(context);
  }
  const { children, ast, deleteAst } = v.nested!;
  // Placeholders are numbered across the whole template; only this variable's are filled.
  const values: string[] = [];
  for (const c of children)
    values[c.index] = toText(resolve(c.variable, context, path, settings, options, context));
  const tree = deleteAst !== undefined && isDelete(context) ? deleteAst : ast;
  return evaluateJmesPathAst(instantiate(tree, values) as ExpressionNode, data, v.variable);
}

/**
 * The error for a variable that cannot be resolved. The same variable failing at the same place for
 * the same cause (fieldPathQuery throws one error per missing key) is one error, built once: on the
 * runtime path that is every event lacking the field, and building it each time cost more than the rule.
 */
function substitutionFailure(v: CompiledVariable, path: string, cause: unknown): VariableSubstitutionError {
  const last = v.lastFailure;
  if (last !== undefined && last.cause === cause && last.path === path) return last;
  return (v.lastFailure = new VariableSubstitutionError(v.variable, path, cause));
}

function toText(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v === undefined) return 'null';
  return JSON.stringify(v);
}

/** `\{{` written in the policy text stays literal without its backslash (never applied to values). */
function unescape(s: string): string {
  return s.includes('\\{{') ? s.replaceAll('\\{{', '{{') : s;
}

type Segment = string | CompiledVariable;

/**
 * Splits policy text into literal text and variables. Variables are found innermost first, as Kyverno's
 * repeated scans find them, but over the policy's own text only: each found variable becomes a placeholder,
 * so an enclosing variable is found on the next scan with its nested ones as placeholders.
 */
function compileSegments(s: string): Segment[] {
  const vars: CompiledVariable[] = [];
  const text = replaceVariables(s, vars);
  const segments: Segment[] = [];
  let last = 0;
  for (const m of text.matchAll(MARKER)) {
    if (m.index > last) segments.push(unescape(text.slice(last, m.index)));
    segments.push(vars[Number(m[1])]!);
    last = m.index + m[0].length;
  }
  if (last < text.length) segments.push(unescape(text.slice(last)));
  return segments;
}

/** `s` with every variable, innermost first, compiled into `vars` and replaced by its placeholder. */
function replaceVariables(s: string, vars: CompiledVariable[]): string {
  if (s.includes(MARK_OPEN) || s.includes(MARK_CLOSE))
    throw new TemplateCompileError('U+E000 and U+E001 are reserved in text with {{ }} variables');
  let text = s;
  for (let depth = 0; hasVariables(text); depth++) {
    if (depth === MAX_NESTING)
      throw new TemplateCompileError(
        `variables nested more than ${MAX_NESTING} deep: ${display(text, vars)}`,
      );
    let out = '';
    let last = 0;
    VARIABLE.lastIndex = 0;
    for (let m = VARIABLE.exec(text); m !== null; m = VARIABLE.exec(text)) {
      const start = m.index + m[1]!.length;
      out += text.slice(last, start);
      vars.push(compileVariable(m[2]!, vars));
      out += `${MARK_OPEN}${vars.length - 1}${MARK_CLOSE}`;
      last = start + m[2]!.length;
      // Each match consumes the character before `{{`; step back one so "{{a}}{{b}}" yields both in one pass.
      VARIABLE.lastIndex = last - 1;
    }
    text = out + text.slice(last);
  }
  return text;
}

/** Substitutes each variable once; a lone variable keeps its JSON type. Values are never scanned again. */
function substitute(
  segments: readonly Segment[],
  context: Record<string, unknown>,
  path: string,
  settings: Settings,
  options: RenderOptions | undefined,
): unknown {
  if (segments.length === 1 && typeof segments[0] !== 'string')
    return resolve(segments[0]!, context, path, settings, options, context);
  let out = '';
  for (const seg of segments)
    out += typeof seg === 'string' ? seg : toText(resolve(seg, context, path, settings, options, context));
  return out;
}

const STATIC_TEMPLATE = (value: unknown): Template => ({ isStatic: true, render: () => value });

function compileString(s: string, path: string, settings: Settings): Template {
  if (!hasVariables(s)) return STATIC_TEMPLATE(unescape(s));
  const segments = compileSegments(s);
  return {
    isStatic: false,
    render: (context, options) => substitute(segments, context, path, settings, options),
  };
}

function compileValue(value: unknown, path: string, settings: Settings): Template {
  if (typeof value === 'string') return compileString(value, path, settings);
  if (Array.isArray(value)) {
    const items = value.map((v, i) => compileValue(v, `${path}/${i}`, settings));
    if (items.every((t) => t.isStatic)) return STATIC_TEMPLATE(value);
    return {
      isStatic: false,
      render: (context, options) => items.map((t) => t.render(context, options)),
    };
  }
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value).map(([k, v]) => {
      const childPath = `${path}/${k.replaceAll('~', '~0').replaceAll('/', '~1')}`;
      return { key: compileString(k, childPath, settings), value: compileValue(v, childPath, settings) };
    });
    if (entries.every((e) => e.key.isStatic && e.value.isStatic)) return STATIC_TEMPLATE(value);
    return {
      isStatic: false,
      render(context, options) {
        const out: Record<string, unknown> = {};
        // A rendered key may be "__proto__" (data): define it, never assign the prototype.
        for (const e of entries)
          Object.defineProperty(out, toText(e.key.render(context, options)), {
            value: e.value.render(context, options),
            enumerable: true,
            writable: true,
            configurable: true,
          });
        return out;
      },
    };
  }
  return STATIC_TEMPLATE(value);
}

/** Compiles every `{{ }}` in `value` (strings, object keys, nested arrays/objects) once. */
export function compileTemplate(value: unknown, options: TemplateOptions = {}): Template {
  return compileValue(value, options.basePath ?? '', {
    unresolvedAsEmpty: options.unresolvedAsEmpty ?? false,
  });
}

/** A JMESPath expression written with `{{ }}` variables in it (foreach `list`, context `jmesPath`). */
export interface QueryTemplate {
  /** Evaluates the expression over `data`; its variables read `context`. Throws like Template.render. */
  evaluate(data: unknown, context: Record<string, unknown>): unknown;
}

/**
 * Compiles an expression field. Kyverno substitutes the variables into the text and then parses it; here the
 * text is parsed once, with each variable's value put into the quoted literal that holds it, so a value can
 * never become part of the expression. A whole-field `{{ expr }}` is read as `expr` (Kyverno accepts both).
 */
export function compileQueryTemplate(expression: string, options: TemplateOptions = {}): QueryTemplate {
  const settings = { unresolvedAsEmpty: options.unresolvedAsEmpty ?? false };
  const path = options.basePath ?? '';
  let text = expression.trim();
  VARIABLE.lastIndex = 0;
  const whole = VARIABLE.exec(text);
  if (whole !== null && whole.index === 0 && whole[2]!.length === text.length)
    text = text.slice(2, -2).trim();
  const vars: CompiledVariable[] = [];
  const compiled = compileExpression(replaceVariables(text, vars), vars);
  return { evaluate: (data, context) => resolve(compiled, context, path, settings, undefined, data) };
}
