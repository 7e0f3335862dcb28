/**
 * `kyverno-runtime selftest`: starts the built-in sensor with the policies, triggers a harmless
 * instance of every behavior they watch and prints what happened (docs/local-mode.md "Selftest").
 * Its store and log live in a scratch directory removed afterwards; actions run as a dry run.
 */
import { Command, Option } from '@commander-js/extra-typings';
import { mkdtempSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { packagePath } from '../../package-root.js';
import { BpftraceSensor, DEFAULT_ATTACH_TIMEOUT_MS } from '../../sources/sensor/index.js';
import { startLocalMode, type LocalModeHandle } from '../../app/local.js';
import { DEFAULT_SENSOR_ATTACH_TIMEOUT, parseAttachTimeout } from '../run/sensor-flags.js';
import { TerminalSink } from '../run/terminal.js';
import {
  formatSelftestTable,
  runSelftest,
  SelftestObserver,
  type SelftestResult,
} from '../../app/selftest.js';

/** Runs the selftest against a started local mode (shared by `selftest` and `run --selftest`). */
export async function selftestAgainst(
  handle: LocalModeHandle,
  observer: SelftestObserver,
  nodeName: string,
  timeoutMs?: number,
  say?: (m: string) => void,
): Promise<SelftestResult> {
  return runSelftest({
    engine: handle.policies.engine,
    program: handle.source instanceof BpftraceSensor ? handle.source.program : undefined,
    pipeline: handle.pipeline,
    observer,
    nodeName,
    ...(timeoutMs !== undefined && { timeoutMs }),
    ...(say && { say }),
  });
}

export function register(program: Command): void {
  program
    .command('selftest')
    .description(
      'Trigger a harmless instance of every behavior the policies watch (in a throwaway container-like cgroup, ' +
        'private namespaces and a scratch directory) and print, per behavior: probe attached, event seen, ' +
        'attribution, policies fired, latency. Exit 1 when an exercised behavior did not fire.',
    )
    .option('-p, --policies <paths...>', 'policy files or directories', [packagePath('policies')])
    .option('--node-name <name>', 'node name for host events', hostname())
    .option('--no-install', 'never install bpftrace automatically (print the command instead)')
    .addOption(
      new Option('--sensor-attach-timeout <duration>', 'how long bpftrace may take to compile and attach')
        .argParser(parseAttachTimeout)
        .default(DEFAULT_ATTACH_TIMEOUT_MS, DEFAULT_SENSOR_ATTACH_TIMEOUT),
    )
    .addOption(
      new Option('--timeout <duration>', 'how long to wait for the events once the probes ran')
        .argParser(parseAttachTimeout)
        .default(20_000, '20s'),
    )
    .action(async (opts) => {
      const say = (m: string): void => void process.stderr.write(`kyverno-runtime: ${m}\n`);
      const scratch = mkdtempSync(join(tmpdir(), 'kyverno-runtime-selftest-store-'));
      const observer = new SelftestObserver();
      let handle: LocalModeHandle | undefined;
      try {
        handle = await startLocalMode({
          policies: opts.policies.map((p) => resolve(p)),
          source: 'sensor',
          nodeName: opts.nodeName,
          db: join(scratch, 'state.db'),
          install: opts.install,
          sensorAttachTimeoutMs: opts.sensorAttachTimeout,
          logLevel: 'warn',
          logFile: join(scratch, 'kyverno-runtime.log'),
          actionMode: 'dry-run',
          observer,
          say,
          terminal: new TerminalSink({ out: process.stderr }),
        });
        const result = await selftestAgainst(handle, observer, opts.nodeName, opts.timeout, say);
        process.stdout.write(formatSelftestTable(result));
        if (!result.ok) process.exitCode = 1;
      } catch (err) {
        say((err as Error).message);
        process.exitCode = 1;
      } finally {
        await handle?.stop().catch(() => undefined);
        rmSync(scratch, { recursive: true, force: true });
      }
    });
}
