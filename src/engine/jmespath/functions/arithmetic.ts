/**
 * Kyverno's arithmetic functions (pkg/engine/jmespath/arithmetic.go): operands are numbers, Kubernetes
 * quantities ("1Gi") or Go durations ("1h30m"); a string is read as a quantity first, then as a duration.
 * Quantity and duration results are strings in their canonical forms ("1536Mi", "1h30m0s").
 */
import { formatGoDuration, parseGoDuration } from '../../duration.js';
import {
  addQuantity,
  formatQuantity,
  parseQuantity,
  quantityToNumber,
  subtractQuantity,
  type Quantity,
} from '../../quantity.js';
import { JmesPathFunctionError } from '../errors.js';
import { argArray, argNumber, typeName } from './args.js';
import type { KyvernoFunction } from './types.js';

type Operand =
  | { kind: 'scalar'; value: number }
  | { kind: 'quantity'; value: Quantity }
  | { kind: 'duration'; ns: number };

/** Every reading of an argument: "30m" is both a quantity (30 milli) and a duration (30 minutes). */
interface Readings {
  scalar?: Operand;
  quantity?: Operand;
  duration?: Operand;
}

function readings(fn: string, v: unknown, i: number): Readings {
  if (typeof v === 'number') return { scalar: { kind: 'scalar', value: v } };
  if (typeof v === 'string') {
    const q = parseQuantity(v);
    const ns = parseGoDuration(v);
    const r: Readings = {};
    if (q !== undefined) r.quantity = { kind: 'quantity', value: q };
    if (ns !== undefined) r.duration = { kind: 'duration', ns };
    if (q !== undefined || ns !== undefined) return r;
  }
  throw new JmesPathFunctionError(
    fn,
    `argument ${i + 1} must be a number, a quantity or a duration, got ${typeName(v)} ${JSON.stringify(v)}`,
  );
}

const PAIRINGS: readonly [keyof Readings, keyof Readings][] = [
  ['scalar', 'scalar'],
  ['quantity', 'quantity'],
  ['duration', 'duration'],
  ['quantity', 'scalar'],
  ['scalar', 'quantity'],
  ['duration', 'scalar'],
  ['scalar', 'duration'],
];

/** Picks the first pairing of kinds both arguments support, quantities before durations (Kyverno's order). */
function pair(
  fn: string,
  x: unknown,
  y: unknown,
  allowed: (a: Operand, b: Operand) => boolean,
): [Operand, Operand] {
  const rx = readings(fn, x, 0);
  const ry = readings(fn, y, 1);
  for (const [kx, ky] of PAIRINGS) {
    const a = rx[kx];
    const b = ry[ky];
    if (a !== undefined && b !== undefined && allowed(a, b)) return [a, b];
  }
  throw new JmesPathFunctionError(
    fn,
    `operand types mismatch: ${JSON.stringify(x)} and ${JSON.stringify(y)}`,
  );
}

const sameKind = (a: Operand, b: Operand) => a.kind === b.kind;
const withScalar = (a: Operand, b: Operand) =>
  a.kind === b.kind || a.kind === 'scalar' || b.kind === 'scalar';
const divisible = (a: Operand, b: Operand) =>
  a.kind === b.kind || (b.kind === 'scalar' && a.kind !== 'scalar');

function mismatch(fn: string, a: Operand, b: Operand): never {
  throw new JmesPathFunctionError(fn, `operand types mismatch: ${a.kind} and ${b.kind}`);
}

/** A number as an exact decimal string (quantities parse it without float exponent surprises). */
function decimalString(n: number): string {
  if (!Number.isFinite(n)) throw new JmesPathFunctionError('arithmetic', 'result is not finite');
  const s = n.toFixed(9);
  return s.includes('.') ? s.replace(/0+$/, '').replace(/\.$/, '') : s;
}

function scaleQuantity(q: Quantity, factor: number): string {
  const r = parseQuantity(decimalString(quantityToNumber(q) * factor));
  if (r === undefined) throw new JmesPathFunctionError('arithmetic', 'quantity result out of range');
  return formatQuantity({ ...r, format: q.format });
}

function formatDuration(ns: number): string {
  return formatGoDuration(Math.trunc(ns));
}

export function addOperands(fn: string, a: Operand, b: Operand, sign: 1 | -1): unknown {
  if (a.kind === 'scalar' && b.kind === 'scalar') return a.value + sign * b.value;
  if (a.kind === 'quantity' && b.kind === 'quantity') {
    return formatQuantity(sign === 1 ? addQuantity(a.value, b.value) : subtractQuantity(a.value, b.value));
  }
  if (a.kind === 'duration' && b.kind === 'duration') return formatDuration(a.ns + sign * b.ns);
  return mismatch(fn, a, b);
}

