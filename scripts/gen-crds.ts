/**
 * Generates the CustomResourceDefinitions for ClusterRuntimePolicy, RuntimePolicy,
 * RuntimeValidatingPolicy and NamespacedRuntimeValidatingPolicy from the policy
 * engine's own schema (src/policy/schema/definition.ts, openApiSchema()), so the API server and the
 * engine validate policies against one source of truth. Writes deploy/crds/*.yaml and the Helm
 * chart's copy (deploy/helm/crds/). test/integration/k8s/crds-match-schema.test.ts fails when the
 * checked-in files differ from what this script generates.
 *
 *   npx tsx scripts/gen-crds.ts
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { openApiSchema, runtimeValidatingPolicySchema } from '../src/policy/schema/definition.js';

const GROUP = 'runtime.kyverno.io';
const VERSION = 'v1alpha1';
const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
export const CRD_DIRS = [join(repoRoot, 'deploy/crds'), join(repoRoot, 'deploy/helm/crds')];

/** status written by the policy controller: a Ready condition carrying compile errors. */
const statusSchema = {
  type: 'object',
  description: 'Observed state, written by kyverno-runtime.',
  properties: {
    observedGeneration: { type: 'integer', format: 'int64' },
    ready: { type: 'boolean', description: 'True when the policy compiled and is enforced.' },
    conditions: {
      type: 'array',
      'x-kubernetes-list-type': 'map',
      'x-kubernetes-list-map-keys': ['type'],
      items: {
        type: 'object',
        required: ['type', 'status', 'lastTransitionTime', 'reason', 'message'],
        properties: {
          type: { type: 'string', maxLength: 316 },
          status: { type: 'string', enum: ['True', 'False', 'Unknown'] },
          observedGeneration: { type: 'integer', format: 'int64', minimum: 0 },
          lastTransitionTime: { type: 'string', format: 'date-time' },
          reason: { type: 'string', maxLength: 1024, minLength: 1 },
          message: { type: 'string', maxLength: 32768 },
        },
      },
    },
  },
};

interface Names {
  kind: string;
  plural: string;
  singular: string;
  shortNames: string[];
  scope: 'Cluster' | 'Namespaced';
  /** The CEL-native kinds (RuntimeValidatingPolicy) have their own spec schema. */
  validating?: boolean;
}

const KINDS: Names[] = [
  {
    kind: 'ClusterRuntimePolicy',
    plural: 'clusterruntimepolicies',
    singular: 'clusterruntimepolicy',
    shortNames: ['crpol'],
    scope: 'Cluster',
  },
  {
    kind: 'RuntimePolicy',
    plural: 'runtimepolicies',
    singular: 'runtimepolicy',
    shortNames: ['rpol'],
    scope: 'Namespaced',
  },
  {
    kind: 'RuntimeValidatingPolicy',
    plural: 'runtimevalidatingpolicies',
    singular: 'runtimevalidatingpolicy',
    shortNames: ['rvpol'],
    scope: 'Cluster',
    validating: true,
  },
  {
    kind: 'NamespacedRuntimeValidatingPolicy',
    plural: 'namespacedruntimevalidatingpolicies',
    singular: 'namespacedruntimevalidatingpolicy',
    shortNames: ['nrvpol'],
    scope: 'Namespaced',
    validating: true,
  },
];

export function crdObject(n: Names): Record<string, unknown> {
  const policy = openApiSchema(n.validating ? runtimeValidatingPolicySchema() : undefined) as {
    properties: { spec: unknown };
  };
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: `${n.plural}.${GROUP}`,
      annotations: {
        'kyverno-runtime.dev/generated-by': 'scripts/gen-crds.ts from src/policy/schema/definition.ts',
      },
      labels: { 'app.kubernetes.io/name': 'kyverno-runtime', 'app.kubernetes.io/part-of': 'kyverno-runtime' },
    },
    spec: {
      group: GROUP,
      names: {
        kind: n.kind,
        listKind: `${n.kind}List`,
        plural: n.plural,
        singular: n.singular,
        shortNames: n.shortNames,
        categories: ['kyverno', 'kyverno-runtime'],
      },
      scope: n.scope,
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: [
            n.validating
              ? { name: 'Actions', type: 'string', jsonPath: '.spec.validationActions' }
              : { name: 'Mode', type: 'string', jsonPath: '.spec.failureAction' },
            { name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status' },
            { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
          ],
          schema: {
            openAPIV3Schema: {
              type: 'object',
              description: n.validating
                ? `${n.kind}: ValidatingPolicy-style CEL policy over runtime events (runtime.kyverno.io/v1alpha1).`
                : `${n.kind}: Kyverno-style policy over runtime events (runtime.kyverno.io/v1alpha1).`,
              required: ['spec'],
              properties: {
                apiVersion: { type: 'string' },
                kind: { type: 'string' },
                metadata: { type: 'object' },
                spec: policy.properties.spec,
                status: statusSchema,
              },
            },
          },
        },
      ],
    },
  };
}

/** File name → YAML text. */
export function renderCrds(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const n of KINDS) {
    out[`${GROUP}_${n.plural}.yaml`] =
      `# Generated by scripts/gen-crds.ts: do not edit by hand.\n${stringify(crdObject(n), { lineWidth: 0, singleQuote: true })}`;
  }
  return out;
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  for (const dir of CRD_DIRS) {
    mkdirSync(dir, { recursive: true });
    for (const [file, text] of Object.entries(renderCrds())) writeFileSync(join(dir, file), text);
  }
  console.log(`wrote ${Object.keys(renderCrds()).length} CRDs to ${CRD_DIRS.join(', ')}`);
}
