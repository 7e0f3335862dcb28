import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { CRD_DIRS, renderCrds } from '../../../scripts/gen-crds.js';
import { openApiSchema, runtimeValidatingPolicySchema } from '../../../src/policy/schema/definition.js';

/** The structural-schema rules the API server enforces on CRDs (apiextensions validation). */
function structuralProblems(node: unknown, path: string, out: string[]): void {
  if (node === null || typeof node !== 'object' || Array.isArray(node)) return;
  const s = node as Record<string, unknown>;
  for (const bad of ['$ref', 'definitions', '$schema'])
    if (bad in s) out.push(`${path}: ${bad} is not allowed`);
  if ('properties' in s && 'additionalProperties' in s)
    out.push(`${path}: properties and additionalProperties are mutually exclusive`);
  const preserve =
    s['x-kubernetes-preserve-unknown-fields'] === true || s['x-kubernetes-int-or-string'] === true;
  if (!preserve && s.type === undefined && path !== '') out.push(`${path}: type required`);
  if (
    s.type === 'object' &&
    !preserve &&
    path !== '.metadata' &&
    s.properties === undefined &&
    s.additionalProperties === undefined
  )
    out.push(`${path}: object without properties must preserve unknown fields`);
  for (const [k, v] of Object.entries((s.properties ?? {}) as Record<string, unknown>))
    structuralProblems(v, `${path}.${k}`, out);
  if (s.items !== undefined) structuralProblems(s.items, `${path}[]`, out);
  if (typeof s.additionalProperties === 'object')
    structuralProblems(s.additionalProperties, `${path}{}`, out);
}

describe('shipped CRDs', () => {
  it('are exactly what scripts/gen-crds.ts generates (run it after changing the policy schema)', () => {
    for (const dir of CRD_DIRS) {
      for (const [file, text] of Object.entries(renderCrds())) {
        assert.equal(
          readFileSync(join(dir, file), 'utf8'),
          text,
          `${dir}/${file} is stale: run npx tsx scripts/gen-crds.ts`,
        );
      }
    }
  });

  it('embed the policy engine schema as openAPIV3Schema.spec and are structural', () => {
    for (const text of Object.values(renderCrds())) {
      const crd = parse(text);
      const v = crd.spec.versions[0];
      const validating = /RuntimeValidatingPolicy$/.test(crd.spec.names.kind);
      const schema = openApiSchema(validating ? runtimeValidatingPolicySchema() : undefined) as any;
      assert.deepEqual(v.schema.openAPIV3Schema.properties.spec, schema.properties.spec);
      assert.deepEqual(v.subresources, { status: {} });
      const problems: string[] = [];
      structuralProblems(v.schema.openAPIV3Schema, '', problems);
      assert.deepEqual(problems.slice(0, 10), []);
      assert.equal(crd.spec.group, 'runtime.kyverno.io');
    }
  });
});
