/** {{ }} variables in action fields, rendered with the expressions engine's compileTemplate. */
import { compileTemplate } from '../engine/variables/index.js';

/** Values without "{{" are returned as they are (no template compilation on the hot path). */
export function render<T>(value: T, variables: Record<string, unknown>): T {
  if (!hasVariables(value)) return value;
  const t = compileTemplate(value);
  return (t.isStatic ? value : t.render(variables)) as T;
}

function hasVariables(value: unknown): boolean {
  if (typeof value === 'string') return value.includes('{{');
  if (value === null || typeof value !== 'object') return false;
  return JSON.stringify(value).includes('{{');
}

export function renderStrings(
  map: Record<string, string>,
  variables: Record<string, unknown>,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(render(map, variables)))
    out[k] = typeof v === 'string' ? v : JSON.stringify(v);
  return out;
}
