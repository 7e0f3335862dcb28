/**
 * Validates a policy document against the JSON Schema (ajv 8) and turns ajv's errors into readable
 * reasons with a JSON path, so the loader can point at file:line:col.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { suggest } from '../suggest.js';
import { policySchema, runtimeValidatingPolicySchema } from './definition.js';

export interface SchemaIssue {
  /** JSON path of the offending key (for unknown fields) or value. */
  path: (string | number)[];
  /** Point at the key itself rather than its value. */
  target: 'key' | 'value';
  message: string;
}

let compiled: ValidateFunction | undefined;
let compiledRuntimeValidating: ValidateFunction | undefined;

function validator(): ValidateFunction {
  // strict: false because the schema carries Kubernetes `x-kubernetes-*` extension keywords.
  compiled ??= new Ajv({ strict: false, allErrors: true, verbose: true }).compile(policySchema());
  return compiled;
}

function runtimeValidatingValidator(): ValidateFunction {
  compiledRuntimeValidating ??= new Ajv({ strict: false, allErrors: true, verbose: true }).compile(
    runtimeValidatingPolicySchema(),
  );
  return compiledRuntimeValidating;
}

/** Schema check of a RuntimeValidatingPolicy / NamespacedRuntimeValidatingPolicy document. */
export function validateRuntimeValidatingPolicyDocument(doc: unknown): SchemaIssue[] {
  return issuesOf(runtimeValidatingValidator(), doc);
}

export function validatePolicyDocument(doc: unknown): SchemaIssue[] {
  return issuesOf(validator(), doc);
}

function issuesOf(validate: ValidateFunction, doc: unknown): SchemaIssue[] {
  if (validate(doc)) return [];
  const issues = (validate.errors ?? []).map(toIssue);
  // allErrors may report the same place twice (e.g. type and enum); keep the first per path+message.
  const seen = new Set<string>();
  return issues.filter((i) => {
    const key = `${i.path.join('/')}|${i.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function decodePointer(pointer: string): (string | number)[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

/** `spec.rules[0].validate` */
export function formatPath(path: readonly (string | number)[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}

function toIssue(e: ErrorObject): SchemaIssue {
  const path = decodePointer(e.instancePath);
  const where = path.length ? formatPath(path) : '(document)';
  switch (e.keyword) {
    case 'additionalProperties': {
      const field = (e.params as { additionalProperty: string }).additionalProperty;
      const allowed = Object.keys(
        ((e.parentSchema ?? {}) as { properties?: Record<string, unknown> }).properties ?? {},
      );
      const hint = suggest(field, allowed);
      return {
        path: [...path, field],
        target: 'key',
        message: hint
          ? `unknown field \`${field}\`, did you mean \`${hint}\`?`
          : `unknown field \`${field}\` in ${where} (allowed: ${allowed.join(', ')})`,
      };
    }
    case 'required': {
      const field = (e.params as { missingProperty: string }).missingProperty;
      return { path, target: 'value', message: `missing required field \`${field}\` in ${where}` };
    }
    case 'enum': {
      const allowed = ((e.params as { allowedValues: unknown[] }).allowedValues ?? []).map(String);
      const hint = typeof e.data === 'string' ? suggest(e.data, allowed) : undefined;
      return {
        path,
        target: 'value',
        message:
          `invalid value ${JSON.stringify(e.data)} for ${where}: must be one of ${allowed.join(', ')}` +
          (hint ? `; did you mean \`${hint}\`?` : ''),
      };
    }
    case 'minProperties':
    case 'maxProperties':
      return {
        path,
        target: 'value',
        message: `${where}: each action must have exactly one key (e.g. \`- deletePod: {}\`)`,
      };
    default:
      return { path, target: 'value', message: `${where} ${e.message ?? 'is invalid'}` };
  }
}
