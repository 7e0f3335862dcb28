import { Command, Option } from '@commander-js/extra-typings';
import { resolve } from 'node:path';
import {
  DEFAULT_TEST_FILE,
  findTestFiles,
  formatReports,
  runTestFiles,
  testKindHandlers,
  totals,
} from '../../policy/kyverno-test/index.js';
import { printableText } from '../../util/terminal-text.js';
import { RUNTIME_TEST_KIND, runtimeTestReport } from '../runtime-test.js';

// Runtime test files (policies + events + expected violations) run beside Kyverno's CLI tests.
testKindHandlers.set(RUNTIME_TEST_KIND, runtimeTestReport);

/** Where a command writes. Tests pass their own sinks; the CLI uses the process streams. */
export interface CommandIo {
  out(text: string): void;
  err(text: string): void;
}

/** Every command output passes the terminal escaping (file names, policy values, event fields). */
export const processIo: CommandIo = {
  out: (text) => void process.stdout.write(printableText(text)),
  err: (text) => void process.stderr.write(printableText(text)),
};

export function register(program: Command, io: CommandIo = processIo): void {
  program
    .command('test')
    .description(
      'Run Kyverno CLI test files (cli.kyverno.io/v1alpha1 Test, found recursively) and runtime test files; ' +
        'prints a table per test and a closing line "N passed, M failed". Exit code 1 when any case fails.',
    )
    .argument('<paths...>', 'test directories (searched recursively) or test files')
    .option('-f, --file-name <name>', 'name of the test files to look for', DEFAULT_TEST_FILE)
    .option(
      '--strict',
      'strict scoring: the expected result must be produced; "rule did not apply" passes only when skip is expected ' +
        '(default: lenient, as Kyverno\'s CLI, which counts "did not apply" as passed)',
    )
    .option('--fail-only', 'show only failing cases in the tables')
    .option(
      '--exception <paths...>',
      "PolicyException files applied to every test, besides each test file's `exceptions:`",
      [],
    )
    .addOption(
      new Option('-o, --output <format>', 'output format')
        .choices(['table', 'json'] as const)
        .default('table' as const),
    )
    .action(async (paths, opts) => {
      const files = await findTestFiles(paths, opts.fileName);
      if (files.length === 0) {
        io.err(`no ${opts.fileName} found under ${paths.join(', ')}\n`);
        process.exitCode = 1;
        return;
      }
      const strict = opts.strict === true;
      const reports = await runTestFiles(files, {
        strict,
        exceptions: opts.exception.map((p) => resolve(p)),
      });
      const t = totals(reports);
      if (opts.output === 'json') {
        io.out(`${JSON.stringify({ strict, ...t, tests: reports }, null, 2)}\n`);
      } else {
        io.out(`${formatReports(reports, { failOnly: opts.failOnly === true })}\n`);
      }
      if (t.failed > 0) process.exitCode = 1;
    });
}
