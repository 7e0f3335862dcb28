/** Why a `{{ }}` variable could not be substituted; Kyverno reports the rule result as `error`. */
import { KyvernoRuntimeError } from '../../contracts/errors.js';
export class VariableSubstitutionError extends KyvernoRuntimeError {
  constructor(
    /** The JMESPath inside the braces, trimmed. */
    readonly variable: string,
    /** JSON pointer of the string that holds the variable ("/validate/message", "" for a bare string). */
    readonly path: string,
    /** The underlying JMESPath error. */
    override readonly cause: unknown,
  ) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    super(
      'E_VARIABLE_SUBSTITUTION',
      `failed to resolve ${variable} at path ${path === '' ? '/' : path}: ${reason}`,
    );
  }
}

/** Kyverno's rule-level wording: `variable substitution failed for rule X: failed to resolve … at path …`. */
export function describeSubstitutionFailure(ruleName: string, error: VariableSubstitutionError): string {
  return `variable substitution failed for rule ${ruleName}: ${error.message}`;
}
