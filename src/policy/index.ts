/**
 * Loading policy YAML (files, directories, strings) into validated policies, compiled into the engine's
 * input types (engine/api).
 *
 * Pipeline per YAML document: syntax → kind check → JSON Schema (schemas/policy.schema.json) → compile
 * (match, patterns, templates, conditions, CEL, autogen). Every problem becomes a PolicyError with
 * file:line:col pointing at the offending key or value; a bad document never stops the others.
 */
import { readdir, stat } from 'node:fs/promises';
import { readPolicyFile } from './read-file.js';
import { extname, join } from 'node:path';
import {
  KYVERNO_KINDS,
  RUNTIME_KINDS,
  RuleCompiler,
  normalizeFailureAction,
  type CompileIssue,
} from './compile.js';
import { validatePolicyDocument, validateRuntimeValidatingPolicyDocument } from './schema/validate.js';
import { compileRuntimeValidatingPolicy, RUNTIME_VALIDATING_KINDS } from './runtime-validating-policy.js';
import { namespaceScopeIssues } from './namespace-scope.js';
import { kernelBlockPlans } from './kernel-block.js';
import { podPatchIssues } from './pod-patch.js';
import { suggest } from './suggest.js';
import type { CompiledPolicy, PolicyKind } from '../engine/api/compiled-policy.js';
import type { CompiledValidatingPolicy } from '../engine/api/compiled-validating-policy.js';
import { compileValidatingPolicy } from './validating-policy.js';
import { parseYamlDocuments, type SourceDocument } from './yaml-source.js';
import type { CompiledException } from '../engine/api/compiled-exception.js';
import { compileException, isExceptionDocument } from './exceptions.js';

export { MAX_POLICY_FILE_BYTES, readPolicyFile } from './read-file.js';

/** A policy problem with its place in the source: "policies/x.yaml:12:5: unknown field ...". */
export interface PolicyError {
  file: string;
  line: number;
  col: number;
  message: string;
  /** metadata.name when it could be read. */
  policy?: string;
}

export interface LoadResult {
  policies: CompiledPolicy[];
  errors: PolicyError[];
  /** Documents that are not policies (other API groups), skipped without error. */
  ignored?: number;
  /** Problems that do not stop a policy (a `block` rule falling back to its user-space kill). */
  warnings?: PolicyError[];
  /** Kyverno ValidatingPolicy documents (policies.kyverno.io), compiled separately: they have no rules. */
  validatingPolicies?: CompiledValidatingPolicy[];
  /** PolicyException documents (kyverno.io/v2 and policies.kyverno.io), found alongside policies. */
  exceptions?: CompiledException[];
  /** The other Kubernetes objects of the files (apiVersion, kind, metadata.name): parameters for paramRef. */
  objects?: Record<string, unknown>[];
}

/** Formats an error as `file:line:col: message`. */
export function formatPolicyError(e: PolicyError): string {
  return `${e.file}:${e.line}:${e.col}: ${e.message}`;
}

const POLICY_GROUPS = new Set(['runtime.kyverno.io', 'kyverno.io', 'policies.kyverno.io']);
const SUPPORTED: Record<string, readonly string[]> = {
  'runtime.kyverno.io': [...RUNTIME_KINDS, ...RUNTIME_VALIDATING_KINDS],
  'kyverno.io': KYVERNO_KINDS,
};
const isObj = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v);