function multiply(a: Operand, b: Operand): unknown {
  if (a.kind === 'scalar' && b.kind === 'scalar') return a.value * b.value;
  if (a.kind === 'quantity' && b.kind === 'scalar') return scaleQuantity(a.value, b.value);
  if (a.kind === 'scalar' && b.kind === 'quantity') return scaleQuantity(b.value, a.value);
  if (a.kind === 'duration' && b.kind === 'scalar') return formatDuration(a.ns * b.value);
  if (a.kind === 'scalar' && b.kind === 'duration') return formatDuration(b.ns * a.value);
  return mismatch('multiply', a, b);
}

function isZero(o: Operand): boolean {
  if (o.kind === 'scalar') return o.value === 0;
  if (o.kind === 'quantity') return o.value.sign === 0;
  return o.ns === 0;
}

function divide(a: Operand, b: Operand): unknown {
  if (isZero(b)) throw new JmesPathFunctionError('divide', 'Zero divisor passed');
  if (a.kind === 'scalar' && b.kind === 'scalar') return a.value / b.value;
  if (a.kind === 'quantity' && b.kind === 'quantity')
    return quantityToNumber(a.value) / quantityToNumber(b.value);
  if (a.kind === 'quantity' && b.kind === 'scalar') return scaleQuantity(a.value, 1 / b.value);
  if (a.kind === 'duration' && b.kind === 'duration') return a.ns / b.ns;
  if (a.kind === 'duration' && b.kind === 'scalar') return formatDuration(a.ns / b.value);
  return mismatch('divide', a, b);
}

function modulo(a: Operand, b: Operand): unknown {
  if (isZero(b)) throw new JmesPathFunctionError('modulo', 'Zero divisor passed');
  if (a.kind === 'scalar' && b.kind === 'scalar') {
    if (!Number.isInteger(a.value) || !Number.isInteger(b.value)) {
      throw new JmesPathFunctionError('modulo', 'Non-integer argument(s) passed for modulo');
    }
    return a.value % b.value;
  }
  if (a.kind === 'quantity' && b.kind === 'quantity') {
    const x = quantityToNumber(a.value);
    const y = quantityToNumber(b.value);
    const r = parseQuantity(decimalString(x % y));
    return r === undefined ? mismatch('modulo', a, b) : formatQuantity({ ...r, format: a.value.format });
  }
  if (a.kind === 'duration' && b.kind === 'duration') return formatDuration(a.ns % b.ns);
  return mismatch('modulo', a, b);
}

function binary(
  name: string,
  description: string,
  allowed: (a: Operand, b: Operand) => boolean,
  op: (a: Operand, b: Operand) => unknown,
): KyvernoFunction {
  return {
    name,
    minArgs: 2,
    maxArgs: 2,
    description,
    call: (args) => {
      const [a, b] = pair(name, args[0], args[1], allowed);
      return op(a, b);
    },
  };
}

export const arithmeticFunctions: readonly KyvernoFunction[] = [
  binary('add', 'add(a, b): numbers, quantities or durations', sameKind, (a, b) =>
    addOperands('add', a, b, 1),
  ),
  binary('subtract', 'subtract(a, b): numbers, quantities or durations', sameKind, (a, b) =>
    addOperands('subtract', a, b, -1),
  ),
  binary(
    'multiply',
    'multiply(a, b): number × number, quantity × number, duration × number',
    withScalar,
    multiply,
  ),
  binary(
    'divide',
    'divide(a, b): same-kind operands give a number; quantity or duration ÷ number',
    divisible,
    divide,
  ),
  binary('modulo', 'modulo(a, b): integers, quantities or durations', sameKind, modulo),
  {
    name: 'sum',
    minArgs: 1,
    maxArgs: 1,
    description: 'sum(list): numbers, quantities or durations of one kind',
    call: (args) => {
      const list = argArray('sum', args, 0);
      if (list.length === 0) throw new JmesPathFunctionError('sum', 'at least one element is required');
      // Validates a single element too: sum(['1Gi']) is '1Gi', sum(['x']) is an error.
      readings('sum', list[0], 0);
      let acc: unknown = list[0];
      for (let i = 1; i < list.length; i++) {
        const [a, b] = pair('sum', acc, list[i], sameKind);
        acc = addOperands('sum', a, b, 1);
      }
      return acc;
    },
  },
  {
    name: 'round',
    minArgs: 2,
    maxArgs: 2,
    description: 'round(n, digits): round half away from zero to `digits` decimals',
    call: (args) => {
      const n = argNumber('round', args, 0);
      const digits = argNumber('round', args, 1);
      if (!Number.isInteger(digits) || digits < 0) {
        throw new JmesPathFunctionError('round', 'digits must be a non-negative integer');
      }
      const f = 10 ** digits;
      return (Math.sign(n) * Math.round(Math.abs(n) * f)) / f;
    },
  },
];
