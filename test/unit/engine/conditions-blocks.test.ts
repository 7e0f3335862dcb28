// Condition blocks: any/all combination, the legacy list, messages, preconditions mode, errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileConditions, ConditionCompileError } from '../../../src/engine/conditions/index.js';
import { VariableSubstitutionError } from '../../../src/engine/variables/index.js';

const ctx = {
  request: {
    operation: 'UPDATE',
    object: {
      metadata: { name: 'web', namespace: 'prod', labels: { app: 'web' } },
      spec: { hostNetwork: true },
    },
  },
};

const cond = (key: unknown, operator: string, value: unknown, message?: string) => ({
  key,
  operator,
  value,
  message,
});

test('no conditions always hold', () => {
  assert.deepEqual(compileConditions(undefined).evaluate(ctx), { result: true });
});

test('all is an AND, any is an OR', () => {
  const block = {
    all: [cond("{{ request.operation || 'BACKGROUND' }}", 'AnyIn', ['CREATE', 'UPDATE'])],
    any: [
      cond('{{ request.object.metadata.namespace }}', 'Equals', 'dev'),
      cond('{{ request.object.spec.hostNetwork }}', 'Equals', true),
    ],
  };
  assert.equal(compileConditions(block).evaluate(ctx).result, true);
  const none = { any: [cond('{{ request.object.metadata.namespace }}', 'Equals', 'dev')] };
  assert.equal(compileConditions(none).evaluate(ctx).result, false);
});

test('a present but empty any is false', () => {
  assert.equal(compileConditions({ any: [] }).evaluate(ctx).result, false);
  assert.equal(compileConditions({ all: [] }).evaluate(ctx).result, true);
});

test('the legacy plain list is ANDed', () => {
  const list = [
    cond('{{ request.object.metadata.name }}', 'Equals', 'web'),
    cond('{{ request.operation }}', 'Equals', 'CREATE'),
  ];
  assert.equal(compileConditions(list).evaluate(ctx).result, false);
});

test('operators are case-insensitive and wildcards apply on the value side', () => {
  assert.equal(
    compileConditions([cond('{{ request.object.metadata.name }}', 'equals', 'w*')]).evaluate(ctx).result,
    true,
  );
});

test('the deciding conditions give the message', () => {
  const block = {
    all: [
      cond(
        '{{ request.object.metadata.namespace }}',
        'NotEquals',
        'prod',
        'namespace {{ request.object.metadata.namespace }} is protected',
      ),
    ],
  };
  assert.deepEqual(compileConditions(block).evaluate(ctx), {
    result: false,
    message: 'namespace prod is protected',
  });
});

test('strict mode: an unresolvable key is a substitution error (rule error)', () => {
  const block = { all: [cond('{{ request.object.metadata.labels.owner }}', 'Equals', 'x')] };
  assert.throws(() => compileConditions(block).evaluate(ctx), VariableSubstitutionError);
});

test('preconditions mode: an unresolvable key reads as an empty string', () => {
  const block = { all: [cond('{{ request.object.metadata.labels.owner }}', 'Equals', '')] };
  assert.equal(compileConditions(block, { mode: 'preconditions' }).evaluate(ctx).result, true);
});

test('an unknown operator or a malformed block is rejected at compile time with its path', () => {
  assert.throws(
    () =>
      compileConditions({ all: [cond('a', 'Matches', 'b')] }, { basePath: '/spec/rules/0/preconditions' }),
    (e: unknown) =>
      e instanceof ConditionCompileError && e.path === '/spec/rules/0/preconditions/all/0/operator',
  );
  assert.throws(() => compileConditions({ one: [] }), ConditionCompileError);
  assert.throws(() => compileConditions('x'), ConditionCompileError);
});
