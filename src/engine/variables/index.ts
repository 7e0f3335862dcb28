/**
 * `{{ }}` variable substitution in any JSON value (strings, keys,
 * nested), compiled once.
 *
 * Semantics (Kyverno pkg/engine/variables/vars.go):
 * - variables are found with Kyverno's regex (one nested `{…}` level allowed, for multi-select hashes);
 * - a string that is exactly one variable takes the variable's JSON type; otherwise the text is interpolated
 *   (strings as-is, other values JSON-encoded, null as `null`);
 * - substituted text is re-scanned, so `{{ f('{{ inner }}') }}` works (inner first); `{{- x }}` is not re-scanned;
 * - `\{{ … }}` stays literal and loses its backslash;
 * - `{{@}}` reads the value at the current pattern location (`RenderOptions.path`) under `request.object`;
 * - on a DELETE request `request.object` reads `request.oldObject`;
 * - a JMESPath error (e.g. `Unknown key`) throws VariableSubstitutionError, except in preconditions mode, where
 *   Kyverno substitutes an empty string.
 * Every JMESPath is parsed at compile time; only nested variables (whose text depends on data) are parsed at
 * render time, through the JMESPath compile cache.
 */
import { compileJmesPath, type JmesPathQuery } from '../jmespath/index.js';
import { VariableSubstitutionError } from './errors.js';

export { VariableSubstitutionError, describeSubstitutionFailure } from './errors.js';

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

interface CompiledVariable {
  /** Text inside the braces, trimmed (error messages). */
  readonly variable: string;
  /** `{{- … }}`: result is not re-scanned. */
  readonly shallow: boolean;
  readonly usesCurrent: boolean;
  readonly query: JmesPathQuery | undefined;
  /** Same query with request.object → request.oldObject, for DELETE requests. */
  readonly deleteQuery: JmesPathQuery | undefined;
  /** The last substitution failure, thrown again for the same cause at the same path (resolve). */
  lastFailure: VariableSubstitutionError | undefined;
}

interface Settings {
  readonly unresolvedAsEmpty: boolean;
}

function compileVariable(raw: string): CompiledVariable {
  let inner = raw.slice(2, -2);
  const shallow = inner.startsWith('-');
  if (shallow) inner = inner.slice(1);
  const variable = inner.trim();
  const usesCurrent = variable === '@' || variable.startsWith('@.') || variable.startsWith('@[');
  if (usesCurrent)
    return {
      variable,
      shallow,
      usesCurrent,
      query: undefined,
      deleteQuery: undefined,
      lastFailure: undefined,
    };
  const query = compileJmesPath(variable);
  const deleteQuery = variable.includes('request.object')
    ? compileJmesPath(variable.replaceAll('request.object', 'request.oldObject'))
    : undefined;
  return { variable, shallow, usesCurrent, query, deleteQuery, lastFailure: undefined };
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

function resolve(
  v: CompiledVariable,
  context: Record<string, unknown>,
  path: string,
  settings: Settings,
  options: RenderOptions | undefined,
): unknown {
  try {
    if (v.usesCurrent) {
      const expr = pointerToJmesPath(options?.path ?? '') + v.variable.slice(1);
      return compileJmesPath(expr)(context);
    }
    const q = v.deleteQuery !== undefined && isDelete(context) ? v.deleteQuery : v.query!;
    return q(context);
  } catch (e) {
    if (settings.unresolvedAsEmpty) return '';
    throw substitutionFailure(v, path, e);
  }
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

function unescape(s: string): string {
  // includes() rather than a regex: this runs on every rendered message.
  return s.includes('\\{{') ? s.replaceAll('\\{{', '{{') : s;
}

/** Render-time substitution for text produced by a previous pass (nested variables). */
function substituteDynamic(
  input: string,
  context: Record<string, unknown>,
  path: string,
  settings: Settings,
  options: RenderOptions | undefined,
): unknown {
  let value: unknown = input;
  // Bounded: each pass consumes at least one `{{ }}`; a resolver returning text with new variables could loop.
  for (let pass = 0; pass < 32 && typeof value === 'string' && hasVariables(value); pass++) {
    value = substitutePass(compileSegments(value), context, path, settings, options);
  }
  return typeof value === 'string' ? unescape(value) : value;
}

type Segment = string | CompiledVariable;

function compileSegments(s: string): Segment[] {
  const segments: Segment[] = [];
  let last = 0;
  VARIABLE.lastIndex = 0;
  for (let m = VARIABLE.exec(s); m !== null; m = VARIABLE.exec(s)) {
    const start = m.index + m[1]!.length;
    if (start > last) segments.push(s.slice(last, start));
    segments.push(compileVariable(m[2]!));
    last = start + m[2]!.length;
    // Each match consumes the character before `{{`; step back one so "{{a}}{{b}}" yields both in one pass.
    VARIABLE.lastIndex = last - 1;
  }
  if (last < s.length) segments.push(s.slice(last));
  return segments;
}

/** One substitution pass over compiled segments; a lone variable keeps its JSON type. */
function substitutePass(
  segments: readonly Segment[],
  context: Record<string, unknown>,
  path: string,
  settings: Settings,
  options: RenderOptions | undefined,
): unknown {
  if (segments.length === 1 && typeof segments[0] !== 'string') {
    const v = segments[0]!;
    const result = resolve(v, context, path, settings, options);
    return v.shallow && typeof result === 'string' ? result.replaceAll('{{', '\\{{') : result;
  }
  let out = '';
  for (const seg of segments) {
    if (typeof seg === 'string') {
      out += seg;
    } else {
      const text = toText(resolve(seg, context, path, settings, options));
      out += seg.shallow ? text.replaceAll('{{', '\\{{') : text;
    }
  }
  return out;
}

const STATIC_TEMPLATE = (value: unknown): Template => ({ isStatic: true, render: () => value });

function compileString(s: string, path: string, settings: Settings): Template {
  if (!hasVariables(s)) return STATIC_TEMPLATE(unescape(s));
  const segments = compileSegments(s);
  return {
    isStatic: false,
    render(context, options) {
      const value = substitutePass(segments, context, path, settings, options);
      if (typeof value !== 'string') return value;
      return hasVariables(value)
        ? substituteDynamic(value, context, path, settings, options)
        : unescape(value);
    },
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
        for (const e of entries)
          out[toText(e.key.render(context, options))] = e.value.render(context, options);
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
