/**
 * `kyverno-runtime test`: discovers test files, dispatches each document on its `kind`, and renders the
 * reports. `kind: Test` (cli.kyverno.io/v1alpha1) is Kyverno's CLI test; other kinds (the runtime
 * test files, `kind: RuntimeTest`) are handled by functions registered in `testKindHandlers`.
 */
import { readdir, stat } from 'node:fs/promises';
import { readPolicyFile } from '../read-file.js';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { runKyvernoTest, type CaseResult, type RunOptions, type TestReport } from './runner.js';

export type { CaseResult, RunOptions, TestReport } from './runner.js';
export { runKyvernoTest } from './runner.js';

/** Runs one test document of a given kind. `file` is its path; `doc` the parsed YAML document. */
export type TestKindHandler = (
  file: string,
  doc: Record<string, unknown>,
  opts: RunOptions,
) => Promise<TestReport>;

/**
 * Test document kinds → runner. Register more kinds here (e.g. the runtime engine's
 * `testKindHandlers.set('RuntimeTest', runRuntimeTest)`), and `kyverno-runtime test` picks them up.
 */
export const testKindHandlers = new Map<string, TestKindHandler>([
  ['Test', (file, doc, opts) => runKyvernoTest(file, doc, opts)],
]);

export const DEFAULT_TEST_FILE = 'kyverno-test.yaml';

/** Test files named `fileName` under each path (recursive, hidden folders such as .kyverno-test included). */
export async function findTestFiles(
  paths: readonly string[],
  fileName = DEFAULT_TEST_FILE,
): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) =>
      a.name.localeCompare(b.name),
    );
    for (const e of entries) {
      const full = join(dir, e.name);
      if (e.isDirectory()) {
        if (e.name !== 'node_modules' && e.name !== '.git') await walk(full);
      } else if (e.name === fileName) {
        out.push(full);
      }
    }
  };
  for (const p of paths) {
    const st = await stat(p);
    if (st.isDirectory()) await walk(p);
    else out.push(p);
  }
  return out;
}

/** Runs every test document of every file; a broken file becomes a failed report, never a crash. */
export async function runTestFiles(files: readonly string[], opts: RunOptions = {}): Promise<TestReport[]> {
  const reports: TestReport[] = [];
  for (const file of files) {
    const broken = (error: string): TestReport => ({
      file,
      name: file,
      cases: [],
      passed: 0,
      failed: 1,
      error,
      policyErrors: [],
    });
    let docs: unknown[];
    try {
      docs = parseAllDocuments(await readPolicyFile(file)).map((d) => {
        if (d.errors.length > 0) throw new Error(d.errors[0]!.message);
        return d.toJS() as unknown;
      });
    } catch (e) {
      reports.push(broken(`cannot parse: ${e instanceof Error ? e.message : String(e)}`));
      continue;
    }
    for (const doc of docs) {
      if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) continue;
      const d = doc as Record<string, unknown>;
      const kind = typeof d.kind === 'string' ? d.kind : '';
      const handler = testKindHandlers.get(kind);
      if (!handler) {
        reports.push(
          broken(
            `unsupported test kind ${JSON.stringify(kind)} (known: ${[...testKindHandlers.keys()].join(', ')}); a test file without apiVersion/kind is Kyverno's deprecated schema`,
          ),
        );
        continue;
      }
      try {
        const r = await handler(file, d, opts);
        if (r.error && r.failed === 0) r.failed = 1;
        reports.push(r);
      } catch (e) {
        reports.push(broken(`test runner error: ${e instanceof Error ? e.message : String(e)}`));
      }
    }
  }
  return reports;
}

export interface Totals {
  passed: number;
  failed: number;
}

export function totals(reports: readonly TestReport[]): Totals {
  return reports.reduce((t, r) => ({ passed: t.passed + r.passed, failed: t.failed + r.failed }), {
    passed: 0,
    failed: 0,
  });
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

function caseRow(i: number, c: CaseResult): string[] {
  return [
    String(i + 1),
    c.policy,
    c.rule || '-',
    c.kind ? `${c.kind}/${c.resource}` : c.resource,
    c.expected,
    c.actual.length ? c.actual.join(',') : '(none)',
    c.ok ? 'Pass' : 'Fail',
  ];
}

/** The human report: one table per test, failing cases with reasons, then `N passed, M failed`. */
export function formatReports(reports: readonly TestReport[], opts: { failOnly?: boolean } = {}): string {
  const lines: string[] = [];
  for (const r of reports) {
    lines.push(`Test ${r.name} (${r.file})`);
    if (r.error) lines.push(`  error: ${r.error}`);
    for (const e of r.policyErrors) lines.push(`  policy error: ${e}`);
    const cases = r.cases.map((c, i) => ({ c, i })).filter(({ c }) => !opts.failOnly || !c.ok);
    if (cases.length > 0) {
      const rows = [
        ['ID', 'POLICY', 'RULE', 'RESOURCE', 'EXPECTED', 'ACTUAL', 'RESULT'],
        ...cases.map(({ c, i }) => caseRow(i, c)),
      ];
      lines.push(
        ...table(rows)
          .split('\n')
          .map((l) => `  ${l}`),
      );
    }
    for (const { c, i } of cases)
      if (!c.ok) lines.push(`  #${i + 1} failed: ${c.reason ?? 'unknown reason'}`);
    lines.push('');
  }
  const t = totals(reports);
  lines.push(`${t.passed} passed, ${t.failed} failed`);
  return lines.join('\n');
}