function compileDocument(
  sd: SourceDocument,
  value: Record<string, unknown>,
  errors: PolicyError[],
  warnings: PolicyError[] = [],
): CompiledPolicy | undefined {
  const md = isObj(value.metadata) ? value.metadata : {};
  const name = typeof md.name === 'string' ? md.name : undefined;
  const push = (issue: CompileIssue): void => {
    const { line, col } = sd.locate(issue.path, issue.target);
    errors.push({ file: sd.file, line, col, message: issue.message, ...(name ? { policy: name } : {}) });
  };
  const apiVersion = typeof value.apiVersion === 'string' ? value.apiVersion : '';
  const group = apiVersion.includes('/') ? apiVersion.slice(0, apiVersion.indexOf('/')) : '';
  const kind = typeof value.kind === 'string' ? value.kind : '';
  const supported = SUPPORTED[group] ?? [];
  if (!supported.includes(kind)) {
    const all = [...RUNTIME_KINDS, ...RUNTIME_VALIDATING_KINDS, ...KYVERNO_KINDS];
    const hint = suggest(kind, all);
    push({
      path: ['kind'],
      target: 'value',
      message:
        `unsupported policy kind \`${kind}\` (${apiVersion})` +
        (hint ? `, did you mean \`${hint}\`?` : `; supported: ${all.join(', ')}`),
    });
    return undefined;
  }
  if ((RUNTIME_VALIDATING_KINDS as readonly string[]).includes(kind)) {
    const issues = validateRuntimeValidatingPolicyDocument(value);
    if (issues.length > 0) {
      issues.forEach(push);
      return undefined;
    }
    const compileIssues: CompileIssue[] = [];
    const policy = compileRuntimeValidatingPolicy(value, { file: sd.file, line: sd.line }, compileIssues);
    compileIssues.forEach(push);
    return policy;
  }
  const schemaIssues = validatePolicyDocument(value);
  if (schemaIssues.length > 0) {
    schemaIssues.forEach(push);
    return undefined;
  }
  const spec = value.spec as Record<string, unknown>;
  const patchIssues = podPatchIssues(spec);
  if (patchIssues.length > 0) {
    patchIssues.forEach(push);
    return undefined;
  }
  const annotations = (isObj(md.annotations) ? md.annotations : {}) as Record<string, string>;
  const runtime = group === 'runtime.kyverno.io';
  const compiler = new RuleCompiler(runtime);
  const rules = compiler.rules(spec, annotations, !runtime);
  if (compiler.issues.length > 0) {
    compiler.issues.forEach(push);
    return undefined;
  }
  const namespaced = kind === 'RuntimePolicy' || kind === 'Policy';
  const namespace = typeof md.namespace === 'string' && md.namespace !== '' ? md.namespace : 'default';
  if (namespaced) {
    const scope = namespaceScopeIssues(spec, namespace);
    if (scope.length > 0) {
      scope.forEach(push);
      return undefined;
    }
  }
  const block = kernelBlockPlans(spec, {
    name: name ?? '',
    namespaced,
    ...(namespaced ? { namespace } : {}),
  });
  if (block.issues.length > 0) {
    block.issues.forEach(push);
    return undefined;
  }
  for (const w of block.warnings) {
    const { line, col } = sd.locate(w.path, w.target);
    warnings.push({ file: sd.file, line, col, message: w.message, ...(name ? { policy: name } : {}) });
  }
  for (const rule of rules) {
    const plan = rule.restrict ? block.plans.get(rule.name) : undefined;
    if (plan && rule.restrict) rule.restrict.kernelBlock = plan;
  }
  return {
    apiVersion,
    kind: kind as PolicyKind,
    name: name ?? '',
    ...(namespaced ? { namespace } : {}),
    document: value,
    source: { file: sd.file, line: sd.line },
    failureAction:
      normalizeFailureAction(spec.failureAction) ??
      normalizeFailureAction(spec.validationFailureAction) ??
      'Audit',
    background: spec.background !== false,
    annotations,
    rules,
  };
}

function emptyLoadResult(): Required<LoadResult> {
  return {
    policies: [],
    errors: [],
    ignored: 0,
    validatingPolicies: [],
    warnings: [],
    exceptions: [],
    objects: [],
  };
}

