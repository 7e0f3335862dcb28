/**
 * CEL with the Kubernetes and Kyverno libraries, compiled once.
 *
 * Engine: @marcbachmann/cel-js (docs/expressions.md explains the choice: it parses CEL optional syntax `?.`,
 * `[?…]`, `.orValue()`, which most Kyverno CEL policies use and @bufbuild/cel 0.6 rejects).
 *
 * Activation: `object`, `oldObject`, `request`, `namespaceObject`, `params`, `event`, … are plain JSON and are
 * converted once per source object (integers → CEL int); `variables` are lazy (validate.cel.variables /
 * ValidatingPolicy spec.variables), each evaluated at most once per activation.
 */
import { Environment } from '@marcbachmann/cel-js';
import { CelCompileError, CelEvaluationError } from './errors.js';
import { registerExtensionLibraries } from './extension-libraries.js';
import { registerKubernetesLibrary } from './kubernetes-library.js';
import { registerKyvernoDataLibrary } from './kyverno-data-library.js';
import { registerKyvernoLibrary, withCelHost, type CelHost } from './kyverno-library.js';
import { registerNetworkLibrary } from './network-library.js';
import {
  CelRegexError,
  prepareRegexCalls,
  publicRegexMessage,
  registerRegexLibrary,
} from './regex-library.js';
import { BAIL, MissingKey, compileFastPath, type FastProgram } from './fast-path.js';
import { referencesOf, type CelReferences } from './references.js';
import { rewriteHasOverCalls, rewriteOrValueOnPlainValues } from './rewrite.js';
import { fromCel, toCel } from './values.js';

export { CelCompileError, CelEvaluationError } from './errors.js';

/** What a runtime rule's CEL (restrict.cel, its variables, celPreconditions) can read. */
export const RUNTIME_CEL_VARIABLES: readonly string[] = [
  'behavior',
  'event',
  'object',
  'request',
  'variables',
];
export type { CelHost } from './kyverno-library.js';
export type { CelReferences, FieldTree } from './references.js';
export { emptyFieldTree, mergeFieldTree } from './references.js';
export { CelQuantity, CelUrl } from './kubernetes-library.js';
export { CelCIDR, CelIP } from './network-library.js';
export { CelSemver } from './extension-libraries.js';
export { CelImage, parseImageReference } from './kyverno-data-library.js';
export { compileProjection, fromCel, toCel, toCelOnce } from './values.js';
export { NOT_RAW, RAW_BINDING, type RawBindingReader } from './fast-path.js';

export interface CelEvaluateOptions {
  /** Data for resource.Get/List, image.GetMetadata and time.now(). */
  readonly host?: CelHost;
}

export interface CelProgram {
  readonly expression: string;
  /** Throws CelEvaluationError on runtime errors (rule result: error). Returns plain JSON (ints as numbers). */
  evaluate(activation: Record<string, unknown>, options?: CelEvaluateOptions): unknown;
  /** The raw CEL value (BigInt ints, Quantity objects…), for chaining CEL results. */
  evaluateRaw(activation: Record<string, unknown>, options?: CelEvaluateOptions): unknown;
  /** True when the expression is in the subset the direct evaluator decides (fast-path.ts). */
  readonly fastPath?: boolean;
}

function createEnvironment(): Environment {
  const env = new Environment({
    // Kubernetes objects are schemaless here: every unknown identifier is `dyn`.
    unlistedVariablesAreDyn: true,
    enableOptionalTypes: true,
    // JSON data mixes types freely ([1, "a"]), as Kubernetes CEL over unstructured objects allows.
    homogeneousAggregateLiterals: false,
  });
  registerKubernetesLibrary(env);
  registerRegexLibrary(env);
  registerKyvernoLibrary(env);
  registerNetworkLibrary(env);
  registerExtensionLibraries(env);
  registerKyvernoDataLibrary(env);
  return env;
}

const environment = createEnvironment();
type Evaluable = ReturnType<Environment['parse']>;

