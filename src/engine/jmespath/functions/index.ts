/**
 * The function table: Kyverno's functions first (shadowing community built-ins of the same name with Kyverno's
 * arities, e.g. replace(s, old, new, n), split, items, sum, trim), then the standard JMESPath built-ins served by a
 * private instance of the community runtime (its registry is module-global; ours never touches it).
 */
import { TreeInterpreter, type JSONValue } from '@jmespath-community/jmespath';
import { JmesPathFunctionError } from '../errors.js';
import { evaluate, type ExpressionNode } from '../interpreter.js';
import type { EvalContext, FunctionTable } from '../types.js';
import { arithmeticFunctions } from './arithmetic.js';
import { dataFunctions } from './data.js';
import { generateFunctions } from './generate.js';
import { stringFunctions } from './strings.js';
import { timeFunctions } from './time.js';
import type { KyvernoFunction } from './types.js';

export type { KyvernoFunction } from './types.js';

export const kyvernoFunctions: readonly KyvernoFunction[] = [
  ...stringFunctions,
  ...arithmeticFunctions,
  ...dataFunctions,
  ...timeFunctions,
  ...generateFunctions,
];

interface CommunityRuntime {
  _interpreter: { visit(node: ExpressionNode, value: JSONValue): JSONValue };
  callFunction(name: string, args: unknown[]): JSONValue;
  isRegistered(name: string): boolean;
  getRegistered(): string[];
}

// A private interpreter instance: its Runtime owns a separate copy of the built-in function table.
const InterpreterClass = TreeInterpreter.constructor as new () => { runtime: CommunityRuntime };
const builtins = new InterpreterClass().runtime;
// Expression-reference arguments (sort_by(@, &name)) are evaluated by our walker, with the caller's context.
let currentCtx: EvalContext | undefined;
builtins._interpreter = {
  visit: (node, value) => evaluate(node, value, currentCtx!) as JSONValue,
};

export function createFunctionTable(extra: readonly KyvernoFunction[] = []): FunctionTable {
  const own = new Map<string, KyvernoFunction>();
  for (const f of [...kyvernoFunctions, ...extra]) own.set(f.name, f);
  return {
    call(name, args, ctx) {
      const f = own.get(name);
      if (f !== undefined) {
        if (args.length < f.minArgs || args.length > f.maxArgs) {
          const expected = f.minArgs === f.maxArgs ? `${f.minArgs}` : `${f.minArgs}..${f.maxArgs}`;
          throw new JmesPathFunctionError(name, `expected ${expected} arguments, got ${args.length}`);
        }
        return f.call(args, ctx);
      }
      if (!builtins.isRegistered(name)) throw new JmesPathFunctionError(name, 'unknown function');
      const saved = currentCtx;
      currentCtx = ctx;
      try {
        return builtins.callFunction(name, args);
      } catch (e) {
        if (e instanceof JmesPathFunctionError) throw e;
        throw new JmesPathFunctionError(name, (e as Error).message);
      } finally {
        currentCtx = saved;
      }
    },
    has: (name) => own.has(name) || builtins.isRegistered(name),
    names: () => [...new Set([...own.keys(), ...builtins.getRegistered()])].sort(),
  };
}
