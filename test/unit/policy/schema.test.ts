import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { openApiSchema, policySchema } from '../../../src/policy/schema/definition.js';
import { damerauLevenshtein, suggest } from '../../../src/policy/suggest.js';

const read = (name: string): unknown =>
  JSON.parse(readFileSync(new URL(`../../../schemas/${name}`, import.meta.url), 'utf8'));

describe('policy JSON Schema', () => {
  it('the published files match the definition (regenerate with src/policy/schema/generate.ts)', () => {
    assert.deepEqual(read('policy.schema.json'), policySchema());
    assert.deepEqual(read('policy.openapi.json'), openApiSchema());
  });

  it('the CRD flavour uses no keyword a structural openAPIV3Schema forbids', () => {
    const forbidden: string[] = [];
    const walk = (node: unknown, path: string): void => {
      if (Array.isArray(node)) return node.forEach((n, i) => walk(n, `${path}[${i}]`));
      if (node === null || typeof node !== 'object') return;
      const o = node as Record<string, unknown>;
      for (const k of ['$ref', 'definitions', '$defs', '$schema', '$id'])
        if (k in o) forbidden.push(`${path}.${k}`);
      if (o.additionalProperties !== undefined && o.properties !== undefined)
        forbidden.push(`${path}: properties + additionalProperties`);
      for (const [k, v] of Object.entries(o)) walk(v, `${path}.${k}`);
    };
    walk(openApiSchema(), '');
    assert.deepEqual(forbidden, []);
  });
});

describe('did-you-mean', () => {
  it('counts a transposition as one edit', () => {
    assert.equal(damerauLevenshtein('restirct', 'restrict'), 1);
    assert.equal(damerauLevenshtein('', 'abc'), 3);
    assert.equal(damerauLevenshtein('kitten', 'sitting'), 3);
  });
  it('suggests case-insensitively and only for near misses', () => {
    assert.equal(suggest('Restirct', ['validate', 'restrict', 'match']), 'restrict');
    assert.equal(suggest('preconditons', ['preconditions', 'celPreconditions']), 'preconditions');
    assert.equal(suggest('zzzzzz', ['restrict', 'match']), undefined);
  });
});