export interface CelCompileOptions {
  /**
   * The variables the expression may read. Without it every unknown identifier is `dyn` (Kubernetes objects
   * are schemaless); with it, a reference to anything else (`evnt.x`) is a compile error, as in cel-go.
   */
  readonly declared?: readonly string[];
  /** False: always interpret with cel-js (the differential test compares both). Default true. */
  readonly fastPath?: boolean;
}

// One strict environment per declared set (there are a handful), each a clone of the full one.
const strictEnvironments = new Map<string, Environment>();

function environmentFor(declared: readonly string[] | undefined): Environment {
  if (declared === undefined) return environment;
  const key = [...new Set(declared)].sort().join(',');
  let env = strictEnvironments.get(key);
  if (env === undefined) {
    env = environment.clone({
      unlistedVariablesAreDyn: false,
      enableOptionalTypes: true,
      homogeneousAggregateLiterals: false,
    });
    for (const name of key.split(',')) if (name !== '') env.registerVariable(name, 'dyn');
    strictEnvironments.set(key, env);
  }
  return env;
}

const prepared = new WeakSet<object>();

/** Converts a JSON activation for CEL once; lazily-bound `variables` and prepared activations pass through. */
export function prepareActivation(activation: Record<string, unknown>): Record<string, unknown> {
  if (activation instanceof PreparedActivation || prepared.has(activation)) return activation;
  return defineBindings({}, activation);
}

/** Copies `bindings` onto `out` as CEL values (lazy `variables` kept as they are) and marks it prepared. */
function defineBindings(
  out: Record<string, unknown>,
  bindings: Record<string, unknown>,
): Record<string, unknown> {
  for (const key of Object.keys(bindings)) {
    const v = bindings[key];
    // Defined, not assigned: the base may have a getter of that name (assigning would throw).
    Object.defineProperty(out, key, {
      value:
        key === 'variables' && v !== null && typeof v === 'object' && lazyVariables.has(v) ? v : toCel(v),
      enumerable: true,
      writable: true,
    });
  }
  prepared.add(out);
  return out;
}

/**
 * Base of activations whose bindings are already CEL values (typically getters that build and
 * convert a binding on first read), read as they are: a rule that reads only `event` then never
 * builds the object, the namespace or the request. A class rather than the WeakSet above: one per
 * event would be a WeakSet entry per event.
 */
export abstract class PreparedActivation {}

/**
 * `base` plus own bindings, reading the rest through the prototype: a lazy base keeps its getters
 * unread (a spread would call every one of them).
 */
export function extendActivation(
  base: Record<string, unknown>,
  extra: Record<string, unknown>,
): Record<string, unknown> {
  return defineBindings(Object.create(prepareActivation(base)) as Record<string, unknown>, extra);
}

function message(e: unknown): string {
  return publicRegexMessage(e instanceof Error ? e.message.split('\n')[0]! : String(e));
}

function parseChecked(expression: string, env: Environment = environment): Evaluable {
  const fn = env.parse(expression);
  prepareRegexCalls(fn.ast);
  const check = fn.check();
  if (!check.valid) throw check.error ?? new Error('type check failed');
  return fn;
}

