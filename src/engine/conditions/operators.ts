/**
 * Kyverno's condition operators (`pkg/engine/variables/operator/*.go`), ported case by case, asymmetries included
 * (Kyverno's own operator test vectors are replayed as unit tests):
 * - Equals dispatches on the key's type; for a string key the wildcard pattern is the *value*;
 * - NotEquals is the negation of Equals, so a type mismatch is `true`;
 * - the *In family compares stringified scalars (Go `fmt.Sprint`) with wildcards both ways; In/NotIn (deprecated)
 *   compare a key list exactly;
 * - GreaterThan… try durations, then quantities, then numbers, then semver;
 * - Duration… (deprecated) read numbers as seconds.
 */
import { KyvernoRuntimeError } from '../../contracts/errors.js';
import { parseGoDuration as parseGoDurationExact } from '../duration.js';
import { compareQuantity, parseQuantity } from '../quantity.js';
import { compileWildcard, type WildcardMatcher } from '../wildcard.js';
import {
  deepEqual,
  goSprint,
  isPlainObject,
  parseGoFloat,
  parseGoInt,
  parseJsonStringArray,
} from '../pattern/go-values.js';
import { compareSemVer, parseSemVer } from './semver.js';

export const CONDITION_OPERATORS = [
  'Equal',
  'Equals',
  'NotEqual',
  'NotEquals',
  'In',
  'AnyIn',
  'AllIn',
  'NotIn',
  'AnyNotIn',
  'AllNotIn',
  'GreaterThanOrEquals',
  'GreaterThan',
  'LessThanOrEquals',
  'LessThan',
  'DurationGreaterThanOrEquals',
  'DurationGreaterThan',
  'DurationLessThanOrEquals',
  'DurationLessThan',
] as const;
export type ConditionOperator = (typeof CONDITION_OPERATORS)[number];

/** The Go handler type Kyverno instantiates for an operator (`CreateOperatorHandler`). */
export type OperatorHandlerName =
  | 'EqualHandler'
  | 'NotEqualHandler'
  | 'InHandler'
  | 'AnyInHandler'
  | 'AllInHandler'
  | 'NotInHandler'
  | 'AnyNotInHandler'
  | 'AllNotInHandler'
  | 'NumericOperatorHandler'
  | 'DurationOperatorHandler';

const BY_LOWER: ReadonlyMap<string, ConditionOperator> = new Map(
  CONDITION_OPERATORS.map((o) => [o.toLowerCase(), o]),
);

/** Resolves an operator name case-insensitively, as Kyverno does; undefined when unknown. */
export function normalizeOperator(name: string): ConditionOperator | undefined {
  return BY_LOWER.get(name.toLowerCase());
}

export function operatorHandlerName(name: string): OperatorHandlerName | null {
  const op = normalizeOperator(name);
  if (op === undefined) return null;
  switch (op) {
    case 'Equal':
    case 'Equals':
      return 'EqualHandler';
    case 'NotEqual':
    case 'NotEquals':
      return 'NotEqualHandler';
    case 'In':
      return 'InHandler';
    case 'AnyIn':
      return 'AnyInHandler';
    case 'AllIn':
      return 'AllInHandler';
    case 'NotIn':
      return 'NotInHandler';
    case 'AnyNotIn':
      return 'AnyNotInHandler';
    case 'AllNotIn':
      return 'AllNotInHandler';
    case 'GreaterThanOrEquals':
    case 'GreaterThan':
    case 'LessThanOrEquals':
    case 'LessThan':
      return 'NumericOperatorHandler';
    case 'DurationGreaterThanOrEquals':
    case 'DurationGreaterThan':
    case 'DurationLessThanOrEquals':
    case 'DurationLessThan':
      return 'DurationOperatorHandler';
  }
}

const VALID_OPERATORS: ReadonlySet<string> = new Set(CONDITION_OPERATORS);
const DEPRECATED: ReadonlyMap<string, readonly string[]> = new Map([
  ['In', ['AllIn', 'AnyIn']],
  ['NotIn', ['AllNotIn', 'AnyNotIn']],
]);

/** `IsOperatorValid`: exact (case-sensitive) names, as the policy schema lists them. */
export function isOperatorValid(name: string): boolean {
  return VALID_OPERATORS.has(name);
}

export function isOperatorDeprecated(name: string): boolean {
  return DEPRECATED.has(name);
}

export function deprecatedOperatorAlternatives(name: string): readonly string[] {
  return DEPRECATED.get(name) ?? [];
}

