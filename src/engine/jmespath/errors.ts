/**
 * JMESPath errors. Every one of them makes a Kyverno rule result `error`, as in Kyverno.
 */

/** Base class: a query that cannot produce a value. */
export class JmesPathError extends Error {
  constructor(
    message: string,
    readonly expression?: string,
  ) {
    super(message);
    this.name = 'JmesPathError';
  }
}

/** Kyverno's go-jmespath fork: a field path names a key that the object does not have. */
export class JmesPathNotFoundError extends JmesPathError {
  constructor(readonly key: string) {
    super(`Unknown key "${key}" in path`);
    this.name = 'JmesPathNotFoundError';
  }
}

/** The expression does not parse (reported at compile time). */
export class JmesPathSyntaxError extends JmesPathError {
  constructor(message: string, expression: string) {
    super(`failed to parse JMESPath ${JSON.stringify(expression)}: ${message}`, expression);
    this.name = 'JmesPathSyntaxError';
  }
}

/** A function was called with the wrong arity or argument types, or failed (e.g. division by zero). */
export class JmesPathFunctionError extends JmesPathError {
  constructor(
    readonly functionName: string,
    message: string,
  ) {
    super(`JMESPath function '${functionName}': ${message}`);
    this.name = 'JmesPathFunctionError';
  }
}
