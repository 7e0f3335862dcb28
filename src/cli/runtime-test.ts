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
 *   results:
 *     - policy: shell-in-production
 *       rule: no-shell
 *       resources: [prod/web-1]     # namespace/name, or a name (Node, or any namespace)
 *       behavior: process-exec      # optional
 *       result: fail                # fail: a violation is expected; pass: none is
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
import type { CaseResult, TestReport } from '../policy/kyverno-test/index.js';
import { replayEvents, type ReplaySummary } from './event-replay.js';

export const RUNTIME_TEST_KIND = 'RuntimeTest';

const expectation = z.strictObject({
  policy: z.string().min(1),
  rule: z.string().min(1),
  resources: z.array(z.string().min(1)).min(1),
  behavior: z.enum(BEHAVIORS).optional(),
  result: z.enum(['fail', 'pass']),
  count: z.number().int().nonnegative().optional(),
});

const runtimeTestDocument = z.strictObject({
  apiVersion: z.literal('cli.kyverno.io/v1alpha1'),
  kind: z.literal(RUNTIME_TEST_KIND),
  metadata: z.object({ name: z.string().min(1) }).loose(),
  policies: z.array(z.string().min(1)).min(1),
  events: z.array(z.string().min(1)).min(1),
  resources: z.array(z.string().min(1)).optional(),
  results: z.array(expectation).min(1),
});

export type RuntimeTestDocument = z.infer<typeof runtimeTestDocument>;
type Expectation = z.infer<typeof expectation>;

export interface RuntimeTestCase {
  policy: string;
  rule: string;
  resource: string;
  expected: 'fail' | 'pass';
  /** Violations found for this (policy, rule, resource[, behavior]). */
  found: number;
  ok: boolean;
  reason: string;
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

export async function runRuntimeTest(file: string, doc: unknown): Promise<RuntimeTestResult> {
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
  if (result.errors.length > 0) return result;

  const objects: KubeObject[] = [];
  for (const path of test.resources ?? []) {
    for (const document of parseAllDocuments(await readFile(resolve(base, path), 'utf8'))) {
      const value: unknown = document.toJS();
      if (typeof value === 'object' && value !== null) objects.push(value as KubeObject);
    }
  }
  const engine = createRuntimeEngine(loaded.policies, {
    ...(test.resources ? { lookup: staticPodLookup(objects) } : {}),
    params: staticParamLookup([...(loaded.objects ?? []), ...objects]),
  });
  const verdicts: Verdict[] = [];
  for (const path of test.events) {
    result.replay.push(await replayEvents(resolve(base, path), 'auto', engine, (v) => verdicts.push(...v)));
  }
  for (const expected of test.results) {
    for (const resource of expected.resources) result.cases.push(judge(expected, resource, verdicts));
  }
  return result;
}

function judge(expected: Expectation, resource: string, verdicts: readonly Verdict[]): RuntimeTestCase {
  const found = verdicts.filter(
    (v) =>
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
    ok = found === expected.count;
    reason = ok
      ? `${found} violations, as expected`
      : `expected ${expected.count} violations, found ${found}`;
  } else {
    ok = found > 0;
    reason = ok ? `${found} violation(s)` : 'expected a violation, found none';
  }
  return {
    policy: expected.policy,
    rule: expected.rule,
    resource,
    expected: expected.result,
    found,
    ok,
    reason,
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
export async function runtimeTestReport(file: string, doc: Record<string, unknown>): Promise<TestReport> {
  const result = await runRuntimeTest(file, doc);
  const cases: CaseResult[] = result.cases.map((c) => ({
    policy: c.policy,
    rule: c.rule,
    resource: c.resource,
    expected: c.expected,
    actual: c.found > 0 ? ['fail'] : [],
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