// ---------------------------------------------------------------------------------------------------------------
// Wildcards: condition values are mostly constants, so compiled matchers are cached (bounded).

const wildcardCache = new Map<string, WildcardMatcher>();

function wildcardMatch(pattern: string, text: string): boolean {
  if (!pattern.includes('*') && !pattern.includes('?')) return pattern === text;
  let m = wildcardCache.get(pattern);
  if (m === undefined) {
    if (wildcardCache.size >= 4096) wildcardCache.clear();
    m = compileWildcard(pattern);
    wildcardCache.set(pattern, m);
  }
  return m.test(text);
}

// ---------------------------------------------------------------------------------------------------------------
// Durations

// The shape of a Go duration; most condition strings are not durations, and rejecting them here is much cheaper
// than a full parse (which also builds its error message).
// `\d+(?:\.\d*)?`, not `\d+\.?\d*`: the same numbers, but without two ways to split a digit run (quadratic
// backtracking on a long non-duration value).
const DURATION_SHAPE = /^[+-]?(?:0|(?:(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+)$/;

/** `time.ParseDuration` in nanoseconds; undefined when not a duration. */
export function parseGoDuration(s: string): number | undefined {
  return DURATION_SHAPE.test(s) ? parseGoDurationExact(s) : undefined;
}

export type DurationPair = { keySeconds: number; valueSeconds: number } | { error: string };

function isDurationString(v: unknown): v is string {
  // "0" is a valid Go duration but Kyverno does not treat a bare zero as one (it is far more often a number).
  return typeof v === 'string' && v !== '0' && parseGoDuration(v) !== undefined;
}

function durationSeconds(v: unknown): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v === 'string') {
    const ns = parseGoDuration(v);
    return ns === undefined ? undefined : ns / 1e9;
  }
  return undefined;
}

/** Kyverno's `parseDuration(key, value)`: both sides in seconds when at least one side is a duration string. */
export function parseDurationPair(key: unknown, value: unknown): DurationPair {
  if (!isDurationString(key) && !isDurationString(value)) return { error: 'neither value is a duration' };
  const keySeconds = durationSeconds(key);
  const valueSeconds = durationSeconds(value);
  if (keySeconds === undefined || valueSeconds === undefined) return { error: 'no valid duration value' };
  return { keySeconds, valueSeconds };
}

type Comparison = 'gt' | 'gte' | 'lt' | 'lte';

const COMPARISONS: ReadonlyMap<ConditionOperator, Comparison> = new Map<ConditionOperator, Comparison>([
  ['GreaterThan', 'gt'],
  ['DurationGreaterThan', 'gt'],
  ['GreaterThanOrEquals', 'gte'],
  ['DurationGreaterThanOrEquals', 'gte'],
  ['LessThan', 'lt'],
  ['DurationLessThan', 'lt'],
  ['LessThanOrEquals', 'lte'],
  ['DurationLessThanOrEquals', 'lte'],
]);

function comparisonOf(op: ConditionOperator): Comparison | undefined {
  return COMPARISONS.get(op);
}

function compareBy(key: number, value: number, cmp: Comparison): boolean {
  switch (cmp) {
    case 'gt':
      return key > value;
    case 'gte':
      return key >= value;
    case 'lt':
      return key < value;
    case 'lte':
      return key <= value;
  }
}

/** `durationCompareByCondition`: compares two durations (in seconds); false for a non-Duration operator. */
export function compareDurationsByOperator(
  keySeconds: number,
  valueSeconds: number,
  operator: string,
): boolean {
  const op = normalizeOperator(operator);
  if (op === undefined || !op.startsWith('Duration')) return false;
  const cmp = comparisonOf(op);
  return cmp !== undefined && compareBy(keySeconds, valueSeconds, cmp);
}

// ---------------------------------------------------------------------------------------------------------------
// Equals / NotEquals

function equalNumber(key: number, value: unknown): boolean {
  if (typeof value === 'number') return key === value;
  if (typeof value !== 'string') return false;
  // An int key parses the string as an int, a float key as a float.
  const parsed = Number.isInteger(key) ? parseGoInt(value) : parseGoFloat(value);
  return parsed !== undefined && parsed === key;
}

function equalString(key: string, value: unknown): boolean {
  const d = parseDurationPair(key, value);
  if (!('error' in d)) return d.keySeconds === d.valueSeconds;
  const keyQuantity = parseQuantity(key);
  if (keyQuantity !== undefined && typeof value === 'string') {
    const valueQuantity = parseQuantity(value);
    return valueQuantity !== undefined && compareQuantity(keyQuantity, valueQuantity) === 0;
  }
  return typeof value === 'string' && wildcardMatch(value, key);
}

