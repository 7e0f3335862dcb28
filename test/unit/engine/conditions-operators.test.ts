// Every vector of Kyverno's operator unit tests as one test each.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  compareDurationsByOperator,
  deprecatedOperatorAlternatives,
  evaluateOperator,
  isIn,
  isNotIn,
  isOperatorDeprecated,
  isOperatorValid,
  keyExistsInArray,
  operatorHandlerName,
  parseDurationPair,
  setExistsInArray,
} from '../../../src/engine/conditions/index.js';

interface OperatorCase {
  source: string;
  test: string;
  name?: string;
  function: string;
  operator?: string | null;
  key?: unknown;
  value?: unknown;
  notIn?: boolean;
  expected: unknown;
  goTypes?: Record<string, string>;
}

const cases = JSON.parse(
  readFileSync(
    new URL('../../../../shared/conformance/kyverno-unit/operators.json', import.meta.url),
    'utf8',
  ),
) as OperatorCase[];

function run(c: OperatorCase): unknown {
  const op = c.operator ?? '';
  switch (c.function) {
    case 'CreateOperatorHandler':
      return operatorHandlerName(op);
    case 'IsOperatorValid':
      return isOperatorValid(op);
    case 'IsOperatorDeprecated':
      return isOperatorDeprecated(op);
    case 'GetDeprecatedOperatorAlternative':
      return [...deprecatedOperatorAlternatives(op)];
    case 'durationCompareByCondition':
      return compareDurationsByOperator(c.key as number, c.value as number, op);
    case 'parseDuration': {
      const r = parseDurationPair(c.key, c.value);
      return r;
    }
    case 'keyExistsInArray':
      return { ...keyExistsInArray(c.key as string, c.value) };
    case 'setExistsInArray':
      return { ...setExistsInArray(c.key as string[], c.value, c.notIn ?? false) };
    case 'isIn':
      return isIn(c.key as string[], c.value as string[]);
    case 'isNotIn':
      return isNotIn(c.key as string[], c.value as string[]);
    default:
      // variables.Evaluate, <X>Handler.Evaluate and the handlers' validateValueWith* helpers.
      return evaluateOperator(c.key, op, c.value);
  }
}

test('operators.json has the 622 documented vectors', () => {
  assert.equal(cases.length, 622);
});

cases.forEach((c, i) => {
  const label = `#${i} ${c.function} ${c.name ?? ''} ${JSON.stringify(c.key)} ${c.operator ?? ''} ${JSON.stringify(c.value)}`;
  test(label, () => {
    const actual = run(c);
    const expected = c.expected;
    if (
      c.function === 'parseDuration' &&
      typeof expected === 'object' &&
      expected !== null &&
      'errorContains' in expected
    ) {
      assert.ok(
        actual !== null && typeof actual === 'object' && 'error' in actual,
        `expected an error, got ${JSON.stringify(actual)}`,
      );
      assert.ok((actual as { error: string }).error.includes(expected.errorContains as string));
      return;
    }
    assert.deepEqual(actual, expected);
  });
});