/** Same as loadPolicies for in-memory text (the cluster side feeds CRD objects through this). */
export function loadPolicyText(text: string, file: string): LoadResult {
  const result = emptyLoadResult();
  for (const sd of parseYamlDocuments(text, file)) {
    if (sd.syntaxErrors.length > 0) {
      for (const e of sd.syntaxErrors)
        result.errors.push({ file, line: e.line, col: e.col, message: `YAML: ${e.message}` });
      continue;
    }
    if (sd.value === undefined || sd.value === null) continue;
    const value = sd.value;
    if (!isObj(value)) {
      result.ignored++;
      continue;
    }
    const apiVersion = typeof value.apiVersion === 'string' ? value.apiVersion : '';
    const group = apiVersion.includes('/') ? apiVersion.slice(0, apiVersion.indexOf('/')) : '';
    if (!POLICY_GROUPS.has(group)) {
      result.ignored++;
      if (typeof value.kind === 'string' && apiVersion !== '' && isObj(value.metadata))
        result.objects.push(value);
      continue;
    }
    if (isExceptionDocument(value)) {
      const issues: CompileIssue[] = [];
      const exception = compileException(value, { file, line: sd.line }, issues);
      for (const issue of issues) {
        const { line, col } = sd.locate(issue.path, issue.target);
        const md = isObj(value.metadata) ? value.metadata : {};
        result.errors.push({
          file,
          line,
          col,
          message: issue.message,
          ...(typeof md.name === 'string' ? { policy: md.name } : {}),
        });
      }
      if (exception) result.exceptions.push(exception);
      continue;
    }
    if (group === 'policies.kyverno.io' && value.kind === 'ValidatingPolicy') {
      try {
        result.validatingPolicies.push(compileValidatingPolicy(value, file, sd.line));
      } catch (e) {
        const { line, col } = sd.locate(['spec']);
        result.errors.push({
          file,
          line,
          col,
          message: `invalid ValidatingPolicy: ${e instanceof Error ? e.message : String(e)}`,
        });
      }
      continue;
    }
    try {
      const policy = compileDocument(sd, value, result.errors, result.warnings);
      if (policy) result.policies.push(policy);
    } catch (e) {
      // Defensive: a bug in a compiler must not take the other documents down.
      const { line, col } = sd.locate([]);
      result.errors.push({
        file,
        line,
        col,
        message: `internal error: ${e instanceof Error ? e.message : String(e)}`,
      });
    }
  }
  return result;
}

/** YAML files under a path: the file itself, or every .yaml/.yml below a directory (sorted, recursive). */
export async function listYamlFiles(path: string): Promise<string[]> {
  const st = await stat(path);
  if (!st.isDirectory()) return [path];
  const out: string[] = [];
  const entries = (await readdir(path, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name));
  for (const entry of entries) {
    const full = join(path, entry.name);
    if (entry.isDirectory()) {
      if (entry.name === 'node_modules') continue;
      out.push(...(await listYamlFiles(full)));
    } else if (['.yaml', '.yml'].includes(extname(entry.name))) {
      out.push(full);
    }
  }
  return out;
}

/** Loads every YAML document under the given files/directories. A bad document never stops the others. */
export async function loadPolicies(paths: string[]): Promise<LoadResult> {
  const result = emptyLoadResult();
  for (const path of paths) {
    let files: string[];
    try {
      files = await listYamlFiles(path);
    } catch (e) {
      result.errors.push({
        file: path,
        line: 1,
        col: 1,
        message: `cannot read: ${e instanceof Error ? e.message : String(e)}`,
      });
      continue;
    }
    for (const file of files) {
      let text: string;
      try {
        text = await readPolicyFile(file);
      } catch (e) {
        result.errors.push({
          file,
          line: 1,
          col: 1,
          message: `cannot read: ${e instanceof Error ? e.message : String(e)}`,
        });
        continue;
      }
      const r = loadPolicyText(text, file);
      result.policies.push(...r.policies);
      result.errors.push(...r.errors);
      result.ignored += r.ignored ?? 0;
      result.validatingPolicies.push(...(r.validatingPolicies ?? []));
      result.warnings.push(...(r.warnings ?? []));
      result.exceptions.push(...(r.exceptions ?? []));
      result.objects.push(...(r.objects ?? []));
    }
  }
  return result;
}
