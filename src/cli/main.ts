#!/usr/bin/env node
/**
 * kyverno-runtime command line. Each subcommand lives in its own file under commands/ and exports
 * `register(program)`.
 */
// First: V8 flags from the environment (v8-flags.ts). Every other module is imported dynamically
// after it, because a static import graph is parsed and compiled before any of its modules runs.
import './v8-flags.js';
import { readFileSync } from 'node:fs';
import type { Command as CommandType } from '@commander-js/extra-typings';
import { packagePath } from '../package-root.js';

const [
  { Command },
  { register: registerApply },
  { register: registerCluster },
  { register: registerConformance },
  { register: registerRelease },
  { register: registerRun },
  { register: registerSelftest },
  { register: registerTest },
  { register: registerValidate },
] = await Promise.all([
  import('@commander-js/extra-typings'),
  import('./commands/apply.js'),
  import('./commands/cluster.js'),
  import('./commands/conformance.js'),
  import('./commands/release.js'),
  import('./commands/run.js'),
  import('./commands/selftest.js'),
  import('./commands/test.js'),
  import('./commands/validate.js'),
]);

const pkg = JSON.parse(readFileSync(packagePath('package.json'), 'utf8')) as {
  version: string;
};

export function buildProgram(): CommandType {
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