export function evaluateEquals(key: unknown, value: unknown): boolean {
  switch (typeof key) {
    case 'boolean':
      return typeof value === 'boolean' && key === value;
    case 'number':
      return equalNumber(key, value);
    case 'string':
      return equalString(key, value);
    case 'object':
      if (key === null) return false;
      if (Array.isArray(key)) return Array.isArray(value) && deepEqual(key, value);
      return isPlainObject(value) && deepEqual(key, value);
    case 'bigint':
    case 'function':
    case 'symbol':
    case 'undefined':
      return false;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Ranges inside *In values ("1-10", "1!-10"): Kyverno hands them to the pattern validator.

// Kyverno's `^(\d+(\.\d+)?)([^-]*)-(\d+(\.\d+)?)([^-]*)$` accepts exactly `\d[^-]*-\d[^-]*` (`[^-]*` absorbs
// whatever the digit groups would take); written so, it cannot backtrack quadratically on a long value.
const IN_RANGE = /^\d[^-]*-\d[^-]*$/;
const NOT_IN_RANGE = /^\d[^-]*!-\d[^-]*$/;

function compareScalarStrings(a: string, b: string): number | undefined {
  const qa = parseQuantity(a);
  const qb = parseQuantity(b);
  if (qa !== undefined && qb !== undefined) return compareQuantity(qa, qb);
  const da = parseGoDuration(a);
  const db = parseGoDuration(b);
  if (da !== undefined && db !== undefined) return da === db ? 0 : da < db ? -1 : 1;
  return undefined;
}

/** `pattern.Validate(key, "A-B")` / `"A!-B"` for the range forms. */
export function validateRange(key: string, range: string): boolean {
  const negated = NOT_IN_RANGE.test(range);
  const idx = negated ? range.indexOf('!-') : range.indexOf('-');
  const low = range.slice(0, idx);
  const high = range.slice(idx + (negated ? 2 : 1));
  const lowCmp = compareScalarStrings(key, low);
  const highCmp = compareScalarStrings(key, high);
  if (lowCmp === undefined || highCmp === undefined) return false;
  const inside = lowCmp >= 0 && highCmp <= 0;
  return negated ? !inside : inside;
}

function isRange(s: string): boolean {
  return IN_RANGE.test(s);
}

// ---------------------------------------------------------------------------------------------------------------
// The In family

export interface Membership {
  invalidType: boolean;
  keyExists: boolean;
}
const INVALID: Membership = { invalidType: true, keyExists: false };
const FOUND: Membership = { invalidType: false, keyExists: true };
const NOT_FOUND: Membership = { invalidType: false, keyExists: false };

function bothWays(a: string, b: string): boolean {
  return wildcardMatch(a, b) || wildcardMatch(b, a);
}

function isScalar(v: unknown): v is string | number | boolean {
  return typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';
}

/** `keyExistsInArray` (In/NotIn, scalar key): list with wildcards both ways, wildcard string, or JSON array. */
export function keyExistsInArray(key: string, value: unknown): Membership {
  if (Array.isArray(value)) {
    for (const v of value) if (bothWays(goSprint(v), key)) return FOUND;
    return NOT_FOUND;
  }
  if (typeof value === 'string') {
    if (wildcardMatch(value, key)) return FOUND;
    const arr = parseJsonStringArray(value);
    if (typeof arr === 'string') return INVALID;
    return arr.includes(key) ? FOUND : NOT_FOUND;
  }
  return INVALID;
}

/** `isIn`: every key is in the value list (exact). */
export function isIn(keys: readonly string[], values: readonly string[]): boolean {
  return keys.every((k) => values.includes(k));
}

/** `isNotIn`: some key is missing from the value list (exact). */
export function isNotIn(keys: readonly string[], values: readonly string[]): boolean {
  return keys.some((k) => !values.includes(k));
}

/** `setExistsInArray` (In/NotIn, list key): exact string comparison, no wildcards. */
export function setExistsInArray(keys: readonly string[], value: unknown, notIn: boolean): Membership {
  let values: readonly string[];
  if (Array.isArray(value)) {
    if (!value.every((v) => typeof v === 'string')) return INVALID;
    values = value;
  } else if (typeof value === 'string') {
    if (keys.length === 1 && keys[0] === value) return notIn ? NOT_FOUND : FOUND;
    const arr = parseJsonStringArray(value);
    if (typeof arr === 'string') return INVALID;
    values = arr;
  } else {
    return INVALID;
  }
  return { invalidType: false, keyExists: notIn ? isNotIn(keys, values) : isIn(keys, values) };
}

function evaluateIn(key: unknown, value: unknown, notIn: boolean): boolean {
  if (isScalar(key)) {
    const r = keyExistsInArray(goSprint(key), value);
    return !r.invalidType && r.keyExists !== notIn;
  }
  if (Array.isArray(key)) {
    if (!key.every((k) => typeof k === 'string')) return false;
    const r = setExistsInArray(key, value, notIn);
    return !r.invalidType && r.keyExists;
  }
  return false;
}

/** AnyIn/AllIn with a scalar key (`anyKeyExistsInArray` / `allKeyExistsInArray`). */
function scalarKeyIn(key: string, value: unknown, allIn: boolean): Membership {
  if (Array.isArray(value)) {
    for (const v of value) if (bothWays(goSprint(v), key)) return FOUND;
    return NOT_FOUND;
  }
  if (typeof value === 'string') {
    if (wildcardMatch(value, key)) return FOUND;
    if (isRange(value)) return validateRange(key, value) ? FOUND : NOT_FOUND;
    const arr = parseJsonStringArray(value);
    // AllIn unmarshals unconditionally; AnyIn treats a non-JSON string as a one-element list.
    if (arr === 'not-json') return allIn ? INVALID : value === key ? FOUND : NOT_FOUND;
    if (arr === 'not-string-array') return INVALID;
    return arr.includes(key) ? FOUND : NOT_FOUND;
  }
  return INVALID;
}

type SetMode = 'anyIn' | 'anyNotIn' | 'allIn' | 'allNotIn';

function countFound(keys: readonly string[], values: readonly string[]): number {
  let found = 0;
  for (const k of keys) {
    for (const v of values) {
      if (bothWays(k, v)) {
        found++;
        break;
      }
    }
  }
  return found;
}

function setVerdict(keys: readonly string[], values: readonly string[], mode: SetMode): boolean {
  const found = countFound(keys, values);
  switch (mode) {
    case 'anyIn':
      return found > 0;
    case 'anyNotIn':
      return found < keys.length;
    case 'allIn':
      return found === keys.length;
    case 'allNotIn':
      return found === 0;
  }
}

function rangeVerdict(keys: readonly string[], range: string, mode: SetMode): boolean {
  let inside = 0;
  for (const k of keys) if (validateRange(k, range)) inside++;
  switch (mode) {
    case 'anyIn':
      return inside > 0;
    case 'anyNotIn':
      return inside < keys.length;
    case 'allIn':
      return inside === keys.length;
    case 'allNotIn':
      return inside === 0;
  }
}

/** `anySetExistsInArray` / `allSetExistsInArray` (list key). */
function setKeyIn(keys: readonly string[], value: unknown, mode: SetMode): Membership {
  const any = mode === 'anyIn' || mode === 'anyNotIn';
  const negated = mode === 'anyNotIn' || mode === 'allNotIn';
  let values: readonly string[];
  if (Array.isArray(value)) {
    values = value.map(goSprint);
  } else if (any && (typeof value === 'number' || typeof value === 'boolean')) {
    values = [goSprint(value)];
  } else if (typeof value === 'string') {
    if (keys.length === 1 && keys[0] === value) return negated ? NOT_FOUND : FOUND;
    if (isRange(value)) return { invalidType: false, keyExists: rangeVerdict(keys, value, mode) };
    const arr = parseJsonStringArray(value);
    if (arr === 'not-string-array') return INVALID;
    values = arr === 'not-json' ? [value] : arr;
  } else {
    return INVALID;
  }
  return { invalidType: false, keyExists: setVerdict(keys, values, mode) };
}

function evaluateSetOperator(key: unknown, value: unknown, mode: SetMode): boolean {
  const negated = mode === 'anyNotIn' || mode === 'allNotIn';
  if (isScalar(key)) {
    const r = scalarKeyIn(goSprint(key), value, mode === 'allIn');
    return !r.invalidType && r.keyExists !== negated;
  }
  if (Array.isArray(key)) {
    const r = setKeyIn(key.map(goSprint), value, mode);
    return !r.invalidType && r.keyExists;
  }
  return false;
}

// ---------------------------------------------------------------------------------------------------------------
// GreaterThan… (NumericOperatorHandler)

function numericVsValue(key: number, value: unknown, cmp: Comparison): boolean {
  if (typeof value === 'number') return compareBy(key, value, cmp);
  if (typeof value !== 'string') return false;
  const d = parseDurationPair(key, value);
  if (!('error' in d)) return compareBy(d.keySeconds, d.valueSeconds, cmp);
  const f = parseGoFloat(value);
  if (f !== undefined) return compareBy(key, f, cmp);
  return false;
}

function numericString(key: string, value: unknown, cmp: Comparison): boolean {
  const d = parseDurationPair(key, value);
  if (!('error' in d)) return compareBy(d.keySeconds, d.valueSeconds, cmp);
  if (typeof value === 'string') {
    const kq = parseQuantity(key);
    const vq = kq === undefined ? undefined : parseQuantity(value);
    if (kq !== undefined && vq !== undefined) return compareBy(compareQuantity(kq, vq), 0, cmp);
  }
  const f = parseGoFloat(key) ?? parseGoInt(key);
  if (f !== undefined) return numericVsValue(f, value, cmp);
  const version = parseSemVer(key);
  if (version !== undefined) {
    const other = typeof value === 'string' ? parseSemVer(value) : undefined;
    return other !== undefined && compareBy(compareSemVer(version, other), 0, cmp);
  }
  return false;
}

function evaluateNumeric(key: unknown, value: unknown, cmp: Comparison): boolean {
  if (typeof key === 'number') return numericVsValue(key, value, cmp);
  if (typeof key === 'string') return numericString(key, value, cmp);
  return false;
}

// ---------------------------------------------------------------------------------------------------------------
// Duration… (DurationOperatorHandler, deprecated)

function durationSide(v: unknown): number | undefined {
  // time.Duration(x) * time.Second truncates a float to whole seconds first.
  if (typeof v === 'number') return Math.trunc(v);
  if (typeof v === 'string') {
    const ns = parseGoDuration(v);
    return ns === undefined ? undefined : ns / 1e9;
  }
  return undefined;
}

function evaluateDuration(key: unknown, value: unknown, cmp: Comparison): boolean {
  if (typeof key !== 'number' && typeof key !== 'string') return false;
  const k = durationSide(key);
  const v = durationSide(value);
  return k !== undefined && v !== undefined && compareBy(k, v, cmp);
}

// ---------------------------------------------------------------------------------------------------------------

/** Thrown for an operator Kyverno does not know (the rule result is `error`). */
export class UnknownOperatorError extends KyvernoRuntimeError {
  constructor(readonly operator: string) {
    super('E_UNKNOWN_OPERATOR', `unknown condition operator ${JSON.stringify(operator)}`);
  }
}

/** A resolved operator, bound once at compile time. */
export type OperatorFn = (key: unknown, value: unknown) => boolean;

export function operatorFunction(operator: string): OperatorFn {
  const op = normalizeOperator(operator);
  if (op === undefined) throw new UnknownOperatorError(operator);
  switch (op) {
    case 'Equal':
    case 'Equals':
      return evaluateEquals;
    case 'NotEqual':
    case 'NotEquals':
      return (k, v) => !evaluateEquals(k, v);
    case 'In':
      return (k, v) => evaluateIn(k, v, false);
    case 'NotIn':
      return (k, v) => evaluateIn(k, v, true);
    case 'AnyIn':
      return (k, v) => evaluateSetOperator(k, v, 'anyIn');
    case 'AllIn':
      return (k, v) => evaluateSetOperator(k, v, 'allIn');
    case 'AnyNotIn':
      return (k, v) => evaluateSetOperator(k, v, 'anyNotIn');
    case 'AllNotIn':
      return (k, v) => evaluateSetOperator(k, v, 'allNotIn');
    case 'GreaterThan':
    case 'GreaterThanOrEquals':
    case 'LessThan':
    case 'LessThanOrEquals': {
      const cmp = comparisonOf(op)!;
      return (k, v) => evaluateNumeric(k, v, cmp);
    }
    case 'DurationGreaterThan':
    case 'DurationGreaterThanOrEquals':
    case 'DurationLessThan':
    case 'DurationLessThanOrEquals': {
      const cmp = comparisonOf(op)!;
      return (k, v) => evaluateDuration(k, v, cmp);
    }
  }
}

/** Evaluates one condition after substitution. Throws UnknownOperatorError for an unknown operator. */
export function evaluateOperator(key: unknown, operator: string, value: unknown): boolean {
  return operatorFunction(operator)(key, value);
}