/** Parses and type-checks once. Throws CelCompileError. */
export function compileCel(expression: string, options: CelCompileOptions = {}): CelProgram {
  const env = environmentFor(options.declared);
  let fn: Evaluable;
  try {
    fn = parseChecked(expression, env);
  } catch (e) {
    if (e instanceof CelRegexError) throw new CelCompileError(expression, e.message);
    const unknown = /^Unknown variable: ([A-Za-z_][A-Za-z0-9_]*)/.exec(message(e));
    if (unknown !== null && options.declared !== undefined)
      throw new CelCompileError(
        expression,
        `undeclared reference to '${unknown[1]!}' (the expression can read: ${[...new Set(options.declared)].sort().join(', ')})`,
      );
    // cel-go accepts has() over any operand; retry with the equivalent form cel-js accepts.
    const rewritten = rewriteHasOverCalls(expression);
    if (rewritten === expression) throw new CelCompileError(expression, message(e));
    try {
      fn = parseChecked(rewritten, env);
    } catch {
      throw new CelCompileError(expression, message(e));
    }
  }
  // Compiled on first need: the variant that tolerates `.orValue()` on non-optional values (see rewrite.ts).
  let lenient: Evaluable | null | undefined;
  const lenientProgram = (): Evaluable | null => {
    if (lenient === undefined) {
      const rewritten = rewriteOrValueOnPlainValues(expression);
      try {
        lenient = rewritten === expression ? null : parseChecked(rewritten, env);
      } catch {
        lenient = null;
      }
    }
    return lenient;
  };
  const run = (program: Evaluable, act: Record<string, unknown>, options?: CelEvaluateOptions): unknown => {
    const result: unknown = withCelHost(options?.host, () => program(act) as unknown);
    if (result instanceof Promise) throw new Error('asynchronous CEL functions are not supported');
    return result;
  };
  // The common expressions on the event path are decided directly, and so is a missing key (the same
  // error as cel-js's); anything else (and every other error) is cel-js's, on the same activation.
  const fast: FastProgram | undefined = options.fastPath === false ? undefined : compileFastPath(fn.ast);
  const evaluateRaw = (activation: Record<string, unknown>, options?: CelEvaluateOptions): unknown => {
    const act = prepareActivation(activation);
    if (fast !== undefined) {
      const decided = fast(act);
      if (decided instanceof MissingKey)
        throw (decided.error ??= new CelEvaluationError(expression, decided.message));
      if (decided !== BAIL) return decided;
    }
    try {
      return run(fn, act, options);
    } catch (e) {
      if (e instanceof CelEvaluationError) throw e;
      const fallback = /receiver must be optional/.test(message(e)) ? lenientProgram() : null;
      if (fallback !== null) {
        try {
          return run(fallback, act, options);
        } catch (e2) {
          if (e2 instanceof CelEvaluationError) throw e2;
          throw new CelEvaluationError(expression, message(e2));
        }
      }
      throw new CelEvaluationError(expression, message(e));
    }
  };
  return {
    expression,
    evaluateRaw,
    evaluate: (activation, options) => fromCel(evaluateRaw(activation, options)),
    fastPath: fast !== undefined,
  };
}

/**
 * The identifiers and `variables.<name>` an expression refers to (references.ts). Throws
 * CelCompileError when the expression does not parse (compileCel reports that first).
 */
export function celReferences(expression: string): CelReferences {
  let fn: Evaluable;
  try {
    fn = environment.parse(expression);
  } catch (e) {
    try {
      fn = environment.parse(rewriteHasOverCalls(expression));
    } catch {
      throw new CelCompileError(expression, message(e));
    }
  }
  return referencesOf(fn.ast);
}

// ---------------------------------------------------------------------------------------------------------------
// Lazy CEL variables

const lazyVariables = new WeakSet<object>();

export interface CelVariableDefinition {
  readonly name: string;
  readonly expression: string;
}

export interface CelVariables {
  readonly names: readonly string[];
  /** A prepared activation whose `variables.<name>` evaluate on first use (once) against it. */
  bind(activation: Record<string, unknown>, options?: CelEvaluateOptions): Record<string, unknown>;
}

function parseDefinitions(defs: unknown, what: string): CelVariableDefinition[] {
  if (defs === undefined || defs === null) return [];
  if (!Array.isArray(defs)) throw new CelCompileError('', `${what} must be a list`);
  return defs.map((d: unknown, i) => {
    const r = d as Record<string, unknown> | null;
    if (typeof r?.['expression'] !== 'string')
      throw new CelCompileError('', `${what}[${i}].expression must be a string`);
    return { name: typeof r['name'] === 'string' ? r['name'] : `${i}`, expression: r['expression'] };
  });
}

