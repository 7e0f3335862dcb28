/**
 * Policy regexes behave as Go's `regexp` does in Kyverno: RE2 syntax (flags, Unicode classes, named groups, `\z`,
 * `\Q…\E`), RE2's refusals (backreferences, lookaround), Go's rules for successive empty matches and Go's `$`
 * template expansion in `regex_replace_all`. Checked through the CEL and JMESPath functions policies call.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { compileCel } from '../../../src/engine/cel/index.js';
import { compileJmesPath } from '../../../src/engine/jmespath/index.js';
import { compileGoRegexp, GoRegexpSyntaxError, MAX_PATTERN_LENGTH } from '../../../src/engine/regexp.js';

const cel = (expression: string, s: string): unknown => compileCel(expression).evaluate({ s });
const matches = (pattern: string, s: string): unknown =>
  compileJmesPath('regex_match(p, s)')({ p: pattern, s });
const replaceAll = (pattern: string, s: string, repl: string): unknown =>
  compileJmesPath('regex_replace_all(p, s, r)')({ p: pattern, s, r: repl });

describe('Go regexp syntax', () => {
  const cases: [string, string, boolean][] = [
    ['(?i)^abc$', 'ABC', true],
    ['(?s)^a.b$', 'a\nb', true],
    ['^a.b$', 'a\nb', false],
    ['(?m)^b$', 'a\nb', true],
    ['(?U)^a+', 'aaa', true],
    ['^\\pL+$', 'éßa', true],
    ['^\\pL+$', 'a1', false],
    ['^\\p{Greek}+$', 'αβγ', true],
    ['^\\p{Greek}+$', 'abc', false],
    ['^\\PL+$', '123', true],
    ['a\\z', 'a', true],
    ['a\\z', 'a\n', false],
    ['\\Aa', 'ab', true],
    ['^\\Q.*+\\E$', '.*+', true],
    ['^\\Q.*+\\E$', 'aa+', false],
    ['^[[:alpha:]]+$', 'abC', true],
    ['^[[:^digit:]]+$', 'ab', true],
    ['^\\x{41}$', 'A', true],
    ['\\bfoo\\b', 'a foo b', true],
  ];
  for (const [pattern, input, want] of cases) {
    it(`${pattern} on ${JSON.stringify(input)} is ${want} in JMESPath and CEL`, () => {
      assert.equal(matches(pattern, input), want);
      assert.equal(compileCel('s.matches(p)').evaluate({ s: input, p: pattern }), want);
      assert.equal(compileCel('matches(s, p)').evaluate({ s: input, p: pattern }), want);
    });
  }

  it('named groups in both Go spellings are usable in a replacement', () => {
    assert.equal(replaceAll('(?P<user>\\w+)@(?<host>\\w+)', 'bob@ex', '${host}:${user}'), 'ex:bob');
  });

  it('refuses what RE2 refuses, with Go’s message', () => {
    for (const [pattern, message] of [
      ['(a)\\1', /invalid escape sequence: `\\1`/],
      ['a(?=x)', /invalid or unsupported Perl syntax: `\(\?=`/],
      ['(?!x)a', /invalid or unsupported Perl syntax/],
      ['(?<=x)a', /invalid/],
      ['a{1001}', /invalid repeat count/],
      ['(a', /missing closing \)/],
      ['\\p{Klingon}', /invalid character class range/],
    ] as const) {
      assert.throws(() => compileGoRegexp(pattern), message, pattern);
      assert.throws(
        () => matches(pattern, 'x'),
        /JMESPath function 'regex_match': invalid regular expression/,
      );
    }
  });

  it('refuses a pattern over the length limit before compiling it', () => {
    assert.throws(
      () => compileGoRegexp('a'.repeat(MAX_PATTERN_LENGTH + 1)),
      (e: unknown) => e instanceof GoRegexpSyntaxError && /over the limit of 4096/.test(e.message),
    );
    assert.equal(compileGoRegexp('a'.repeat(MAX_PATTERN_LENGTH)).test('a'.repeat(MAX_PATTERN_LENGTH)), true);
  });

  it('compiles each distinct pattern once', () => {
    assert.equal(compileGoRegexp('^x+$'), compileGoRegexp('^x+$'));
  });
});

describe('Go match iteration and replacement', () => {
  it('drops an empty match right after a match, as Go does (JavaScript keeps it)', () => {
    assert.deepEqual(cel("s.findAll('a*')", 'baaac'), ['', 'aaa', '']);
    assert.equal(replaceAll('a*', 'baaac', 'X'), 'XbXcX');
    assert.equal(
      compileJmesPath("regex_replace_all_literal('a*', 'baaac', '$1')")({}),
      '$1b$1c$1', // literal: `$1` is not expanded
    );
  });

  it('steps over a whole astral character after an empty match', () => {
    assert.deepEqual(cel("s.findAll('x*')", '😀'), ['', '']);
    assert.equal(replaceAll('x*', 'a😀', '-'), '-a-😀-');
  });

  it('expands $ templates with Go’s rules', () => {
    const re = '(\\w+)@(\\w+)';
    assert.equal(replaceAll(re, 'bob@ex', '$2/$1'), 'ex/bob');
    assert.equal(replaceAll(re, 'bob@ex', '${1}x'), 'bobx');
    // `$1x` names a group "1x", which does not exist: empty, as in Go (JavaScript would give "bobx").
    assert.equal(replaceAll(re, 'bob@ex', '$1x'), '');
    assert.equal(replaceAll(re, 'bob@ex', '$$1'), '$1');
    assert.equal(replaceAll(re, 'bob@ex', '$9|${nope}|$0'), '||bob@ex');
    // A `$` that starts no name stays as is, as do an unclosed brace and a leading-zero number.
    assert.equal(replaceAll(re, 'bob@ex', '$ ${1 $01'), '$ ${1 ');
  });

  it('find and findAll follow the Kubernetes regex library', () => {
    assert.equal(cel("s.find('[0-9]+')", 'ab 12 34'), '12');
    assert.equal(cel("s.find('[0-9]+')", 'abc'), '');
    assert.deepEqual(cel("s.findAll('[0-9]+')", 'ab 12 34 5'), ['12', '34', '5']);
    assert.deepEqual(cel("s.findAll('[0-9]+', 2)", 'ab 12 34 5'), ['12', '34']);
    assert.deepEqual(cel("s.findAll('[0-9]+', -1)", 'ab 12 34 5'), ['12', '34', '5']);
    assert.deepEqual(cel("s.findAll('[0-9]+', 0)", 'ab 12 34 5'), []);
  });

  it('a regexp argument built at run time that RE2 rejects fails the evaluation, not the process', () => {
    assert.throws(
      () => compileCel('s.matches(p)').evaluate({ s: 'aa', p: '(a)\\1' }),
      /evaluation failed .*invalid escape sequence/,
    );
  });

  it('a type error on matches names matches, not the internal method', () => {
    assert.throws(() => compileCel("1.matches('a')"), /int\.matches\(string\)/);
  });
});
