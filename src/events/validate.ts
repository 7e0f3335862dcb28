/**
 * Validation of RuntimeEvent JSON sent directly by a tool (JSON lines, HTTP, CloudEvents data)
 * against the published schema (schemas/runtime-event.schema.json), with errors that name the field.
 * ajv compiles the schema to one function once; validating a valid event costs about a microsecond.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import schema from '../../schemas/runtime-event.schema.json' with { type: 'json' };
import type { RuntimeEvent } from './types.js';

export const runtimeEventSchema: Readonly<Record<string, unknown>> = schema;

export type RuntimeEventValidation = { ok: true; event: RuntimeEvent } | { ok: false; errors: string[] };

let compiled: ValidateFunction | undefined;

function validator(): ValidateFunction {
  compiled ??= new Ajv({ allErrors: true, strict: true }).compile(schema);
  return compiled;
}

/** At most this many errors are reported per event (the first ones by schema order). */
const MAX_ERRORS = 5;

export function validateRuntimeEvent(value: unknown): RuntimeEventValidation {
  const validate = validator();
  if (validate(value)) return { ok: true, event: value as RuntimeEvent };
  const errors = (validate.errors ?? []).slice(0, MAX_ERRORS).map(describe);
  return { ok: false, errors };
}

/** "/process/pid: must be integer", "/: unknown field \"behaviour\"". */
function describe(error: ErrorObject): string {
  const path = error.instancePath === '' ? '/' : error.instancePath;
  const params = error.params as Record<string, unknown>;
  if (error.keyword === 'additionalProperties' && typeof params.additionalProperty === 'string') {
    return `${path}: unknown field "${params.additionalProperty}"`;
  }
  if (error.keyword === 'required' && typeof params.missingProperty === 'string') {
    return `${path === '/' ? '' : path}/${params.missingProperty}: required`;
  }
  if (error.keyword === 'enum' && Array.isArray(params.allowedValues)) {
    return `${path}: must be one of ${params.allowedValues.map(String).join(', ')}`;
  }
  return `${path}: ${error.message ?? error.keyword}`;
}
