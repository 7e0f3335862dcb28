/**
 * Validation of every body the fake API server receives. Built-in kinds: first the real Kubernetes
 * OpenAPI schema (openapi.ts), then the checks below that the API server makes beyond it (label
 * values, names, Event limits) with unknown fields rejected (strict field validation). Our own
 * kinds: the shipped CRD schemas, unknown fields rejected.
 */
import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { openApiProblems } from './openapi.js';

type Schema = Record<string, unknown>;

const str = { type: 'string' };
const int = { type: 'integer' };
const bool = { type: 'boolean' };
const stringMap = { type: 'object', additionalProperties: { type: 'string' } };
const labelValue = {
  type: 'string',
  maxLength: 63,
  pattern: '^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$',
};
const qualifiedName =
  '^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$';
const dnsSubdomain = {
  type: 'string',
  maxLength: 253,
  pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$',
};

const objectRef = {
  type: 'object',
  properties: {
    apiVersion: str,
    kind: str,
    name: str,
    namespace: str,
    uid: str,
    resourceVersion: str,
    fieldPath: str,
  },
  additionalProperties: false,
};

const objectMeta = {
  type: 'object',
  properties: {
    name: dnsSubdomain,
    generateName: str,
    namespace: str,
    uid: str,
    resourceVersion: str,
    generation: int,
    creationTimestamp: str,
    deletionTimestamp: str,
    labels: { type: 'object', propertyNames: { pattern: qualifiedName }, additionalProperties: labelValue },
    annotations: { type: 'object', propertyNames: { pattern: qualifiedName }, additionalProperties: str },
    ownerReferences: {
      type: 'array',
      items: {
        type: 'object',
        required: ['apiVersion', 'kind', 'name', 'uid'],
        properties: {
          apiVersion: str,
          kind: str,
          name: str,
          uid: str,
          controller: bool,
          blockOwnerDeletion: bool,
        },
        additionalProperties: false,
      },
    },
    finalizers: { type: 'array', items: str },
    managedFields: { type: 'array' },
  },
  additionalProperties: false,
};

function kind(spec: Schema, required: string[] = []): Schema {
  return {
    type: 'object',
    required: ['metadata', ...required],
    properties: { apiVersion: str, kind: str, metadata: objectMeta, ...spec },
    additionalProperties: false,
  };
}

const container = {
  type: 'object',
  required: ['name'],
  properties: { name: labelValue, image: str },
};

const result = {
  type: 'object',
  required: ['policy'],
  properties: {
    source: str,
    policy: str,
    rule: str,
    category: str,
    severity: { enum: ['critical', 'high', 'medium', 'low', 'info'] },
    timestamp: {
      type: 'object',
      required: ['seconds', 'nanos'],
      properties: { seconds: int, nanos: int },
      additionalProperties: false,
    },
    result: { enum: ['pass', 'fail', 'warn', 'error', 'skip'] },
    scored: bool,
    message: str,
    description: str,
    properties: stringMap,
    resources: { type: 'array', items: objectRef },
    subjects: { type: 'array', items: objectRef },
    resourceSelector: { type: 'object' },
  },
  additionalProperties: false,
};

const summary = {
  type: 'object',
  properties: { pass: int, fail: int, warn: int, error: int, skip: int },
  additionalProperties: false,
};

const report = kind({
  scope: objectRef,
  scopeSelector: { type: 'object' },
  summary,
  results: { type: 'array', items: result },
  source: str,
  configuration: { type: 'object' },
});

