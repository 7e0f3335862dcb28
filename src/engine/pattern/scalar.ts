/**
 * Scalar pattern comparison (`pkg/engine/pattern/pattern.go`, `Validate`), compiled once.
 *
 * A pattern leaf is a bool, int, float, null or string. String patterns are split on `|` (OR), then `&`
 * (AND); each trimmed atom gets an operator (`>=`, `<=`, `>`, `<`, `!`, ranges `A-B`/`A!-B`) and is
 * compared in this order: Go duration, Kubernetes quantity, then wildcard string equality. All of that
 * parsing happens at compile time; `test` only parses the resource value.
 */
import { parseGoDurationBig } from '../duration.js';
import { compareQuantity, parseQuantity, type Quantity } from '../quantity.js';
import { compileWildcard, type WildcardMatcher } from '../wildcard.js';
import { goTrimSpace } from './anchor.js';
import {
  bigIntOf,
  goFormatFloatE,
  goFormatFloatF,
  goKind,
  goParseFloat,
  goParseInt,
  numberOf,
} from './go-values.js';
import {
  getOperatorFromStringPattern,
  IN_RANGE_REGEX,
  NOT_IN_RANGE_REGEX,
  type PatternOperator,
} from './operator.js';

/** A compiled scalar check: true when the resource value satisfies the pattern leaf. */
export interface ScalarMatcher {
  test(value: unknown): boolean;
}

type ComparisonOperator = Exclude<PatternOperator, '-' | '!-'>;

/** One operator + operand, with the operand pre-parsed as duration, quantity and wildcard. */
interface CompiledAtom {
  readonly op: ComparisonOperator;
  readonly operand: string;
  readonly duration: bigint | undefined;
  readonly quantity: Quantity | undefined;
  readonly wildcard: WildcardMatcher;
}

type CompiledCondition =
  | { readonly kind: 'atom'; readonly atom: CompiledAtom }
  | { readonly kind: 'inRange'; readonly low: CompiledAtom; readonly high: CompiledAtom }
  | { readonly kind: 'notInRange'; readonly below: CompiledAtom; readonly above: CompiledAtom };

const ALWAYS_FALSE: ScalarMatcher = { test: () => false };

/** `pattern.Validate(value, pattern)` compiled for one pattern leaf. */
export function compileScalarPattern(pattern: unknown): ScalarMatcher {
  switch (goKind(pattern)) {
    case 'bool': {
      const expected = pattern as boolean;
      return { test: (v) => typeof v === 'boolean' && v === expected };
    }
    case 'int': {
      const expected = bigIntOf(pattern);
      return { test: (v) => validateIntPattern(v, expected) };
    }
    case 'float': {
      const expected = numberOf(pattern);
      return { test: (v) => validateFloatPattern(v, expected) };
    }
    case 'nil':
      return { test: validateNilPattern };
    case 'map':
      return { test: validateMapPattern };
    case 'string':
      return compileStringPatterns(pattern as string);
    case 'array': // "arrays are not supported as patterns"
    case 'unknown':
      return ALWAYS_FALSE;
  }
}

/** `Validate(value, pattern)` without caching the compilation (tests, one-off checks). */
export function validateValue(value: unknown, pattern: unknown): boolean {
  return compileScalarPattern(pattern).test(value);
}

/** `validateIntPattern`. */
export function validateIntPattern(value: unknown, pattern: bigint): boolean {
  switch (goKind(value)) {
    case 'int':
      return bigIntOf(value) === pattern;
    case 'float': {
      const f = numberOf(value);
      return f === Math.trunc(f) && Number.isFinite(f) && BigInt(f) === pattern;
    }
    case 'string':
      return goParseInt(value as string) === pattern;
    case 'nil':
    case 'bool':
    case 'map':
    case 'array':
    case 'unknown':
      return false;
  }
}

/** `validateFloatPattern`. */
export function validateFloatPattern(value: unknown, pattern: number): boolean {
  switch (goKind(value)) {
    case 'int':
      return (
        pattern === Math.trunc(pattern) && Number.isFinite(pattern) && BigInt(pattern) === bigIntOf(value)
      );
    case 'float':
      return numberOf(value) === pattern;
    case 'string': {
      const parsed = goParseFloat(value as string);
      return parsed !== undefined && parsed === pattern;
    }
    case 'nil':
    case 'bool':
    case 'map':
    case 'array':
    case 'unknown':
      return false;
  }
}

/** `validateNilPattern`: null, "", 0, 0.0 and false match a null pattern. */
export function validateNilPattern(value: unknown): boolean {
  switch (goKind(value)) {
    case 'nil':
      return true;
    case 'float':
    case 'int':
      return numberOf(value) === 0;
    case 'string':
      return value === '';
    case 'bool':
      return value === false;
    case 'map':
    case 'array':
    case 'unknown':
      return false;
  }
}

/** `validateMapPattern`: only checks that the value is a map. */
export function validateMapPattern(value: unknown): boolean {
  return goKind(value) === 'map';
}

/** `validateStringPatterns`: exact equality, else `|` of `&` of atoms. */
export function validateStringPatterns(value: unknown, pattern: string): boolean {
  return compileStringPatterns(pattern).test(value);
}

/** `validateStringPattern`: one atom (operator prefix or range) against the value. */
export function validateStringPattern(value: unknown, atom: string): boolean {
  return testCondition(compileCondition(atom), value);
}

