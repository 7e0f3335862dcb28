import { Command, Option } from '@commander-js/extra-typings';
import { notEvaluatedReason } from '../../engine/validate/index.js';
import type { CompiledPolicy } from '../../engine/api/compiled-policy.js';
import { formatPolicyError, loadPolicies } from '../../policy/index.js';
import { createRuntimeEngine } from '../../engine/runtime/index.js';
import { planEnforcement, type RulePlan } from '../../sources/sensor/kernel-kill.js';
import { processIo, type CommandIo } from './test.js';
import type { KernelBlockPlan } from '../../contracts/kernel-block.js';

/** How a `block` rule is enforced, for `validate`'s output. */
function blockSummary(
  plan: KernelBlockPlan,
): { enforcement: 'kernel'; kernelRules: number } | { enforcement: 'user-space-kill'; reason: string } {
  return plan.enforcement === 'kernel'
    ? { enforcement: 'kernel', kernelRules: plan.rules.length }
    : { enforcement: 'user-space-kill', reason: plan.reason };
}

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
      // The path each restrict rule would take under `run` with the built-in sensor (--action-mode policy).
      const plan = planEnforcement(createRuntimeEngine(result.policies).sensorHints.rules ?? []);
      const planOf = (p: { name: string; namespace?: string }): RulePlan[] =>
        plan.rules.filter((r) => r.policy === p.name && r.namespace === p.namespace);
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
          ...(p.rules.some((r) => r.restrict?.kernelBlock) && {
            block: Object.fromEntries(
              p.rules.flatMap((r) =>
                r.restrict?.kernelBlock ? [[r.name, blockSummary(r.restrict.kernelBlock)]] : [],
              ),
            ),
          }),
          enforcement: planOf(p).map((r) => ({
            rule: r.rule,
            path: r.path,
            reason: r.reason,
            ...(r.warning !== undefined && { warning: r.warning }),
          })),
          notEvaluated: notEvaluated(p),
        }));
        io.out(
          `${JSON.stringify({ policies, errors: result.errors, warnings: result.warnings ?? [], ignored: result.ignored ?? 0 }, null, 2)}\n`,
        );
      } else {
        for (const e of result.errors) io.out(`${formatPolicyError(e)}\n`);
        for (const w of result.warnings ?? []) io.out(`warning: ${formatPolicyError(w)}\n`);
        for (const p of result.policies)
          for (const r of planOf(p))
            if (r.warning !== undefined)
              io.out(`${p.source.file}:${p.source.line}:1: warning: rule ${r.rule}: ${r.warning}\n`);
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
            for (const r of p.rules) {
              const plan = r.restrict?.kernelBlock;
              if (!plan) continue;
              const s = blockSummary(plan);
              io.out(
                s.enforcement === 'kernel'
                  ? `  ${r.name}: block enforced in the kernel (cgroup connect4/connect6, ${s.kernelRules} kernel rules${p.failureAction === 'Enforce' ? '' : '; inert under Audit'})\n`
                  : `  ${r.name}: block falls back to the user-space kill: ${s.reason}\n`,
              );
            }
            for (const r of planOf(p))
              if (r.path !== 'report-only' || r.warning !== undefined)
                io.out(`  rule ${r.rule}: ${r.path} (${r.reason})\n`);
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
