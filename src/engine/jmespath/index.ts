/**
 * CONTRACT (owned by the expressions work; replace the body, keep the signatures):
 * Kyverno's JMESPath dialect: community JMESPath + Kyverno's functions + "Unknown key" errors.
 */
export type JmesPathQuery = (data: unknown) => unknown;

/** Parses once; the returned query throws JmesPathError on Kyverno's error cases. */
export function compileJmesPath(_expression: string): JmesPathQuery {
  throw new Error('not implemented');
}
