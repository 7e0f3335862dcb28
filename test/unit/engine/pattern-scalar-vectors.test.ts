import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  compareString,
  convertNumberToString,
  getOperatorFromStringPattern,
  GoFloat64,
  OPERATOR_NAMES,
  validateFloatPattern,
  validateMapPattern,
  validateNilPattern,
  validateStringPattern,
  validateStringPatterns,
  validateStringWithOperator,
  validateValue,
  type PatternOperator,
} from '../../../src/engine/pattern/index.js';

interface PatternCase {
  source: string;
  test: string;
  name?: string;
  function: string;
  input?: unknown;
  pattern?: unknown;
  operator?: PatternOperator;
  operatorName?: string;
  expected: unknown;
  expectedName?: string;
  goTypes?: Record<string, string>;
}

const vectors = JSON.parse(
  readFileSync(new URL('../../../../shared/conformance/kyverno-unit/pattern.json', import.meta.url), 'utf8'),
) as PatternCase[];

/** Restores the Go type JSON lost: a float64 `7.0` must not behave as an int. */
function typed(c: PatternCase, field: 'input' | 'pattern'): unknown {
  const v = c[field];
  const goType = c.goTypes?.[field];
  if (goType === 'float64' && typeof v === 'number') return new GoFloat64(v);
  return v;
}

describe('kyverno-unit pattern.json', () => {
  test('every case is a function this suite knows', () => {
    assert.equal(vectors.length, 204);
  });
  vectors.forEach((c, i) => {
    test(`${c.source} ${c.test}${c.name ? ` / ${c.name}` : ''} #${i} (${c.function})`, () => {
      const input = typed(c, 'input');
      const pattern = typed(c, 'pattern');
      switch (c.function) {
        case 'Validate':
          assert.equal(validateValue(input, pattern), c.expected);
          break;
        case 'validateFloatPattern':
          assert.equal(
            validateFloatPattern(input, pattern instanceof GoFloat64 ? pattern.value : (pattern as number)),
            c.expected,
          );
          break;
        case 'validateStringPattern':
          assert.equal(validateStringPattern(input, pattern as string), c.expected);
          break;
        case 'validateStringPatterns':
          assert.equal(validateStringPatterns(input, pattern as string), c.expected);
          break;
        case 'validateString':
          assert.equal(validateStringWithOperator(input, pattern as string, c.operator!), c.expected);
          break;
        case 'compareString':
          assert.equal(compareString(input, pattern as string, c.operator!), c.expected);
          break;
        case 'convertNumberToString': {
          const got = convertNumberToString(input);
          if (typeof c.expected === 'string') assert.equal(got, c.expected);
          else assert.equal(got, undefined, 'Go returns an error');
          break;
        }
        case 'validateNilPattern':
          assert.equal(validateNilPattern(input), c.expected);
          break;
        case 'validateMapPattern':
          assert.equal(validateMapPattern(input), c.expected);
          break;
        case 'GetOperatorFromStringPattern': {
          const op = getOperatorFromStringPattern(pattern as string);
          assert.equal(op, c.expected);
          if (c.expectedName) assert.equal(OPERATOR_NAMES[op], c.expectedName);
          break;
        }
        default:
          assert.fail(`unhandled vector function ${c.function}`);
      }
    });
  });
});
