/**
 * CEL's `matches` and the Kubernetes regex library (`find`, `findAll`) on RE2 (../regexp.ts), as cel-go runs them.
 *
 * cel-js implements `string.matches(string)` with JavaScript's backtracking RegExp and its registry refuses a
 * second overload of the same signature, so each parsed expression is walked once before type-checking: a
 * `matches` method call is renamed to our `matchesRE2`, and every constant pattern given to `matches`, `find`
 * or `findAll` is compiled there, so a pattern RE2 rejects fails the policy load instead of every event.
 */
import { KyvernoRuntimeError } from '../../contracts/errors.js';
import type { ASTNode, Environment } from '@marcbachmann/cel-js';
import { compileGoRegexp, goRegexpError } from '../regexp.js';

/** The method `x.matches(re)` is rewritten to. Visible only in type errors, which are mapped back. */
export const MATCHES_METHOD = 'matchesRE2';

const REGEX_METHODS = new Set(['matches', 'find', 'findAll']);

/** A constant pattern RE2 rejects, with its offset in the expression. */
export class CelRegexError extends KyvernoRuntimeError {
  constructor(
    readonly offset: number,
    detail: string,
  ) {
    super('E_CEL_REGEX', `${detail} (at offset ${offset} of the expression)`);
  }
}

function isNode(v: unknown): v is ASTNode {
  return typeof v === 'object' && v !== null && 'op' in v && 'args' in v && 'start' in v;
}

function checkConstantPattern(arg: ASTNode | undefined): void {
  if (arg?.op !== 'value' || typeof arg.args !== 'string') return;
  const error = goRegexpError(arg.args);
  if (error !== undefined) throw new CelRegexError(arg.start, error);
}

/**
 * Renames `matches` method calls and checks constant regex arguments, in place. Throws CelRegexError.
 * Iterative with an explicit stack: the parser bounds depth, but this walk should not rely on it.
 */
export function prepareRegexCalls(root: ASTNode): void {
  const stack: unknown[] = [root];
  const seen = new Set<object>();
  while (stack.length > 0) {
    const v = stack.pop();
    if (typeof v !== 'object' || v === null || seen.has(v)) continue;
    seen.add(v);
    if (Array.isArray(v)) {
      for (const x of v) stack.push(x);
      continue;
    }
    if (!isNode(v)) continue;
    if (v.op === 'rcall') {
      const [name, receiver, args] = v.args;
      if (REGEX_METHODS.has(name)) checkConstantPattern(args[0]);
      // cel-js's own `matches` runs JavaScript's RegExp; ours is RE2.
      if (name === 'matches' && args.length === 1) (v.args as unknown[])[0] = MATCHES_METHOD;
      stack.push(receiver, args);
    } else if (v.op === 'call') {
      const [name, args] = v.args;
      if (name === 'matches' && args.length === 2) checkConstantPattern(args[1]);
      stack.push(args);
    } else {
      // Operands, list/map entries, and a macro's comprehension parts (an object of nodes).
      const operands: unknown = v.args;
      if (Array.isArray(operands)) stack.push(operands);
      else if (typeof operands === 'object' && operands !== null) stack.push(Object.values(operands));
    }
  }
}

/** Maps the internal method name back in an error message. */
export function publicRegexMessage(message: string): string {
  return message.replaceAll(MATCHES_METHOD, 'matches');
}

function matches(s: string, re: string): boolean {
  return compileGoRegexp(re).test(s);
}

/** `matches` (method and global form), `find`, `findAll` with Go regexp semantics. */
export function registerRegexLibrary(env: Environment): void {
  env.registerFunction(`string.${MATCHES_METHOD}(string): bool`, matches);
  env.registerFunction('matches(string, string): bool', matches);
  // k8s.io/apiserver/pkg/cel/library/regex.go: no match is "" for find, [] for findAll.
  env.registerFunction(
    'string.find(string): string',
    (s: string, re: string) => compileGoRegexp(re).find(s) ?? '',
  );
  env.registerFunction('string.findAll(string): list<string>', (s: string, re: string) =>
    compileGoRegexp(re).findAll(s),
  );
  env.registerFunction('string.findAll(string, int): list<string>', (s: string, re: string, n: bigint) =>
    // Go's FindAllString takes an int: any negative means all; a huge limit is the same as all.
    compileGoRegexp(re).findAll(s, n < 0n ? -1 : n > BigInt(s.length + 1) ? s.length + 1 : Number(n)),
  );
}
