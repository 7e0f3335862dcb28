/**
 * Writes the published schema files from definition.ts (the single source of truth):
 *   schemas/policy.schema.json   JSON Schema (draft-07) used by editors and by ajv at load time;
 *   schemas/policy.openapi.json  the CRDs' openAPIV3Schema (structural: no additionalProperties:false);
 *   schemas/runtime-validating-policy.schema.json  the same for the RuntimeValidatingPolicy kinds.
 * Run: npx tsx src/policy/schema/generate.ts && npx prettier --write schemas/policy.*.json
 * (test/unit/policy/schema.test.ts fails when the files and the definition differ)
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { openApiSchema, policySchema, runtimeValidatingPolicySchema } from './definition.js';

export const SCHEMA_FILES = {
  'policy.schema.json': (): unknown => policySchema(),
  'policy.openapi.json': (): unknown => openApiSchema(),
  'runtime-validating-policy.schema.json': (): unknown => runtimeValidatingPolicySchema(),
} as const;

export function renderSchema(name: keyof typeof SCHEMA_FILES): string {
  return `${JSON.stringify(SCHEMA_FILES[name](), null, 2)}\n`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  for (const name of Object.keys(SCHEMA_FILES) as (keyof typeof SCHEMA_FILES)[]) {
    const target = new URL(`../../../schemas/${name}`, import.meta.url);
    writeFileSync(target, renderSchema(name));
    process.stdout.write(`wrote ${fileURLToPath(target)}\n`);
  }
}
