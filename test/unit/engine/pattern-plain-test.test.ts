/**
 * Plain patterns (plain keys, scalar leaves: the usual runtime rule) are tested by a closure tree
 * without path strings (src/engine/pattern/plain-test.ts). Its answer must be the general walk's
 * pass / not pass on any resource.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { compilePattern } from '../../../src/engine/pattern/index.js';
import { compileNode } from '../../../src/engine/pattern/compile.js';
import { compilePlainTest } from '../../../src/engine/pattern/plain-test.js';

const KEYS = ['event', 'process', 'binary', 'uid', 'file', 'path', 'labels'];

const scalarPattern = fc.constantFrom<unknown>(
  '*',
  '?*',
  '*/sh | */bash',
  '/etc/*',
  '!/tmp/*',
  '>=1000',
  '<10',
  'web',
  '',
  0,
  1000,
  1.5,
  true,
  false,
  null,
);
/** Maps keyed from KEYS, nested to any depth, with `leaf` values. */
function nested(leaf: fc.Arbitrary<unknown>, minKeys: number) {
  return fc.letrec((tie) => ({
    node: fc.oneof({ depthSize: 'small', withCrossShrink: true }, leaf, tie('map')),
    map: fc.dictionary(fc.constantFrom(...KEYS), tie('node'), { minKeys, maxKeys: 4 }),
  }));
}

const plainPattern = nested(scalarPattern, 1).map;
const scalarValue = fc.constantFrom<unknown>(
  '/bin/sh',
  '/usr/bin/bash',
  '/etc/shadow',
  '/tmp/x',
  'web',
  '',
  0,
  5,
  1000,
  1.5,
  true,
  false,
  null,
);
const resource = nested(fc.oneof(scalarValue, fc.array(scalarValue, { maxLength: 3 })), 0).node;

/** A resource shaped like the pattern (same keys, leaves drawn near the pattern's), so many pass. */
function shapedLike(pattern: unknown): fc.Arbitrary<unknown> {
  if (typeof pattern === 'object' && pattern !== null && !Array.isArray(pattern)) {
    const entries = Object.entries(pattern).map(([k, v]) =>
      shapedLike(v).map((value) => [k, value] as const),
    );
    return fc.tuple(...entries).map((pairs) => Object.fromEntries(pairs));
  }
  return fc.oneof(fc.constant(pattern), scalarValue, fc.array(scalarValue, { maxLength: 2 }));
}

test('a plain pattern passes exactly when the general pattern walk passes', () => {
  let passes = 0;
  fc.assert(
    fc.property(
      plainPattern.chain((p) => fc.tuple(fc.constant(p), fc.oneof(resource, shapedLike(p)))),
      ([pattern, value]) => {
        assert.ok(compilePlainTest(compileNode(pattern)), 'plain patterns take the fast path');
        const compiled = compilePattern(pattern);
        const passed = compiled.test(value);
        assert.equal(passed, compiled.match(value).status === 'pass');
        if (passed) passes++;
      },
    ),
    { numRuns: 5000 },
  );
  assert.ok(passes > 250, `only ${passes} of 5000 random cases passed: the comparison needs both outcomes`);
});

test('anchors, lists and metadata wildcards keep the general walk', () => {
  for (const pattern of [
    { event: { '(process)': { binary: '*/sh' } } },
    { event: { 'X(file)': null } },
    { spec: { containers: [{ name: 'app' }] } },
    { metadata: { labels: { 'app.*': 'web' } } },
  ])
    assert.equal(compilePlainTest(compileNode(pattern)), undefined, JSON.stringify(pattern));
  // `+(key)` is mutate-only: validate reads it as the plain key "+(key)", as the general walk does.
  const addIfNotPresent = compilePattern({ '+(app)': 'web' });
  assert.equal(addIfNotPresent.test({ '+(app)': 'web' }), true);
  assert.equal(addIfNotPresent.test({ app: 'web' }), addIfNotPresent.match({ app: 'web' }).status === 'pass');
});
