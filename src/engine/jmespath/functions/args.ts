/** Argument coercion helpers shared by the Kyverno function implementations. */
import { JmesPathFunctionError } from '../errors.js';

export function argString(fn: string, args: readonly unknown[], i: number): string {
  const v = args[i];
  if (typeof v !== 'string')
    throw new JmesPathFunctionError(fn, `argument ${i + 1} must be a string, got ${typeName(v)}`);
  return v;
}

/** Kyverno accepts `string|number` for several regex/pattern arguments and formats numbers with `%v`. */
export function argStringOrNumber(fn: string, args: readonly unknown[], i: number): string {
  const v = args[i];
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return String(v);
  throw new JmesPathFunctionError(fn, `argument ${i + 1} must be a string or a number, got ${typeName(v)}`);
}

export function argNumber(fn: string, args: readonly unknown[], i: number): number {
  const v = args[i];
  if (typeof v !== 'number')
    throw new JmesPathFunctionError(fn, `argument ${i + 1} must be a number, got ${typeName(v)}`);
  return v;
}

export function argObject(fn: string, args: readonly unknown[], i: number): Record<string, unknown> {
  const v = args[i];
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw new JmesPathFunctionError(fn, `argument ${i + 1} must be an object, got ${typeName(v)}`);
  }
  return v as Record<string, unknown>;
}

export function argArray(fn: string, args: readonly unknown[], i: number): unknown[] {
  const v = args[i];
  if (!Array.isArray(v))
    throw new JmesPathFunctionError(fn, `argument ${i + 1} must be an array, got ${typeName(v)}`);
  return v as unknown[];
}

export function typeName(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'object') return 'object';
  return typeof v;
}
