/**
 * The exceptions of a local run: those found among the policy paths (`-p`) plus `--exception` files,
 * as Kyverno's CLI takes them; errors carry file:line:col, an exception naming a policy that is not
 * loaded is a warning.
 */
import type { CompiledException } from '../engine/api/compiled-exception.js';
import { ExceptionSet } from '../engine/exceptions/index.js';
import { unknownPolicyReferences } from './exceptions.js';
import { formatPolicyError, loadPolicies, type LoadResult, type PolicyError } from './index.js';

export interface LocalExceptions {
  set: ExceptionSet;
  exceptions: CompiledException[];
  errors: PolicyError[];
  /** "file:line: exception x names policy y, which is not loaded". */
  warnings: string[];
}

export async function localExceptions(
  loaded: Pick<LoadResult, 'exceptions' | 'policies' | 'validatingPolicies'>,
  exceptionPaths: readonly string[] = [],
  clusterWideNamespaces: readonly string[] = [],
): Promise<LocalExceptions> {
  const exceptions = [...(loaded.exceptions ?? [])];
  const errors: PolicyError[] = [];
  if (exceptionPaths.length > 0) {
    const extra = await loadPolicies([...exceptionPaths]);
    exceptions.push(...(extra.exceptions ?? []));
    errors.push(...extra.errors);
  }
  const known = [
    ...loaded.policies,
    ...(loaded.validatingPolicies ?? []).map((p) => ({ name: p.name, kind: 'ValidatingPolicy' })),
  ];
  const warnings = unknownPolicyReferences(exceptions, known).map(
    ({ exception, policy }) =>
      `${exception.source.file}:${exception.source.line}: exception ${exception.name} names policy ${policy}, which is not loaded`,
  );
  return {
    set: new ExceptionSet(exceptions, { clusterWideNamespaces }),
    exceptions,
    errors,
    warnings,
  };
}

export { formatPolicyError };