/** `validateString(value, operand, op)`: duration, then quantity, then wildcard string comparison. */
export function validateStringWithOperator(value: unknown, operand: string, op: PatternOperator): boolean {
  if (op === '-' || op === '!-') return compareString(value, operand, op);
  return testAtom(compileAtom(op, operand), value);
}

/** `compareString`: wildcard equality on the value's Go string form; only `=` and `!` apply. */
export function compareString(value: unknown, operand: string, op: PatternOperator): boolean {
  return compareStringWith(value, compileWildcard(operand), op);
}

/**
 * `convertNumberToString`: nil -> "0", strings as is, float64 -> `%f` ("3.100000"), ints in decimal;
 * undefined (Go error) for bools, maps and arrays.
 */
export function convertNumberToString(value: unknown): string | undefined {
  switch (goKind(value)) {
    case 'nil':
      return '0';
    case 'string':
      return value as string;
    case 'float':
      return goFormatFloatF(numberOf(value));
    case 'int':
      return bigIntOf(value).toString();
    case 'bool':
    case 'map':
    case 'array':
    case 'unknown':
      return undefined;
  }
}

function compileStringPatterns(pattern: string): ScalarMatcher {
  const alternatives = pattern.split('|').map((alt) =>
    trimSpaces(alt)
      .split('&')
      .map((atom) => compileCondition(trimSpaces(atom))),
  );
  return {
    test: (value) => {
      if (value === pattern) return true;
      // Loops rather than some/every: no closure per call (this runs for every pattern leaf).
      for (const all of alternatives) if (allHold(all, value)) return true;
      return false;
    },
  };
}

function allHold(conditions: readonly CompiledCondition[], value: unknown): boolean {
  for (const c of conditions) if (!testCondition(c, value)) return false;
  return true;
}

function compileCondition(atom: string): CompiledCondition {
  const op = getOperatorFromStringPattern(atom);
  if (op === '-') {
    // Equivalent to ">= left" and "<= right" (Kyverno re-enters validateStringPattern with those).
    const [, left, right] = IN_RANGE_REGEX.exec(atom)!;
    return { kind: 'inRange', low: compileAtom('>=', left!), high: compileAtom('<=', right!) };
  }
  if (op === '!-') {
    const [, left, right] = NOT_IN_RANGE_REGEX.exec(atom)!;
    return { kind: 'notInRange', below: compileAtom('<', left!), above: compileAtom('>', right!) };
  }
  return { kind: 'atom', atom: compileAtom(op, goTrimSpace(atom.slice(op.length))) };
}

function compileAtom(op: ComparisonOperator, operand: string): CompiledAtom {
  return {
    op,
    operand,
    duration: parseGoDurationBig(operand),
    quantity: parseQuantity(operand),
    wildcard: compileWildcard(operand),
  };
}

function testCondition(c: CompiledCondition, value: unknown): boolean {
  switch (c.kind) {
    case 'atom':
      return testAtom(c.atom, value);
    case 'inRange':
      return testAtom(c.low, value) && testAtom(c.high, value);
    case 'notInRange':
      return testAtom(c.below, value) || testAtom(c.above, value);
  }
}

function testAtom(atom: CompiledAtom, value: unknown): boolean {
  if (atom.duration !== undefined || atom.quantity !== undefined) {
    const text = convertNumberToString(value);
    if (text !== undefined) {
      if (atom.duration !== undefined) {
        const d = parseGoDurationBig(text);
        if (d !== undefined)
          return compareOrdered(d < atom.duration ? -1 : d > atom.duration ? 1 : 0, atom.op);
      }
      if (atom.quantity !== undefined) {
        const q = parseQuantity(text);
        if (q !== undefined) return compareOrdered(compareQuantity(q, atom.quantity), atom.op);
      }
    }
  }
  return compareStringWith(value, atom.wildcard, atom.op);
}

function compareOrdered(cmp: -1 | 0 | 1, op: ComparisonOperator): boolean {
  switch (op) {
    case '':
      return cmp === 0;
    case '!':
      return cmp !== 0;
    case '>':
      return cmp === 1;
    case '<':
      return cmp === -1;
    case '>=':
      return cmp >= 0;
    case '<=':
      return cmp <= 0;
  }
}

function compareStringWith(value: unknown, wildcard: WildcardMatcher, op: PatternOperator): boolean {
  if (op !== '' && op !== '!') return false; // ">, >=, <, <= are not applicable to strings"
  let text: string;
  switch (goKind(value)) {
    case 'float':
      text = goFormatFloatE(numberOf(value));
      break;
    case 'int':
      text = bigIntOf(value).toString();
      break;
    case 'string':
      text = value as string;
      break;
    case 'bool':
      text = value ? 'true' : 'false';
      break;
    case 'nil':
    case 'map':
    case 'array':
    case 'unknown':
      return false;
  }
  const matched = wildcard.test(text);
  return op === '!' ? !matched : matched;
}

/** Go `strings.Trim(s, " ")`: spaces only, not tabs or newlines. */
function trimSpaces(s: string): string {
  let start = 0;
  let end = s.length;
  while (start < end && s.charCodeAt(start) === 0x20) start++;
  while (end > start && s.charCodeAt(end - 1) === 0x20) end--;
  return s.slice(start, end);
}
