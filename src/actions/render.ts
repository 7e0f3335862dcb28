/**
 * {{ }} variables in action fields, rendered with the expressions engine's compileTemplate: substituted
 * once (a value from the event is never read as a template), and every string a variable produced is cut at
 * MAX_PAYLOAD_STRING_LENGTH (counted as kind "action").
 */
import { capRendered, compileTemplate, MAX_PAYLOAD_STRING_LENGTH } from '../engine/variables/index.js';

/** Values without "{{" are returned as they are (no template compilation on the hot path). */
export function render<T>(value: T, variables: Record<string, unknown>): T {
  return renderValue(value, variables) as T;
}

function renderValue(value: unknown, variables: Record<string, unknown>): unknown {
  if (typeof value === 'string') {
    if (!value.includes('{{')) return value;
    const t = compileTemplate(value);
    return t.isStatic ? t.render(variables) : capStrings(t.render(variables));
  }
  if (Array.isArray(value)) return value.map((v) => renderValue(v, variables));
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    const key = renderValue(k, variables);
    setOwn(out, typeof key === 'string' ? key : JSON.stringify(key), renderValue(v, variables));
  }
  return out;
}

/** Caps every string in a rendered value (a lone `{{ event.process }}` renders an object of event strings). */
function capStrings(value: unknown): unknown {
  if (typeof value === 'string') return capRendered(value, MAX_PAYLOAD_STRING_LENGTH, 'action');
  if (Array.isArray(value)) return value.map(capStrings);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) setOwn(out, capStrings(k) as string, capStrings(v));
  return out;
}

/** A key from data may be "__proto__": define it as an own property instead of assigning the prototype. */
function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

export function renderStrings(
  map: Record<string, string>,
  variables: Record<string, unknown>,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(render(map, variables)))
    out[k] = typeof v === 'string' ? v : capRendered(JSON.stringify(v), MAX_PAYLOAD_STRING_LENGTH, 'action');
  return out;
}
