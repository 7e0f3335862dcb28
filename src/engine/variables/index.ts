/**
 * CONTRACT (owned by the expressions work; replace the body, keep the signatures):
 * `{{ }}` variable substitution in any JSON value (strings, keys, nested), compiled once.
 */
export interface Template {
  /** True when the value contains no variables: render returns it unchanged. */
  readonly isStatic: boolean;
  /** Throws VariableSubstitutionError when a variable cannot be resolved (rule result: error). */
  render(context: Record<string, unknown>): unknown;
}

export function compileTemplate(_value: unknown): Template {
  throw new Error('not implemented');
}
