import type { EvalContext } from '../types.js';

/** A Kyverno JMESPath function: fixed arity range, arguments already evaluated (missing keys read as null). */
export interface KyvernoFunction {
  readonly name: string;
  readonly minArgs: number;
  /** Infinity for variadic functions. */
  readonly maxArgs: number;
  /** One-line description, used by docs and `--help`-style listings. */
  readonly description: string;
  call(args: readonly unknown[], ctx: EvalContext): unknown;
}

/** Builds a KyvernoFunction whose body needs only its arguments (most of them). */
export function kyvernoFunction(
  name: string,
  minArgs: number,
  maxArgs: number,
  description: string,
  call: (args: readonly unknown[]) => unknown,
): KyvernoFunction {
  return { name, minArgs, maxArgs, description, call };
}
