import { Command, Option } from '@commander-js/extra-typings';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { findTestFiles, runTestFiles, totals, type TestReport } from '../../policy/kyverno-test/index.js';
import { processIo, type CommandIo } from './test.js';

/** The class folders of a conformance corpus, in report order. */
export const CONFORMANCE_CLASSES = [
  'tier-a',
  'tier-b',
  'tier-c',
  'cel-clusterpolicy',
  'validatingpolicy',
] as const;

export interface ClassScore {
  class: string;
  passed: number;
  failed: number;
  percent: number;
  tests: number;
  reports: TestReport[];
}

/** Runs `test --strict` (or lenient) over each class folder of a conformance corpus. */
export async function runConformance(
  dir: string,
  classes: readonly string[] = CONFORMANCE_CLASSES,
  strict = true,
): Promise<ClassScore[]> {
  const scores: ClassScore[] = [];
  for (const cls of classes) {
    const folder = join(dir, cls);
    if (!existsSync(folder)) continue;
    const reports = await runTestFiles(await findTestFiles([folder]), { strict });
    const t = totals(reports);
    const total = t.passed + t.failed;
    scores.push({
      class: cls,
      ...t,
      percent: total ? (100 * t.passed) / total : 0,
      tests: reports.length,
      reports,
    });
  }
  return scores;
}

export function register(program: Command, io: CommandIo = processIo): void {
  program
    .command('conformance')
    .description(
      "Score the engine on Kyverno's own policy tests: runs `test --strict` over each class folder " +
        `(${CONFORMANCE_CLASSES.join(', ')}) and prints one "class: N passed, M failed" line per class.`,
    )
    .argument('<dir>', 'conformance corpus: a directory with one folder per class')
    .option('--lenient', 'score as Kyverno\'s CLI does ("did not apply" counts as passed)', false)
    .option('--class <names...>', 'only these classes')
    .option('--failures', 'list every failing case with its reason')
    .addOption(
      new Option('-o, --output <format>', 'output format')
        .choices(['table', 'json'] as const)
        .default('table' as const),
    )
    .action(async (dir, opts) => {
      const scores = await runConformance(dir, opts.class ?? CONFORMANCE_CLASSES, !opts.lenient);
      if (opts.output === 'json') {
        const slim = scores.map((s) => ({
          class: s.class,
          passed: s.passed,
          failed: s.failed,
          percent: Number(s.percent.toFixed(1)),
          failures: s.reports.flatMap((r) => [
            ...(r.error ? [{ file: r.file, reason: r.error }] : []),
            ...r.cases
              .filter((c) => !c.ok)
              .map((c) => ({
                file: r.file,
                policy: c.policy,
                rule: c.rule,
                resource: c.resource,
                expected: c.expected,
                reason: c.reason,
              })),
          ]),
        }));
        io.out(`${JSON.stringify(slim, null, 2)}\n`);
        return;
      }
      const lines: string[] = [];
      if (opts.failures) {
        for (const s of scores) {
          for (const r of s.reports) {
            if (r.error) lines.push(`${s.class} ${r.file}: ${r.error}`);
            for (const c of r.cases)
              if (!c.ok)
                lines.push(`${s.class} ${r.name}: ${c.policy}/${c.rule} ${c.resource}: ${c.reason ?? ''}`);
          }
        }
        lines.push('');
      }
      for (const s of scores)
        lines.push(`${s.class}: ${s.passed} passed, ${s.failed} failed (${s.percent.toFixed(1)}%)`);
      const all = scores.reduce((t, s) => ({ passed: t.passed + s.passed, failed: t.failed + s.failed }), {
        passed: 0,
        failed: 0,
      });
      const total = all.passed + all.failed;
      lines.push(
        `total: ${all.passed} passed, ${all.failed} failed (${total ? ((100 * all.passed) / total).toFixed(1) : '0.0'}%) [${opts.lenient ? 'lenient' : 'strict'}]`,
      );
      io.out(`${lines.join('\n')}\n`);
    });
}
