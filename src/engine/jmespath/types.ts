/**
 * What the interpreter and the function table share: the evaluation context and the table's interface.
 * A leaf (imports nothing of ours) so that the interpreter and the functions do not import each other.
 */

export interface EvalContext {
  readonly root: unknown;
  readonly functions: FunctionTable;
  /** `let` bindings, innermost last. */
  readonly scopes: readonly Record<string, unknown>[];
}

export interface FunctionTable {
  call(name: string, args: unknown[], ctx: EvalContext): unknown;
  has(name: string): boolean;
  names(): string[];
}
