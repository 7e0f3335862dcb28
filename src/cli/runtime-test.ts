/**
 * Runtime test files: policies + events (+ resources) + expected violations, modelled on Kyverno's
 * CLI test files so a Kyverno user reads them at once.
 *
 *   apiVersion: cli.kyverno.io/v1alpha1
 *   kind: RuntimeTest
 *   metadata: { name: shell-in-production }
 *   policies: [policy.yaml]
 *   events: [events.jsonl]          # any supported format, detected per line
 *   resources: [pods.yaml]          # optional: pods/namespaces/nodes standing in for the cluster
 *   paramResources: [params.yaml]   # optional: paramKind objects (as Kyverno's CLI test files)
 *   exceptions: [exception.yaml]    # optional: PolicyException files (as in Kyverno CLI test files)
 *   context: [context.yaml]         # optional: ConfigMaps / apiCall answers for rule `context` entries
 *   results:
 *     - policy: shell-in-production
 *       rule: no-shell
 *       resources: [prod/web-1]     # namespace/name, or a name (Node, or any namespace)
 *       behavior: process-exec      # optional
 *       result: fail                # fail: a violation is expected; pass: none is; skip: an
 *                                   # exception exempted the rule (no violation, no actions)
 *       count: 2                    # optional: exact number of violations
 */
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { z } from 'zod';
import { createRuntimeEngine, staticParamLookup, type KubeObject } from '../engine/runtime/index.js';
import { staticPodLookup } from '../engine/runtime/static-lookup.js';
import type { Verdict } from '../contracts/verdict.js';
import { BEHAVIORS } from '../events/types.js';
import { loadPolicies } from '../policy/index.js';
import type { CaseResult, RunOptions, TestReport } from '../policy/kyverno-test/index.js';
import { replayEvents, type ReplaySummary } from './event-replay.js';
import { localExceptions } from '../policy/exception-files.js';
import { loadContextFiles } from '../policy/context-file.js';

export const RUNTIME_TEST_KIND = 'RuntimeTest';

const expectation = z.strictObject({
  policy: z.string().min(1),
  rule: z.string().min(1),
  resources: z.array(z.string().min(1)).min(1),
  behavior: z.enum(BEHAVIORS).optional(),
  result: z.enum(['fail', 'pass', 'skip']),
  count: z.number().int().nonnegative().optional(),
});

const runtimeTestDocument = z.strictObject({
  apiVersion: z.literal('cli.kyverno.io/v1alpha1'),
  kind: z.literal(RUNTIME_TEST_KIND),
  metadata: z.object({ name: z.string().min(1) }).loose(),
  policies: z.array(z.string().min(1)).min(1),
  events: z.array(z.string().min(1)).min(1),
  resources: z.array(z.string().min(1)).optional(),
  paramResources: z.array(z.string().min(1)).optional(),
  exceptions: z.array(z.string().min(1)).optional(),
  context: z.array(z.string().min(1)).optional(),
  results: z.array(expectation).min(1),
});

export type RuntimeTestDocument = z.infer<typeof runtimeTestDocument>;
type Expectation = z.infer<typeof expectation>;

export interface RuntimeTestCase {
  policy: string;
  rule: string;
  resource: string;
  expected: 'fail' | 'pass' | 'skip';
  /** Violations (for `skip`: exempted verdicts) found for this (policy, rule, resource[, behavior]). */
  found: number;
  ok: boolean;
  reason: string;
  /** Events on which the rule erred for this resource. */
  errors?: number;
}

export interface RuntimeTestResult {
  name: string;
  file: string;
  cases: RuntimeTestCase[];
  /** Problems that stop the test from running at all (bad file, bad policy). */
  errors: string[];
  replay: ReplaySummary[];
}

export function isRuntimeTestDocument(doc: unknown): boolean {
  return typeof doc === 'object' && doc !== null && (doc as { kind?: unknown }).kind === RUNTIME_TEST_KIND;
}