export function compileCelVariables(definitions: unknown, options: CelCompileOptions = {}): CelVariables {
  const defs = parseDefinitions(definitions, 'variables').map((d) => ({
    name: d.name,
    program: compileCel(d.expression, options),
  }));
  return {
    names: defs.map((d) => d.name),
    bind(activation, options) {
      const vars: Record<string, unknown> = {};
      lazyVariables.add(vars);
      const act = extendActivation(activation, { variables: vars });
      for (const d of defs) {
        let done = false;
        let value: unknown;
        Object.defineProperty(vars, d.name, {
          enumerable: true,
          get() {
            if (!done) {
              value = d.program.evaluateRaw(act, options);
              done = true;
            }
            return value;
          },
        });
      }
      return act;
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// validate.cel.expressions / ValidatingPolicy validations / match conditions

export interface CelValidationOutcome {
  passed: boolean;
  /** For a failure: messageExpression's result, else `message`, else "failed expression: <expression>". */
  message?: string;
  /** The failing expression. */
  expression?: string;
  /** The validation's `reason`, when given. */
  reason?: string;
}

export interface CompiledCelValidations {
  /** Evaluates in order; the first failing validation decides. Throws CelEvaluationError (rule result: error). */
  evaluate(activation: Record<string, unknown>, options?: CelEvaluateOptions): CelValidationOutcome;
}

interface CompiledValidation {
  readonly program: CelProgram;
  readonly message: string | undefined;
  readonly messageExpression: CelProgram | undefined;
  readonly reason: string | undefined;
}

/**
 * Compiles `validations` (a list of {expression, message?, messageExpression?, reason?}) with the optional CEL
 * `variables` they may reference.
 */
export function compileCelValidations(validations: unknown, variables?: unknown): CompiledCelValidations {
  if (!Array.isArray(validations)) throw new CelCompileError('', 'validations must be a list');
  const vars = compileCelVariables(variables);
  const compiled: CompiledValidation[] = validations.map((v: unknown, i) => {
    const r = v as Record<string, unknown> | null;
    const expression = r?.['expression'];
    if (typeof expression !== 'string')
      throw new CelCompileError('', `validations[${i}].expression must be a string`);
    const msg = r?.['message'];
    const msgExpr = r?.['messageExpression'];
    const reason = r?.['reason'];
    return {
      program: compileCel(expression),
      message: typeof msg === 'string' && msg !== '' ? msg : undefined,
      messageExpression: typeof msgExpr === 'string' && msgExpr !== '' ? compileCel(msgExpr) : undefined,
      reason: typeof reason === 'string' ? reason : undefined,
    };
  });
  return {
    evaluate(activation, options) {
      const act = vars.bind(activation, options);
      for (const v of compiled) {
        const result = v.program.evaluateRaw(act, options);
        if (typeof result !== 'boolean') {
          throw new CelEvaluationError(v.program.expression, `expected a bool result, got ${typeof result}`);
        }
        if (result) continue;
        let text: string | undefined;
        if (v.messageExpression !== undefined) {
          // Kubernetes: a failing or non-string messageExpression falls back to `message`.
          try {
            const m = v.messageExpression.evaluateRaw(act, options);
            if (typeof m === 'string' && m.trim() !== '') text = m;
          } catch {
            text = undefined;
          }
        }
        return {
          passed: false,
          message: text ?? v.message ?? `failed expression: ${v.program.expression}`,
          expression: v.program.expression,
          ...(v.reason === undefined ? {} : { reason: v.reason }),
        };
      }
      return { passed: true };
    },
  };
}

export interface CompiledCelConditions {
  /** True when every condition holds (matchConditions / celPreconditions); names the first that did not. */
  evaluate(
    activation: Record<string, unknown>,
    options?: CelEvaluateOptions,
  ): { matched: boolean; failed?: string };
}

/** `matchConditions` / `celPreconditions`: a list of {name, expression} that must all be true. */
export function compileCelConditions(conditions: unknown, variables?: unknown): CompiledCelConditions {
  const defs = parseDefinitions(conditions, 'conditions').map((d) => ({
    name: d.name,
    program: compileCel(d.expression),
  }));
  const vars = compileCelVariables(variables);
  return {
    evaluate(activation, options) {
      const act = vars.bind(activation, options);
      for (const d of defs) {
        const r = d.program.evaluateRaw(act, options);
        if (typeof r !== 'boolean')
          throw new CelEvaluationError(d.program.expression, 'expected a bool result');
        if (!r) return { matched: false, failed: d.name };
      }
      return { matched: true };
    },
  };
}
