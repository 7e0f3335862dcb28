/**
 * A constant regexp that RE2 rejects fails the policy load at the expression's file:line:col with Go's message,
 * for CEL (`matches`, `find`, `findAll`) and JMESPath (`regex_match`, `regex_replace_all*`): Kyverno would
 * reject it on every evaluation, and the author should hear it once, at load.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { formatPolicyError, loadPolicyText } from '../../../src/policy/index.js';

function policy(restrict: string): string {
  return `apiVersion: runtime.kyverno.io/v1alpha1
kind: ClusterRuntimePolicy
metadata:
  name: bad-regex
spec:
  rules:
    - name: r
      match: {any: [{resources: {kinds: [Pod]}}]}
      restrict:
        behaviors: [process-exec]
${restrict}`;
}

function loadErrors(text: string): string[] {
  const r = loadPolicyText(text, 'bad.yaml');
  assert.equal(r.policies.length, 0);
  return r.errors.map(formatPolicyError);
}

describe('regexps RE2 rejects fail the policy load', () => {
  it('a CEL backreference, at the expression', () => {
    const errors = loadErrors(
      policy(`        cel:
          expressions:
            - expression: "event.process.binary.matches('(a)\\\\\\\\1')"
`),
    );
    assert.equal(errors.length, 1);
    assert.match(errors[0]!, /^bad\.yaml:13:27: /);
    assert.match(errors[0]!, /invalid regular expression "\(a\)\\\\1": invalid escape sequence: `\\1`/);
    assert.match(errors[0]!, /at offset 29 of the expression/);
  });

  it('a CEL lookahead inside a macro, and in find/findAll', () => {
    for (const call of ["exists(a, a.matches('x(?=y)'))", "exists(a, a.find('(?=y)') != '')"]) {
      const errors = loadErrors(
        policy(`        cel:
          expressions:
            - expression: "event.process.args.${call}"
`),
      );
      assert.equal(errors.length, 1, call);
      assert.match(errors[0]!, /^bad\.yaml:13:27: .*invalid or unsupported Perl syntax: `\(\?=`/);
    }
  });

  it('a CEL global matches() and a celPrecondition', () => {
    const errors = loadErrors(
      policy(`        cel:
          expressions:
            - expression: "matches(event.process.binary, '(?=x)')"
`),
    );
    assert.match(errors[0]!, /^bad\.yaml:13:27: .*`\(\?=`/);
  });

  it('a JMESPath regex_match backreference in a condition key', () => {
    const errors = loadErrors(
      policy(`        conditions:
          all:
            - key: "{{ regex_match('(a)\\\\1', event.process.binary) }}"
              operator: Equals
              value: true
`),
    );
    assert.equal(errors.length, 1);
    assert.match(errors[0]!, /^bad\.yaml:13:20: .*\/all\/0\/key: /);
    assert.match(errors[0]!, /regex_match: invalid regular expression "\(a\)\\\\1": invalid escape sequence/);
  });

  it('a JMESPath regex_replace_all lookahead in a message', () => {
    const errors = loadErrors(
      policy(`        message: "{{ regex_replace_all('a(?=b)', event.process.binary, 'x') }}"
        cel:
          expressions:
            - expression: "true"
`),
    );
    assert.equal(errors.length, 1);
    assert.match(errors[0]!, /^bad\.yaml:11:18: .*regex_replace_all: invalid regular expression/);
  });

  it('a valid pattern and a pattern from the event load fine', () => {
    const r = loadPolicyText(
      policy(`        cel:
          expressions:
            - expression: "event.process.binary.matches('^/usr/(s)?bin/') && event.process.binary.matches(event.process.args[0])"
`),
      'ok.yaml',
    );
    assert.deepEqual(r.errors, []);
  });
});
