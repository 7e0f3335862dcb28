import { Command, Option } from '@commander-js/extra-typings';
import { notEvaluatedReason } from '../../engine/validate/index.js';
import type { CompiledPolicy } from '../../engine/api/compiled-policy.js';
import { formatPolicyError, loadPolicies } from '../../policy/index.js';
import { processIo, type CommandIo } from './test.js';

export function register(program: Command, io: CommandIo = processIo): void {
  program
    .command('validate')
    .description(
      'Lint policy files (ClusterRuntimePolicy, RuntimePolicy, Kyverno ClusterPolicy/Policy): YAML syntax, ' +
        'the JSON Schema (unknown fields get "did you mean" suggestions), and compilation of patterns, ' +
        'conditions, variables and CEL. Prints one "file:line:col: reason" per problem; exit code 1 on any error.',
    )
    .argument('<paths...>', 'policy files or directories (searched recursively for .yaml/.yml)')
    .addOption(
      new Option('-o, --output <format>', 'output format')
        .choices(['text', 'json'] as const)
        .default('text' as const),
    )
    .option('-q, --quiet', 'print only errors')
    .action(async (paths, opts) => {
      const result = await loadPolicies(paths);
      // Rules that load but that kyverno-runtime does not evaluate are named, so "valid" never hides them.
      const notEvaluated = (p: CompiledPolicy) =>
        p.rules.flatMap((r) => {
          const reason = r.autogen ? undefined : notEvaluatedReason(r);
          return reason === undefined ? [] : [{ rule: r.name, reason }];
        });
      if (opts.output === 'json') {
        const policies = result.policies.map((p) => ({
          kind: p.kind,
          name: p.name,
          ...(p.namespace ? { namespace: p.namespace } : {}),
          file: p.source.file,
          line: p.source.line,
          rules: p.rules.map((r) => r.name),
          notEvaluated: notEvaluated(p),
        }));
        io.out(
          `${JSON.stringify({ policies, errors: result.errors, ignored: result.ignored ?? 0 }, null, 2)}\n`,
        );
      } else {
        for (const e of result.errors) io.out(`${formatPolicyError(e)}\n`);
        if (!opts.quiet) {
          for (const p of result.policies) {
            const skipped = notEvaluated(p);
            const id = `${p.kind}/${p.namespace ? `${p.namespace}/` : ''}${p.name}`;
            const where = `${p.source.file}:${p.source.line}, ${p.rules.length} rules`;
            if (skipped.length === 0) io.out(`ok ${id} (${where})\n`);
            else {
              io.out(`not evaluated ${id} (${where}, ${skipped.length} not evaluated)\n`);
              for (const s of skipped) io.out(`  rule ${s.rule}: ${s.reason}\n`);
            }
          }
          io.out(
            `${result.policies.length} valid, ${result.errors.length} error${result.errors.length === 1 ? '' : 's'}` +
              (result.ignored ? `, ${result.ignored} non-policy documents ignored` : '') +
              '\n',
          );
        }
      }
      if (result.errors.length > 0) process.exitCode = 1;
    });
}