export async function runRuntimeTest(
  file: string,
  doc: unknown,
  extraExceptions: readonly string[] = [],
): Promise<RuntimeTestResult> {
  const parsed = runtimeTestDocument.safeParse(doc);
  if (!parsed.success) {
    const errors = parsed.error.issues.map((i) => `${file}: ${i.path.join('.') || '(root)'}: ${i.message}`);
    return { name: '(invalid)', file, cases: [], errors, replay: [] };
  }
  const test = parsed.data;
  const base = dirname(file);
  const result: RuntimeTestResult = { name: test.metadata.name, file, cases: [], errors: [], replay: [] };

  const loaded = await loadPolicies(test.policies.map((p) => resolve(base, p)));
  for (const e of loaded.errors) result.errors.push(`${e.file}:${e.line}:${e.col}: ${e.message}`);
  const exceptions = await localExceptions(loaded, [
    ...(test.exceptions ?? []).map((p) => resolve(base, p)),
    ...extraExceptions,
  ]);
  for (const e of exceptions.errors) result.errors.push(`${e.file}:${e.line}:${e.col}: ${e.message}`);
  const context = test.context
    ? await loadContextFiles(test.context.map((p) => resolve(base, p)))
    : undefined;
  for (const e of context?.errors ?? []) result.errors.push(`${e.file}:${e.line}:${e.col}: ${e.message}`);
  if (result.errors.length > 0) return result;

  const objects = await readObjects(base, test.resources ?? []);
  // Parameter objects only: they stand in for no pod or node.
  const paramObjects = await readObjects(base, test.paramResources ?? []);
  const engine = createRuntimeEngine(loaded.policies, {
    ...(test.resources ? { lookup: staticPodLookup(objects) } : {}),
    exceptions: exceptions.set,
    ...(context ? { context: context.provider } : {}),
    params: staticParamLookup([...(loaded.objects ?? []), ...objects, ...paramObjects]),
  });
  const verdicts: Verdict[] = [];
  // Rule errors by (rule, pod): the count and the first message (bounded by rules × pods seen).
  const ruleErrors = new Map<string, { count: number; message: string }>();
  const errorKey = (policy: string, rule: string, namespace: string, name: string) =>
    `${policy}\u0000${rule}\u0000${namespace}\u0000${name}`;
  for (const path of test.events) {
    result.replay.push(
      await replayEvents(
        resolve(base, path),
        'auto',
        engine,
        (v) => verdicts.push(...v),
        (errors, event) => {
          for (const e of errors) {
            const key = errorKey(e.policy, e.rule, event.pod?.namespace ?? '', event.pod?.name ?? '');
            const seen = ruleErrors.get(key);
            if (seen) seen.count++;
            else ruleErrors.set(key, { count: 1, message: e.message });
          }
        },
      ),
    );
  }
  for (const expected of test.results) {
    for (const resource of expected.resources) {
      const slash = resource.indexOf('/');
      const errors =
        slash < 0
          ? [...ruleErrors.entries()].find(
              ([k]) =>
                k.startsWith(`${expected.policy}\u0000${expected.rule}\u0000`) &&
                k.endsWith(`\u0000${resource}`),
            )?.[1]
          : ruleErrors.get(
              errorKey(expected.policy, expected.rule, resource.slice(0, slash), resource.slice(slash + 1)),
            );
      result.cases.push(judge(expected, resource, verdicts, errors));
    }
  }
  return result;
}

/** Every YAML document of the files (relative to the test file) that is an object. */
async function readObjects(base: string, paths: readonly string[]): Promise<KubeObject[]> {
  const objects: KubeObject[] = [];
  for (const path of paths) {
    for (const document of parseAllDocuments(await readFile(resolve(base, path), 'utf8'))) {
      const value: unknown = document.toJS();
      if (typeof value === 'object' && value !== null) objects.push(value as KubeObject);
    }
  }
  return objects;
}

function judge(
  expected: Expectation,
  resource: string,
  verdicts: readonly Verdict[],
  errors?: { count: number; message: string },
): RuntimeTestCase {
  // An exempted verdict is a `skip`, never a violation.
  const exempted = expected.result === 'skip';
  const found = verdicts.filter(
    (v) =>
      (v.exception !== undefined) === exempted &&
      v.policy === expected.policy &&
      v.rule === expected.rule &&
      (expected.behavior === undefined || v.behavior === expected.behavior) &&
      resourceMatches(resource, v),
  ).length;
  let ok: boolean;
  let reason: string;
  if (expected.result === 'pass') {
    ok = found === 0;
    reason = ok ? 'no violation, as expected' : `expected no violation, found ${found}`;
  } else if (expected.count !== undefined) {
    const what = exempted ? 'exempted' : 'violations';
    ok = found === expected.count;
    reason = ok ? `${found} ${what}, as expected` : `expected ${expected.count} ${what}, found ${found}`;
  } else if (exempted) {
    ok = found > 0;
    reason = ok ? `${found} exempted by an exception` : 'expected an exempted violation, found none';
  } else {
    ok = found > 0;
    reason = ok ? `${found} violation(s)` : 'expected a violation, found none';
  }
  // A rule that erred on this resource's events is said so: "found none" alone would hide why, and an
  // expected pass is not shown by a rule that could not be evaluated.
  if (errors !== undefined) {
    if (expected.result === 'pass') ok = false;
    reason += `; the rule erred on ${errors.count} event(s): ${errors.message}`;
  }
  return {
    policy: expected.policy,
    rule: expected.rule,
    resource,
    expected: expected.result,
    found,
    ok,
    reason,
    ...(errors !== undefined ? { errors: errors.count } : {}),
  };
}

function resourceMatches(written: string, verdict: Verdict): boolean {
  const slash = written.indexOf('/');
  if (slash < 0) return verdict.resource.name === written;
  return (
    verdict.resource.namespace === written.slice(0, slash) &&
    verdict.resource.name === written.slice(slash + 1)
  );
}

/** `kyverno-runtime test` handler for `kind: RuntimeTest` documents, reported like Kyverno tests. */
export async function runtimeTestReport(
  file: string,
  doc: Record<string, unknown>,
  opts: RunOptions = {},
): Promise<TestReport> {
  const result = await runRuntimeTest(file, doc, opts.exceptions);
  const cases: CaseResult[] = result.cases.map((c) => ({
    policy: c.policy,
    rule: c.rule,
    resource: c.resource,
    expected: c.expected,
    actual: [
      ...(c.found > 0 ? [c.expected === 'skip' ? 'skip' : 'fail'] : []),
      ...(c.errors ? ['error'] : []),
    ],
    ok: c.ok,
    reason: c.reason,
  }));
  const passed = cases.filter((c) => c.ok).length;
  const report: TestReport = {
    file,
    name: result.name,
    cases,
    passed,
    failed: cases.length - passed,
    policyErrors: result.errors,
  };
  if (result.errors.length > 0) report.error = result.errors.join('; ');
  return report;
}
