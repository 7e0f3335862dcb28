import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  addQuantity,
  compareQuantity,
  compareQuantityStrings,
  formatQuantity,
  parseQuantity,
  parseQuantityDetailed,
  quantityToDecimalString,
  subtractQuantity,
} from '../../../src/engine/quantity.js';

function q(s: string) {
  const parsed = parseQuantity(s);
  assert.ok(parsed, `${s} should parse`);
  return parsed;
}

describe('Kubernetes quantity parsing (apimachinery ParseQuantity)', () => {
  test('units normalise: binary, decimal SI, exponents, fractions', () => {
    assert.equal(compareQuantityStrings('1Gi', '1024Mi'), 0);
    assert.equal(compareQuantityStrings('0.5', '500m'), 0);
    assert.equal(compareQuantityStrings('.5', '500m'), 0);
    assert.equal(compareQuantityStrings('1G', '1Gi'), -1);
    assert.equal(compareQuantityStrings('1e3', '1k'), 0);
    assert.equal(compareQuantityStrings('1E3', '1k'), 0);
    assert.equal(compareQuantityStrings('1e-3', '1m'), 0);
    assert.equal(compareQuantityStrings('1E', '1000P'), 0, 'bare E is the exa suffix');
    assert.equal(compareQuantityStrings('+1.5Ki', '1536'), 0);
    assert.equal(compareQuantityStrings('1.', '1'), 0, 'apimachinery accepts "1." (and "1.G")');
    assert.equal(quantityToDecimalString(q('1.G')), '1000000000');
    assert.equal(quantityToDecimalString(q('-0.25u')), '-0.00000025');
  });

  test('signs order values', () => {
    assert.equal(compareQuantityStrings('-1', '0'), -1);
    assert.equal(compareQuantityStrings('-2Gi', '-1Gi'), -1);
    assert.equal(compareQuantityStrings('1m', '-1'), 1);
    assert.equal(compareQuantityStrings('-0', '0'), 0);
  });

  test('grammar quirks copied from apimachinery: sign-only, dot-only and suffix-only strings are zero', () => {
    for (const s of ['-', '+', '.', '000', 'k', 'm', 'M', 'E', 'n', 'Ki', 'Ti', '0Ei']) {
      assert.equal(compareQuantityStrings(s, '0'), 0, s);
    }
    // Without digits, the slow (inf.Dec) path runs for large binary suffixes and tiny exponents: error.
    assert.deepEqual(parseQuantityDetailed('Pi'), { error: 'ErrNumeric' });
    assert.deepEqual(parseQuantityDetailed('.e-20'), { error: 'ErrNumeric' });
  });

  test('rejects what apimachinery rejects, with its error kind', () => {
    assert.deepEqual(parseQuantityDetailed(''), { error: 'ErrFormatWrong' });
    assert.deepEqual(parseQuantityDetailed('abc'), { error: 'ErrFormatWrong' });
    assert.deepEqual(parseQuantityDetailed('1Kb'), { error: 'ErrFormatWrong' });
    assert.deepEqual(parseQuantityDetailed('1 Gi'), { error: 'ErrFormatWrong' });
    assert.deepEqual(parseQuantityDetailed('1.2.3'), { error: 'ErrFormatWrong' });
    assert.deepEqual(parseQuantityDetailed('0x10'), { error: 'ErrFormatWrong' });
    assert.deepEqual(parseQuantityDetailed('1e'), { error: 'ErrSuffix' });
    assert.deepEqual(parseQuantityDetailed('1K'), { error: 'ErrSuffix' });
    assert.deepEqual(parseQuantityDetailed('1m3'), { error: 'ErrSuffix' });
    assert.deepEqual(parseQuantityDetailed('1e99999999999999999999'), { error: 'ErrSuffix' });
  });

  test('the e-exponent is truncated to int32 as in apimachinery', () => {
    assert.equal(compareQuantityStrings('1e4294967296', '1'), 0);
    assert.equal(compareQuantityStrings('1e4294967299', '1k'), 0);
  });

  test('values below 1n round up (away from zero) to nano precision', () => {
    assert.equal(compareQuantityStrings('1e-20', '1n'), 0);
    assert.equal(compareQuantityStrings('-1e-20', '-1n'), 0);
    assert.equal(compareQuantityStrings('1.5n', '2n'), 0);
    assert.equal(compareQuantityStrings('1.000000000001', '1000000001n'), 0);
    assert.equal(compareQuantityStrings('0.1n', '0'), 1);
  });

  test('BinarySI magnitudes are capped at 2^63-1, decimal ones are not', () => {
    assert.equal(compareQuantityStrings('8Ei', '9223372036854775807'), 0);
    assert.equal(compareQuantityStrings('16Ei', '8Ei'), 0);
    assert.equal(compareQuantityStrings('-16Ei', '-9223372036854775807'), 0);
    assert.equal(compareQuantityStrings('7Ei', '8Ei'), -1);
    assert.equal(compareQuantityStrings('10E', '9223372036854775807'), 1);
  });

  test('huge exponents compare exactly without materialising them', () => {
    assert.equal(compareQuantityStrings('1e2147483647', '1e2147483646'), 1);
    assert.equal(compareQuantityStrings('2e2147483646', '1e2147483647'), -1);
    assert.equal(compareQuantityStrings('10e2147483646', '1e2147483647'), 0);
  });
});