const BUILTIN: Record<string, Schema> = {
  'v1/Pod': kind(
    {
      spec: {
        type: 'object',
        required: ['containers'],
        properties: { containers: { type: 'array', minItems: 1, items: container }, nodeName: str },
      },
      status: { type: 'object' },
    },
    ['spec'],
  ),
  'v1/Namespace': kind({ spec: { type: 'object' }, status: { type: 'object' } }),
  'v1/Node': kind({
    spec: { type: 'object', properties: { unschedulable: bool } },
    status: { type: 'object' },
  }),
  'v1/Secret': kind({ data: stringMap, stringData: stringMap, type: str, immutable: bool }),
  'v1/Event': kind(
    {
      involvedObject: objectRef,
      reason: str,
      message: str,
      type: { enum: ['Normal', 'Warning'] },
      count: { type: 'integer', minimum: 1 },
      firstTimestamp: str,
      lastTimestamp: str,
      eventTime: str,
      source: { type: 'object', properties: { component: str, host: str }, additionalProperties: false },
      reportingComponent: str,
      reportingInstance: str,
      action: str,
    },
    ['involvedObject'],
  ),
  'events.k8s.io/v1/Event': kind(
    {
      eventTime: str,
      regarding: objectRef,
      related: objectRef,
      reason: { type: 'string', maxLength: 128 },
      note: { type: 'string', maxLength: 1024 },
      type: { enum: ['Normal', 'Warning'] },
      action: { type: 'string', maxLength: 128 },
      reportingController: str,
      reportingInstance: { type: 'string', maxLength: 128 },
      series: {
        type: 'object',
        properties: { count: int, lastObservedTime: str },
        additionalProperties: false,
      },
    },
    ['eventTime', 'reportingController', 'reportingInstance', 'action', 'type'],
  ),
  'networking.k8s.io/v1/NetworkPolicy': kind(
    {
      spec: {
        type: 'object',
        required: ['podSelector'],
        properties: {
          podSelector: {
            type: 'object',
            properties: {
              matchLabels: { type: 'object', additionalProperties: labelValue },
              matchExpressions: { type: 'array' },
            },
            additionalProperties: false,
          },
          policyTypes: { type: 'array', items: { enum: ['Ingress', 'Egress'] } },
          ingress: { type: 'array' },
          egress: { type: 'array' },
        },
        additionalProperties: false,
      },
    },
    ['spec'],
  ),
  'coordination.k8s.io/v1/Lease': kind({
    spec: {
      type: 'object',
      properties: {
        holderIdentity: str,
        leaseDurationSeconds: { type: 'integer', minimum: 1 },
        acquireTime: str,
        renewTime: str,
        leaseTransitions: { type: 'integer', minimum: 0 },
      },
      additionalProperties: false,
    },
  }),
  'apps/v1/Deployment': kind({
    spec: { type: 'object', properties: { replicas: { type: 'integer', minimum: 0 } } },
    status: { type: 'object' },
  }),
  'apps/v1/ReplicaSet': kind({
    spec: { type: 'object', properties: { replicas: { type: 'integer', minimum: 0 } } },
    status: { type: 'object' },
  }),
  'apps/v1/StatefulSet': kind({
    spec: { type: 'object', properties: { replicas: { type: 'integer', minimum: 0 } } },
    status: { type: 'object' },
  }),
  'autoscaling/v1/Scale': kind(
    {
      spec: {
        type: 'object',
        properties: { replicas: { type: 'integer', minimum: 0 } },
        additionalProperties: false,
      },
      status: { type: 'object' },
    },
    ['spec'],
  ),
  'wgpolicyk8s.io/v1alpha2/PolicyReport': report,
  'wgpolicyk8s.io/v1alpha2/ClusterPolicyReport': report,
  'openreports.io/v1alpha1/Report': report,
  'openreports.io/v1alpha1/ClusterReport': report,
  'v1/DeleteOptions': {
    type: 'object',
    properties: {
      apiVersion: str,
      kind: { const: 'DeleteOptions' },
      gracePeriodSeconds: { type: 'integer', minimum: 0 },
      preconditions: {
        type: 'object',
        properties: { uid: str, resourceVersion: str },
        additionalProperties: false,
      },
      propagationPolicy: { enum: ['Orphan', 'Background', 'Foreground'] },
      orphanDependents: bool,
      dryRun: { type: 'array', items: { const: 'All' } },
    },
    additionalProperties: false,
  },
};

/** Turns a CRD's structural schema into a strict JSON Schema: unknown fields rejected unless preserved. */
function strictify(s: unknown): unknown {
  if (Array.isArray(s)) return s.map(strictify);
  if (s === null || typeof s !== 'object') return s;
  const o: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(s))
    o[k] =
      k === 'properties'
        ? Object.fromEntries(Object.entries(v as object).map(([pk, pv]) => [pk, strictify(pv)]))
        : strictify(v);
  if (
    o.type === 'object' &&
    o.properties !== undefined &&
    o['x-kubernetes-preserve-unknown-fields'] !== true &&
    o.additionalProperties === undefined
  ) {
    o.additionalProperties = false;
  }
  return o;
}

export class BodyValidator {
  private readonly ajv = BodyValidator.makeAjv();

  private static makeAjv(): Ajv {
    const ajv = new Ajv({ strict: false, allErrors: false });
    (addFormatsModule as unknown as (a: Ajv) => void)(ajv);
    ajv.addFormat('int64', { type: 'number', validate: (n: number) => Number.isSafeInteger(n) });
    ajv.addFormat('int32', {
      type: 'number',
      validate: (n: number) => Number.isInteger(n) && Math.abs(n) < 2 ** 31,
    });
    return ajv;
  }
  private readonly compiled = new Map<string, ValidateFunction>();
  private readonly fallback = this.ajv.compile({
    type: 'object',
    required: ['metadata'],
    properties: { metadata: objectMeta },
  });

  constructor(crdDir?: string) {
    for (const [k, schema] of Object.entries(BUILTIN)) this.compiled.set(k, this.ajv.compile(schema));
    if (crdDir !== undefined && existsSync(crdDir)) {
      for (const f of readdirSync(crdDir).filter((n) => n.endsWith('.yaml'))) {
        for (const doc of parseAllDocuments(readFileSync(join(crdDir, f), 'utf8'))) {
          const crd = doc.toJS() as {
            kind?: string;
            spec?: {
              group: string;
              names: { kind: string };
              versions: { name: string; schema?: { openAPIV3Schema?: Schema } }[];
            };
          };
          if (crd.kind !== 'CustomResourceDefinition' || !crd.spec) continue;
          for (const v of crd.spec.versions) {
            const s = v.schema?.openAPIV3Schema;
            if (!s) continue;
            const props = (s.properties ?? {}) as Record<string, unknown>;
            const full = strictify({
              ...s,
              properties: { ...props, metadata: objectMeta, apiVersion: str, kind: str },
            });
            this.compiled.set(
              `${crd.spec.group}/${v.name}/${crd.spec.names.kind}`,
              this.ajv.compile(full as Schema),
            );
          }
        }
      }
    }
  }

  /** Returns a list of problems (empty when valid); unknown kinds are accepted with metadata checked. */
  validate(apiVersion: string, kindName: string, body: unknown): string[] {
    const real = openApiProblems(apiVersion, kindName, body);
    if (real.length > 0) return real;
    const fn = this.compiled.get(`${apiVersion}/${kindName}`) ?? this.fallback;
    if (fn(body)) return [];
    return (fn.errors ?? []).map(
      (e) =>
        `${e.instancePath || '/'} ${e.message ?? 'invalid'}${e.params ? ' ' + JSON.stringify(e.params) : ''}`,
    );
  }

  has(apiVersion: string, kindName: string): boolean {
    return this.compiled.has(`${apiVersion}/${kindName}`);
  }
}
