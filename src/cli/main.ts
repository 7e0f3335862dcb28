#!/usr/bin/env node
/**
 * kyverno-runtime command line. Each subcommand lives in its own file under commands/ and exports
 * `register(program)`.
 */
// First: V8 flags from the environment must be set before the other modules load.
import './v8-flags.js';
import { Command } from '@commander-js/extra-typings';
import { readFileSync } from 'node:fs';
import { packagePath } from '../package-root.js';
import { register as registerApply } from './commands/apply.js';
import { register as registerCluster } from './commands/cluster.js';
import { register as registerConformance } from './commands/conformance.js';
import { register as registerRelease } from './commands/release.js';
import { register as registerRun } from './commands/run.js';
import { register as registerSelftest } from './commands/selftest.js';
import { register as registerTest } from './commands/test.js';
import { register as registerValidate } from './commands/validate.js';

const pkg = JSON.parse(readFileSync(packagePath('package.json'), 'utf8')) as {
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
  for (const register of [
    registerRun,
    registerSelftest,
    registerApply,
    registerTest,
    registerValidate,
    registerConformance,
    registerRelease,
    registerCluster,
  ]) {
    register(program);
  }
  return program;
}

const program = buildProgram();
await program.parseAsync(process.argv);
