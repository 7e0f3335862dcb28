/**
 * The error catalogue: every error kyverno-runtime raises on purpose has a stable code here. Code,
 * logs and users match on the code, never on the message (messages name files, flags and values and
 * may be reworded). docs/errors.md explains each code and what to do about it; a test keeps the
 * three (this table, the classes, the doc) in step.
 */
export const ERROR_CODES = {
  // Starting up: flags, files and the host.
  E_UNAUTHENTICATED_LISTEN: 'an event input would listen beyond loopback without authentication',
  E_UNSAFE_LISTEN: 'the local API would listen beyond loopback without a token',
  E_TOKEN_FILE: 'a token file cannot be read, is not a regular file, is too large or holds no token',
  E_SOCKET_PATH: 'a unix socket path is taken by something other than a stale socket',
  E_SOURCE_TRUST: 'an input marked trusted for kill does not authenticate its senders',
  E_SENSOR_PREREQUISITES: 'the built-in sensor cannot start (root, BTF, tracefs, bpftrace)',
  E_SENSOR_ATTACH_TIMEOUT: 'bpftrace did not attach its probes in time',
  E_KERNEL_BLOCK_UNAVAILABLE: 'the cgroup connect program of `block` rules cannot be built or attached',
  E_CONTAINER_RUNTIME_LOOKUP: 'the container runtime did not name a container',
  E_KUBECONFIG: 'no usable kubeconfig or in-cluster configuration',
  E_STORE_SCHEMA_TOO_NEW: 'the store was written by a newer kyverno-runtime',
  // Loading policies: each is reported with file:line:col.
  E_CONDITION_COMPILE: 'a condition cannot be compiled',
  E_UNKNOWN_OPERATOR: 'a condition names an operator Kyverno does not have',
  E_PATTERN_REFERENCE: 'a $(…) pattern reference cannot be resolved',
  E_BLOCK_NOT_COMPILABLE: 'a `block` rule cannot be decided in the kernel',
  E_SELECTOR: 'a label selector is invalid',
  E_TEMPLATE_COMPILE: 'a {{ }} variable cannot be compiled',
  E_CEL_COMPILE: 'a CEL expression cannot be compiled',
  E_REGEXP_SYNTAX: 'a regular expression is not valid RE2 (Go) syntax',
  E_CEL_REGEX: 'a constant regular expression in a CEL expression is not valid RE2',
  E_JMESPATH_SYNTAX: 'a JMESPath expression cannot be parsed',
  // Evaluating a rule on an event or resource: a rule error, counted, never a crash.
  E_JMESPATH: 'a JMESPath expression failed',
  E_JMESPATH_NOT_FOUND: 'a JMESPath expression read a key that is not there',
  E_JMESPATH_FUNCTION: 'a JMESPath function was called with arguments it does not take',
  E_VARIABLE_SUBSTITUTION: 'a {{ }} variable could not be resolved',
  E_CEL_EVALUATION: 'a CEL expression failed at run time',
  E_CONTEXT_LOAD: 'a rule context entry could not be loaded',
  // Acting.
  E_WEBHOOK_DESTINATION:
    'a webhook destination is refused (not allowed, or a loopback/link-local/metadata address)',
  E_API_BUDGET: 'the API budget for actions is exhausted',
  // Answers of the local HTTP API (the `error.code` of a 4xx body).
  BAD_REQUEST: 'a query parameter of the local API is invalid',
  STORE_BAD_CURSOR: 'a cursor given to the local API is not one it returned',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/** The base of every catalogued error: `code` is stable, `name` is the class's own. */
export class KyvernoRuntimeError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}
