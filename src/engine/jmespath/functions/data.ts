/** Kyverno's data-shaping and decoding functions (pkg/engine/jmespath/functions.go). */
import { parse as parseYaml } from 'yaml';
import { parseSemVer, parseSemVerRange } from '../../conditions/semver.js';
import { checkBracketDepth, checkDecodeInput, checkValueDepth } from '../../expression-limits.js';
import { JmesPathFunctionError } from '../errors.js';
import { argArray, argObject, argString, typeName } from './args.js';
import { evaluate, type ExpressionNode } from '../interpreter.js';
import { kyvernoFunction as fn, type KyvernoFunction } from './types.js';

/** go-jmespath's max_by/min_by compare strings too (the community runtime only handles numbers there). */
function extremeBy(name: 'max_by' | 'min_by'): KyvernoFunction {
  return {
    name,
    minArgs: 2,
    maxArgs: 2,
    description: `${name}(list, &expr): the element with the ${name === 'max_by' ? 'largest' : 'smallest'} key`,
    call: (a, ctx) => {
      const list = argArray(name, a, 0);
      const expr = a[1];
      if (typeof expr !== 'object' || expr === null || !('expref' in expr)) {
        throw new JmesPathFunctionError(name, 'argument 2 must be an expression reference (&expr)');
      }
      let best: unknown = null;
      let bestKey: string | number | undefined;
      for (const item of list) {
        const key = evaluate(expr as unknown as ExpressionNode, item, ctx);
        if (typeof key !== 'number' && typeof key !== 'string') {
          throw new JmesPathFunctionError(name, 'the key expression must give numbers or strings');
        }
        if (bestKey === undefined || (name === 'max_by' ? key > bestKey : key < bestKey)) {
          best = item;
          bestKey = key;
        }
      }
      return best;
    },
  };
}

export const dataFunctions: readonly KyvernoFunction[] = [
  extremeBy('max_by'),
  extremeBy('min_by'),
  fn(
    'label_match',
    2,
    2,
    'label_match(selector, labels): every selector key has the same value in labels',
    (a) => {
      const selector = argObject('label_match', a, 0);
      const labels = argObject('label_match', a, 1);
      for (const [k, v] of Object.entries(selector)) if (labels[k] !== v) return false;
      return true;
    },
  ),
  fn('parse_json', 1, 1, 'parse_json(s): decode JSON', (a) => {
    const text = argString('parse_json', a, 0);
    try {
      checkDecodeInput('parse_json', text);
      checkBracketDepth('parse_json', text, true);
      return JSON.parse(text) as unknown;
    } catch (e) {
      throw new JmesPathFunctionError('parse_json', (e as Error).message);
    }
  }),
  fn('parse_yaml', 1, 1, 'parse_yaml(s): decode YAML', (a) => {
    const text = argString('parse_yaml', a, 0);
    try {
      checkDecodeInput('parse_yaml', text);
      checkBracketDepth('parse_yaml', text, false);
      const value = (parseYaml(text, { maxAliasCount: 100 }) as unknown) ?? null;
      checkValueDepth('parse_yaml', value);
      return value;
    } catch (e) {
      throw new JmesPathFunctionError('parse_yaml', (e as Error).message);
    }
  }),
  fn('lookup', 2, 2, 'lookup(object|array, key|index): the entry, or null', (a) => {
    const coll = a[0];
    const key = a[1];
    if (Array.isArray(coll)) {
      if (typeof key !== 'number' || !Number.isInteger(key)) {
        throw new JmesPathFunctionError('lookup', 'argument 2 must be an integer index for an array');
      }
      return (coll as unknown[])[key] ?? null;
    }
    if (typeof coll === 'object' && coll !== null) {
      if (typeof key !== 'string')
        throw new JmesPathFunctionError('lookup', 'argument 2 must be a string key for an object');
      return Object.hasOwn(coll, key) ? ((coll as Record<string, unknown>)[key] ?? null) : null;
    }
    throw new JmesPathFunctionError(
      'lookup',
      `argument 1 must be an object or an array, got ${typeName(coll)}`,
    );
  }),
  fn(
    'items',
    3,
    3,
    'items(object|array, keyName, valueName): [{keyName: k, valueName: v}], sorted by key',
    (a) => {
      const keyName = argString('items', a, 1);
      const valueName = argString('items', a, 2);
      const input = a[0];
      if (Array.isArray(input)) {
        return (input as unknown[]).map((v, i) => ({ [keyName]: i, [valueName]: v }));
      }
      const obj = argObject('items', a, 0);
      return Object.keys(obj)
        .sort()
        .map((k) => ({ [keyName]: k, [valueName]: obj[k] }));
    },
  ),
  fn(
    'object_from_lists',
    2,
    2,
    'object_from_lists(keys, values): {keys[i]: values[i]} (missing values are null)',
    (a) => {
      const keys = argArray('object_from_lists', a, 0);
      const values = argArray('object_from_lists', a, 1);
      const out: Record<string, unknown> = {};
      keys.forEach((k, i) => {
        if (typeof k !== 'string')
          throw new JmesPathFunctionError('object_from_lists', 'keys must be strings');
        out[k] = values[i] ?? null;
      });
      return out;
    },
  ),
  fn(
    'semver_compare',
    2,
    2,
    "semver_compare(version, range): blang/semver range check, e.g. '>=1.2.0 <2.0.0'",
    (a) => {
      const version = parseSemVer(argString('semver_compare', a, 0));
      if (version === undefined)
        throw new JmesPathFunctionError('semver_compare', `invalid version ${JSON.stringify(a[0])}`);
      try {
        return parseSemVerRange(argString('semver_compare', a, 1))(version);
      } catch (e) {
        throw new JmesPathFunctionError('semver_compare', (e as Error).message);
      }
    },
  ),
];
