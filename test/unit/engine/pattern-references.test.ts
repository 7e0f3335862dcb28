import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import {
  compilePattern,
  hasPatternReferences,
  PatternReferenceError,
  resolvePatternReferences,
} from '../../../src/engine/pattern/index.js';

const limitsPattern = (request: string) => ({
  spec: {
    containers: [
      {
        name: '*',
        resources: { requests: { memory: request }, limits: { memory: '2048Mi' } },
      },
    ],
  },
});
const podWith = (requests: string, limits: string) => ({
  spec: {
    containers: [{ name: 'app', resources: { requests: { memory: requests }, limits: { memory: limits } } }],
  },
});

describe('$(...) references in patterns', () => {
  test('a relative reference with an operator reads the pattern, not the resource', () => {
    const pattern = limitsPattern('$(<=./../../limits/memory)');
    assert.deepEqual(resolvePatternReferences(pattern), limitsPattern('<=2048Mi'));
    const compiled = compilePattern(pattern); // compilePattern resolves references itself
    assert.equal(compiled.match(podWith('1024Mi', '2048Mi')).status, 'pass');
    assert.equal(compiled.match(podWith('3Gi', '2048Mi')).status, 'fail');
  });

  test('absolute references and anchors in the referenced path', () => {
    const pattern = {
      metadata: { '=(labels)': { app: 'web-*' } },
      spec: { containers: [{ '(name)': '$(/metadata/labels/app)', image: 'registry/*' }] },
    };
    const resolved = resolvePatternReferences(pattern) as typeof pattern;
    assert.equal(resolved.spec.containers[0]!['(name)'], 'web-*');
  });

  test('a reference inside a longer string, an escaped reference, and numbers', () => {
    // A reference path is relative to the leaf holding it: "../.." is the enclosing map.
    const pattern = {
      a: {
        n: 3,
        f: 1.5,
        s: 'abc',
        text: 'x-$(./../s)',
        esc: '\\$(./../s)',
        num: '$(>=./../n)',
        fl: '$(<../f)',
      },
    };
    assert.deepEqual(resolvePatternReferences(pattern), {
      a: { n: 3, f: 1.5, s: 'abc', text: 'x-abc', esc: '$(./../s)', num: '>=3', fl: '<1.500000' },
    });
    // Kyverno quirk: a non-string value replaces the whole string, even around other text.
    assert.deepEqual(resolvePatternReferences({ a: { n: 3, text: 'x-$(../n)' } }), { a: { n: 3, text: 3 } });
  });

  test('a whole-string reference without operator takes the referenced value and type', () => {
    assert.deepEqual(resolvePatternReferences({ a: { n: 3, copy: '$(../n)' } }), { a: { n: 3, copy: 3 } });
    assert.deepEqual(resolvePatternReferences({ a: { copy: '$(../missing)' } }), { a: { copy: null } });
  });

  test('an operator reference to a missing value or an empty reference is an error', () => {
    assert.throws(() => resolvePatternReferences({ a: { v: '$(<=./missing)' } }), PatternReferenceError);
    assert.throws(
      () => resolvePatternReferences({ a: { v: '$(>=)' } }),
      /expected path, found empty reference/,
    );
  });

  test('patterns without references are returned as is', () => {
    const p = { spec: { containers: [{ image: '!*:latest' }] } };
    assert.equal(hasPatternReferences(p), false);
    assert.equal(resolvePatternReferences(p), p);
  });
});
