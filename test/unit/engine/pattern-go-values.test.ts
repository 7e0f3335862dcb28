import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  goFormatFloatE,
  goFormatFloatF,
  goFormatFloatG,
  goFormatValue,
  goKind,
  goParseFloat,
  goParseInt,
  goTypeName,
  GoFloat64,
  MAX_FORMAT_LENGTH,
} from '../../../src/engine/pattern/go-values.js';

describe('Go conversions used by pattern comparison', () => {
  test('%f rounds half to even on the exact binary value (JS toFixed rounds half up)', () => {
    assert.equal(goFormatFloatF(1 / 128), '0.007812');
    assert.equal((1 / 128).toFixed(6), '0.007813');
    assert.equal(goFormatFloatF(3 / 128), '0.023438');
    assert.equal(goFormatFloatF(3.1), '3.100000');
    assert.equal(goFormatFloatF(-3.1), '-3.100000');
    assert.equal(goFormatFloatF(0), '0.000000');
    assert.equal(goFormatFloatF(1e21), '1000000000000000000000.000000');
    assert.equal(goFormatFloatF(5e-324), '0.000000');
  });

  test("'E' with shortest precision", () => {
    assert.equal(goFormatFloatE(1), '1E+00');
    assert.equal(goFormatFloatE(1.5), '1.5E+00');
    assert.equal(goFormatFloatE(123456), '1.23456E+05');
    assert.equal(goFormatFloatE(1e-7), '1E-07');
    assert.equal(goFormatFloatE(1.5e300), '1.5E+300');
  });

  test('%v of floats switches to exponent form outside [1e-4, 1e6)', () => {
    assert.equal(goFormatFloatG(1.5), '1.5');
    assert.equal(goFormatFloatG(100000), '100000');
    assert.equal(goFormatFloatG(1000000), '1e+06');
    assert.equal(goFormatFloatG(0.0001), '0.0001');
    assert.equal(goFormatFloatG(0.00001), '1e-05');
    assert.equal(goFormatFloatG(123456789.5), '1.234567895e+08');
  });

  test('%v and %T of decoded JSON', () => {
    assert.equal(goFormatValue({ b: [1, 'x', null], a: true }), 'map[a:true b:[1 x <nil>]]');
    assert.equal(goFormatValue(new GoFloat64(7)), '7');
    assert.equal(goTypeName(null), '<nil>');
    assert.equal(goTypeName(8), 'int64');
    assert.equal(goTypeName(8.5), 'float64');
    assert.equal(goTypeName([]), '[]interface {}');
    assert.equal(goKind(2 ** 63), 'float', 'beyond int64 a JSON number decodes as float64');
  });

  test('%v prints every int64-valued JSON number with all its digits, as Go does', () => {
    // Beyond 2^53 a JS number's shortest text rounds (String(2 ** 60) ends in 000): Go prints the exact value.
    assert.equal(goFormatValue(2 ** 60), '1152921504606846976');
    assert.equal(goFormatValue(-(2 ** 62)), '-4611686018427387904');
    assert.equal(goFormatValue(2 ** 53), '9007199254740992');
    assert.equal(goFormatValue(-0), '0');
    assert.equal(goFormatValue([443, 53n, -1]), '[443 53 -1]');
    fc.assert(
      fc.property(
        fc.oneof(fc.integer(), fc.maxSafeInteger(), fc.double({ min: -(2 ** 63), max: 2 ** 63 - 1024 })),
        (n) => {
          if (!Number.isInteger(n)) return;
          assert.equal(goFormatValue(n), BigInt(n).toString());
        },
      ),
    );
  });

  test('printing hostile values is bounded in depth and length', () => {
    let deep: unknown = 'leaf';
    for (let i = 0; i < 100_000; i++) deep = [deep];
    const text = goFormatValue(deep);
    assert.ok(text.includes('[...]'));
    assert.ok(text.length < 200);
    const wide = goFormatValue(Array.from({ length: 100_000 }, (_, i) => `value-${i}`));
    assert.ok(wide.length <= MAX_FORMAT_LENGTH + 64);
    assert.ok(wide.endsWith('...'));
  });

  test('strconv.ParseInt and ParseFloat grammars', () => {
    assert.equal(goParseInt('+42'), 42n);
    assert.equal(goParseInt(' 42'), undefined);
    assert.equal(goParseInt('9223372036854775808'), undefined);
    assert.equal(goParseFloat('1e3'), 1000);
    assert.equal(goParseFloat('.5'), 0.5);
    assert.equal(goParseFloat('5.'), 5);
    assert.equal(goParseFloat('Inf'), Infinity);
    assert.equal(goParseFloat('0x1p-2'), 0.25);
    assert.equal(goParseFloat('1_000'), undefined);
    assert.equal(goParseFloat('1e400'), undefined, 'out of range is an error in Go');
    assert.equal(goParseFloat('abc'), undefined);
  });
});
