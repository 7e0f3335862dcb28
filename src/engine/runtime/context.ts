/**
 * Rule `context` entries on the event path: `variable` (value / jmesPath / default) is evaluated over
 * the rule's context; `configMap`, `apiCall` and `globalReference` read a ContextProvider (a cache in
 * cluster mode, a context file in local mode). Everything was compiled at load: a jmesPath here is a
 * compiled query whose `{{ }}` values are data, and apiCall paths URL-encode what they substitute.
 */
import type { CompiledContextEntry, UrlTemplate } from '../api/compiled-policy.js';
import type { ContextProvider } from '../api/runtime.js';
import { compileTemplate, type Template } from '../variables/index.js';
import { ContextLoadError, loadContextEntries, setDotted } from '../validate/context.js';

const NONE: ReadonlySet<string> = new Set();

/** Loads the entries into `ctx` (mutated), in order: a later entry may read an earlier one. */
export function loadRuntimeContext(
  entries: readonly CompiledContextEntry[],
  ctx: Record<string, unknown>,
  provider: ContextProvider | undefined,
): void {
  for (const entry of entries) {
    if (entry.type === 'variable') {
      loadContextEntries([entry], ctx, NONE);
      continue;
    }
    if (!provider)
      throw new ContextLoadError(`context entry ${entry.name}: no ${entry.type} data in this mode`);
    let value: unknown;
    if (entry.configMap) {
      const name = scalarText(entry.configMap.name.render(ctx));
      const namespace = scalarText(entry.configMap.namespace.render(ctx));
      value = provider.configMap(namespace === '' ? 'default' : namespace, name);
      if (value === undefined)
        throw new ContextLoadError(`context entry ${entry.name}: ConfigMap ${namespace}/${name} not found`);
    } else if (entry.apiCall) {
      const path = entry.apiCall.urlPath.render(ctx);
      value = provider.apiCall(path);
      if (value === undefined)
        throw new ContextLoadError(`context entry ${entry.name}: no answer for GET ${path}`);
      if (entry.apiCall.jmesPath) value = entry.apiCall.jmesPath.evaluate(value, ctx);
    } else if (entry.globalReference) {
      value = provider.globalReference(entry.globalReference.name);
      if (value === undefined)
        throw new ContextLoadError(
          `context entry ${entry.name}: GlobalContextEntry ${entry.globalReference.name} not available`,
        );
      if (entry.globalReference.jmesPath) value = entry.globalReference.jmesPath.evaluate(value, ctx);
    } else {
      throw new ContextLoadError(`context entry ${entry.name}: ${entry.type} is not supported at runtime`);
    }
    setDotted(ctx, entry.name, value);
  }
}

/** A rendered name as text: a non-string (a map from a variable) is its JSON, never "[object Object]". */
function scalarText(v: unknown): string {
  if (v === undefined || v === null) return '';
  return typeof v === 'string' ? v : JSON.stringify(v);
}

// `{{ ... }}` (with one level of nested braces, as Kyverno's variable regex).
const VARIABLE = /\{\{(?:\{[^{}]*\}|[^{}])*\}\}/g;

/**
 * Compiles an apiCall urlPath. Hand-written split rather than a Template render: each variable's value
 * must be URL-encoded on its own, so that `../`, `?` or `#` in event data stay data inside one path
 * segment, and the result is never scanned for variables again.
 */
export function compileUrlTemplate(text: string): UrlTemplate {
  const parts: (string | Template)[] = [];
  let last = 0;
  for (const m of text.matchAll(VARIABLE)) {
    if (m.index > last) parts.push(text.slice(last, m.index));
    parts.push(compileTemplate(m[0]));
    last = m.index + m[0].length;
  }
  if (last < text.length) parts.push(text.slice(last));
  return {
    text,
    render(ctx) {
      let out = '';
      for (const p of parts) {
        if (typeof p === 'string') out += p;
        else {
          const v = p.render(ctx);
          const s = typeof v === 'string' ? v : JSON.stringify(v);
          // Encoding leaves `.` and `..` alone; as a whole segment they would climb the path.
          if (s === '' || s === '.' || s === '..')
            throw new ContextLoadError(`apiCall path ${text}: a substituted value is ${JSON.stringify(s)}`);
          out += encodeURIComponent(s);
        }
      }
      return out;
    },
  };
}