describe('quantity arithmetic and canonical formatting (Quantity.String)', () => {
  test('canonical forms', () => {
    const cases: [string, string][] = [
      ['1.5Gi', '1536Mi'],
      ['0.5Gi', '512Mi'],
      ['2048Ki', '2Mi'],
      ['1536Mi', '1536Mi'],
      ['1000Mi', '1000Mi'],
      ['512', '512'],
      ['0.5', '500m'],
      ['1.5', '1500m'],
      ['1000', '1k'],
      ['1500', '1500'],
      ['100m', '100m'],
      ['1e3', '1e3'],
      ['0', '0'],
      ['-1.5Gi', '-1536Mi'],
      ['1n', '1n'],
      ['12e6', '12e6'],
      ['12M', '12M'],
    ];
    for (const [input, expected] of cases) assert.equal(formatQuantity(q(input)), expected, input);
  });

  test('add and subtract are exact and keep the left format', () => {
    assert.equal(formatQuantity(addQuantity(q('5Gi'), q('512Mi'))), '5632Mi');
    assert.equal(formatQuantity(subtractQuantity(q('1Gi'), q('512Mi'))), '512Mi');
    assert.equal(formatQuantity(addQuantity(q('100m'), q('900m'))), '1');
    assert.equal(formatQuantity(subtractQuantity(q('1'), q('1500m'))), '-500m');
    assert.equal(compareQuantity(addQuantity(q('0.1'), q('0.2')), q('300m')), 0, 'no float rounding');
    assert.equal(
      formatQuantity(addQuantity(q('0'), q('1536Mi'))),
      '1536Mi',
      'a zero left operand takes the right format',
    );
    assert.equal(formatQuantity(subtractQuantity(q('0'), q('1Gi'))), '-1Gi');
  });

  const suffixes: [string, bigint, bigint][] = [
    // suffix, numerator, denominator of its multiplier
    ['', 1n, 1n],
    ['m', 1n, 1000n],
    ['k', 1000n, 1n],
    ['M', 1_000_000n, 1n],
    ['G', 1_000_000_000n, 1n],
    ['Ki', 1024n, 1n],
    ['Mi', 1024n ** 2n, 1n],
    ['Gi', 1024n ** 3n, 1n],
  ];
  // Magnitudes stay below the BinarySI cap (2^63-1), which is tested above.
  const quantity = fc.tuple(fc.bigInt(-(10n ** 9n), 10n ** 9n), fc.constantFrom(...suffixes));

  test('comparison agrees with exact rational arithmetic (property)', () => {
    fc.assert(
      fc.property(quantity, quantity, ([na, [sa, pa, da]], [nb, [sb, pb, db]]) => {
        const left = na * pa * db;
        const right = nb * pb * da;
        const expected = left < right ? -1 : left > right ? 1 : 0;
        assert.equal(compareQuantity(q(`${na}${sa}`), q(`${nb}${sb}`)), expected);
      }),
    );
  });

  test('formatting round-trips through parsing (property)', () => {
    fc.assert(
      fc.property(quantity, ([n, [s]]) => {
        const parsed = q(`${n}${s}`);
        assert.equal(compareQuantity(q(formatQuantity(parsed)), parsed), 0);
      }),
    );
  });
});
