/**
 * JMESPath errors. Every one of them makes a Kyverno rule result `error`, as in Kyverno.
 */
import { KyvernoRuntimeError, type ErrorCode } from '../../contracts/errors.js';

/** Base class: a query that cannot produce a value. */
export class JmesPathError extends KyvernoRuntimeError {
  constructor(
    message: string,
    readonly expression?: string,
    code: ErrorCode = 'E_JMESPATH',
  ) {
    super(code, message);
  }
}

/** Kyverno's go-jmespath fork: a field path names a key that the object does not have. */
export class JmesPathNotFoundError extends JmesPathError {
  constructor(readonly key: string) {
    super(`Unknown key "${key}" in path`, undefined, 'E_JMESPATH_NOT_FOUND');
  }
}

/** The expression does not parse (reported at compile time). */
export class JmesPathSyntaxError extends JmesPathError {
  constructor(message: string, expression: string) {
    super(
      `failed to parse JMESPath ${JSON.stringify(expression)}: ${message}`,
      expression,
      'E_JMESPATH_SYNTAX',
    );
  }
}

/** A function was called with the wrong arity or argument types, or failed (e.g. division by zero). */
export class JmesPathFunctionError extends JmesPathError {
  constructor(
    readonly functionName: string,
    message: string,
  ) {
    super(`JMESPath function '${functionName}': ${message}`, undefined, 'E_JMESPATH_FUNCTION');
  }
}
