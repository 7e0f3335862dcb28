import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  formatGoDuration,
  parseGoDuration,
  parseGoDurationBig,
  parseGoDurationDetailed,
} from '../../../src/engine/duration.js';

const S = 1_000_000_000n;
const MAX = (1n << 63n) - 1n;

describe('Go time.ParseDuration', () => {
  test('units, fractions, signs and sequences', () => {
    const cases: [string, bigint][] = [
      ['0', 0n],
      ['-0', 0n],
      ['+0', 0n],
      ['1ns', 1n],
      ['1us', 1000n],
      ['1\u00b5s', 1000n],
      ['1\u03bcs', 1000n],
      ['1ms', 1_000_000n],
      ['1s', S],
      ['1m', 60n * S],
      ['1h', 3600n * S],
      ['1.5h', 5400n * S],
      ['1h30m', 5400n * S],
      ['-1.5h', -5400n * S],
      ['+5s', 5n * S],
      ['.5s', S / 2n],
      ['5.s', 5n * S],
      ['0.000000001s', 1n],
      ['0.0000000019s', 1n],
      ['1h1m1s1ms1us1ns', 3661n * S + 1_001_001n],
      ['2562047h47m16.854775807s', MAX],
      ['-2562047h47m16.854775808s', -MAX - 1n],
    ];
    for (const [input, expected] of cases) assert.equal(parseGoDurationBig(input), expected, input);
    assert.equal(parseGoDuration('1.5h'), 5.4e12);
  });

  test('errors carry Go messages', () => {
    assert.deepEqual(parseGoDurationDetailed(''), { error: 'time: invalid duration ""' });
    assert.deepEqual(parseGoDurationDetailed('1'), { error: 'time: missing unit in duration "1"' });
    assert.deepEqual(parseGoDurationDetailed('1d'), { error: 'time: unknown unit "d" in duration "1d"' });
    assert.deepEqual(parseGoDurationDetailed('.s'), { error: 'time: invalid duration ".s"' });
    assert.deepEqual(parseGoDurationDetailed('-'), { error: 'time: invalid duration "-"' });
    assert.deepEqual(parseGoDurationDetailed('1 s'), { error: 'time: unknown unit " s" in duration "1 s"' });
    assert.deepEqual(parseGoDurationDetailed('2562047h47m16.854775808s'), {
      error: 'time: invalid duration "2562047h47m16.854775808s"',
    });
    assert.equal(parseGoDurationBig('9223372036854775808ns'), undefined);
    assert.equal(parseGoDurationBig('1e3s'), undefined);
    assert.equal(parseGoDurationBig('5Mi'), undefined);
  });
});

describe('Go time.Duration.String', () => {
  test('known forms', () => {
    const cases: [bigint, string][] = [
      [0n, '0s'],
      [1n, '1ns'],
      [999n, '999ns'],
      [1500n, '1.5\u00b5s'],
      [1_000_000n, '1ms'],
      [1_500_000n, '1.5ms'],
      [S + S / 2n, '1.5s'],
      [90n * 60n * S, '1h30m0s'],
      [-3600n * S, '-1h0m0s'],
      [MAX, '2562047h47m16.854775807s'],
      [-MAX - 1n, '-2562047h47m16.854775808s'],
    ];
    for (const [ns, expected] of cases) assert.equal(formatGoDuration(ns), expected, String(ns));
  });

  test('format then parse is the identity over int64 (property)', () => {
    fc.assert(
      fc.property(fc.bigInt(-MAX - 1n, MAX), (ns) => {
        assert.equal(parseGoDurationBig(formatGoDuration(ns)), ns);
      }),
      { numRuns: 500 },
    );
  });
});
