#!/usr/bin/env node
/**
 * kyverno-runtime command line. Each subcommand lives in its own file under commands/ and exports
 * `register(program)`.
 */
import { Command } from '@commander-js/extra-typings';
import { readFileSync } from 'node:fs';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

export function buildProgram(): Command {
  const program = new Command()
    .name('kyverno-runtime')
    .description(
      'Kyverno-style policies for runtime events seen by eBPF tools (Tetragon, Falco, KubeArmor, Tracee, built-in bpftrace sensor).',
    )
    .version(pkg.version)
    .showHelpAfterError();
  return program;
}

const program = buildProgram();
await program.parseAsync(process.argv);
