import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import {
  checkPatterns,
  compileWildcard,
  containsWildcard,
  matchPatterns,
  replaceWildcardsInSelectorLabels,
  separateWildcards,
  wildcardMatch,
} from '../../../src/engine/wildcard.js';
import { replaceWildcardsInMapKeys } from '../../../src/engine/pattern/metadata-wildcards.js';

interface WildcardCase {
  source: string;
  test: string;
  name?: string;
  function: string;
  input?: unknown;
  pattern?: unknown;
  patterns?: string[] | null;
  expected: unknown;
}

const vectors = JSON.parse(
  readFileSync(new URL('../../../../shared/conformance/kyverno-unit/wildcard.json', import.meta.url), 'utf8'),
) as WildcardCase[];

describe('kyverno-unit wildcard.json', () => {
  vectors.forEach((c, i) => {
    const label = `${c.source} ${c.test}${c.name ? ` / ${c.name}` : ''} #${i}`;
    test(label, () => {
      switch (c.function) {
        case 'Match': {
          const pattern = c.pattern as string;
          const input = c.input as string;
          assert.equal(wildcardMatch(pattern, input), c.expected);
          assert.equal(compileWildcard(pattern).test(input), c.expected, 'compiled matcher agrees');
          break;
        }
        case 'ContainsWildcard':
          assert.equal(containsWildcard(c.input as string), c.expected);
          break;
        case 'CheckPatterns':
          assert.equal(checkPatterns(c.patterns, c.input as string), c.expected);
          break;
        case 'MatchPatterns':
          assert.deepEqual(matchPatterns(c.patterns, c.input as string[] | null), c.expected);
          break;
        case 'SeperateWildcards': {
          const expected = c.expected as {
            withWildcards: string[] | null;
            withoutWildcards: string[] | null;
          };
          // The vectors write a Go nil slice as null; to us it is the same as an empty one.
          assert.deepEqual(separateWildcards(c.input as string[] | null), {
            withWildcards: expected.withWildcards ?? [],
            withoutWildcards: expected.withoutWildcards ?? [],
          });
          break;
        }
        case 'replaceWildcardsInMapKeys':
          assert.deepEqual(
            replaceWildcardsInMapKeys(c.pattern as Record<string, string>, c.input as Record<string, string>),
            c.expected,
          );
          break;
        default:
          assert.fail(`unhandled vector function ${c.function}`);
      }
    });
  });
});

describe('wildcard semantics beyond the vectors', () => {
  test('? is exactly one code point, including astral characters', () => {
    assert.ok(wildcardMatch('a?c', 'a😀c'));
    assert.ok(!wildcardMatch('a??c', 'a😀c'));
    assert.ok(compileWildcard('a?c').test('a😀c'));
    assert.ok(wildcardMatch('?', 'é'));
  });
  test('no escaping, case-sensitive, / is ordinary, regex metacharacters are literal', () => {
    assert.ok(!wildcardMatch('\\*', '*x'));
    assert.ok(wildcardMatch('\\*', '\\anything'));
    assert.ok(!wildcardMatch('ABC', 'abc'));
    assert.ok(wildcardMatch('/etc/*', '/etc/ssh/sshd_config'));
    assert.ok(wildcardMatch('a.b+c(d)[e]', 'a.b+c(d)[e]'));
    assert.ok(!wildcardMatch('a.b', 'axb'));
  });
  test('?* means non-empty', () => {
    assert.ok(!wildcardMatch('?*', ''));
    assert.ok(wildcardMatch('?*', 'x'));
  });
  test('pathological patterns stay fast (no exponential backtracking)', () => {
    const text = 'a'.repeat(5000);
    const pattern = '*a'.repeat(50) + 'b';
    // CPU time of this process, not wall time: other processes on a loaded machine cannot stretch
    // it. Linear matching takes milliseconds; exponential backtracking would not finish at all.
    const cpu0 = process.cpuUsage();
    assert.ok(!wildcardMatch(pattern, text));
    const cpu = process.cpuUsage(cpu0);
    const cpuMs = (cpu.user + cpu.system) / 1000;
    assert.ok(cpuMs < 2000, `${cpuMs} ms of CPU`);
  });
  test('selector label replacement takes a matching resource label, else zeroes wildcards', () => {
    assert.deepEqual(
      replaceWildcardsInSelectorLabels({ 'app*': 'ng*' }, { other: 'x', application: 'nginx' }),
      {
        application: 'nginx',
      },
    );
    assert.deepEqual(replaceWildcardsInSelectorLabels({ 'app*': 'ng?' }, { app: 'web' }), { app0: 'ng0' });
    assert.deepEqual(replaceWildcardsInSelectorLabels({ plain: 'v' }, {}), { plain: 'v' });
  });
});

// A reference matcher written independently (recursive definition) to cross-check the fast one.
function referenceMatch(p: string[], t: string[]): boolean {
  const memo = new Map<string, boolean>();
  const go = (i: number, j: number): boolean => {
    const key = `${i},${j}`;
    const hit = memo.get(key);
    if (hit !== undefined) return hit;
    let r: boolean;
    if (i === p.length) r = j === t.length;
    else if (p[i] === '*') r = go(i + 1, j) || (j < t.length && go(i, j + 1));
    else if (j < t.length && (p[i] === '?' || p[i] === t[j])) r = go(i + 1, j + 1);
    else r = false;
    memo.set(key, r);
    return r;
  };
  return go(0, 0);
}

describe('wildcard properties (fast-check)', () => {
  const alphabet = fc.constantFrom('a', 'b', '/', '.', 'é', '😀');
  const text = fc.array(alphabet, { maxLength: 12 }).map((a) => a.join(''));
  const pattern = fc
    .array(fc.constantFrom('a', 'b', '/', '*', '?', '😀'), { maxLength: 8 })
    .map((a) => a.join(''));

  test('a pattern without wildcards matches only itself', () => {
    fc.assert(
      fc.property(text, text, (p, t) => {
        assert.equal(wildcardMatch(p, t), p === t);
        assert.equal(compileWildcard(p).test(t), p === t);
      }),
    );
  });
  test('* matches everything; ? matches exactly the one-character strings', () => {
    fc.assert(
      fc.property(text, (t) => {
        assert.ok(wildcardMatch('*', t));
        assert.equal(wildcardMatch('?', t), Array.from(t).length === 1);
      }),
    );
  });
  test('fast matcher and compiled matcher agree with a reference definition', () => {
    fc.assert(
      fc.property(pattern, text, (p, t) => {
        const expected = referenceMatch(Array.from(p), Array.from(t));
        assert.equal(wildcardMatch(p, t), expected, `${p} vs ${t}`);
        assert.equal(compileWildcard(p).test(t), expected, `compiled ${p} vs ${t}`);
      }),
      { numRuns: 2000 },
    );
  });
  test('prefix*, *suffix and *infix* shortcuts agree with the general matcher', () => {
    fc.assert(
      fc.property(text, text, (core, t) => {
        for (const p of [`${core}*`, `*${core}`, `*${core}*`]) {
          assert.equal(
            compileWildcard(p).test(t),
            referenceMatch(Array.from(p), Array.from(t)),
            `${p} vs ${t}`,
          );
        }
      }),
    );
  });
});
