/**
 * `kyverno-runtime run`: local mode. The built-in eBPF sensor (or another source), the policies,
 * an embedded store, a local HTTP API and terminal output. See docs/local-mode.md.
 */
import { Command, Option } from '@commander-js/extra-typings';
import { hostname } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createRuntimeEngine } from '../../engine/runtime/index.js';
import { formatPolicyError, loadPolicies } from '../../policy/index.js';
import { printable } from '../../util/terminal-text.js';
import { SOURCE_FORMATS } from '../../events/adapters/outcome.js';
import { generateProgram } from '../../sources/sensor/program.js';
import { findTracefs, tracepointChecker } from '../../sources/sensor/prerequisites.js';
import { DEFAULT_ATTACH_TIMEOUT_MS, SensorAttachTimeoutError } from '../../sources/sensor/index.js';
import {
  ACTION_MODES,
  kernelKillEnvironment,
  SOURCE_KINDS,
  startLocalMode,
  type LocalModeHandle,
} from '../../app/local.js';
import { planEnforcement } from '../../sources/sensor/kernel-kill.js';
import { defaultDbPath, TAIL_STATE_FILE } from '../../app/state-dir.js';
import { parseListenAddress } from '../listen-address.js';
import { packagePath } from '../../package-root.js';
import {
  containerRuntimeSocketOption,
  containerRuntimeTimeoutOption,
  DEFAULT_SENSOR_ATTACH_TIMEOUT,
  parseAttachTimeout,
} from '../run/sensor-flags.js';
import { parseRetentionAge, parseRowCap } from '../run/store-retention.js';
import { parseLogFiles, parseLogSize } from '../run/log-flags.js';
import { TerminalSink } from '../run/terminal.js';
import { DEFAULT_LOG_MAX_BYTES, DEFAULT_LOG_MAX_FILES } from '../../observability/logger.js';
import { DEFAULT_MAX_VIOLATIONS } from '../../reports/store/index.js';
import {
  DEFAULT_SOURCE_IDLE_TIMEOUT,
  DEFAULT_SOURCE_REQUEST_TIMEOUT,
  parseConnectionCap,
  parseDurationMs,
  parseSocketModeFlag,
  parseSourceListen,
} from '../run/source-flags.js';
import { DEFAULT_MAX_CONNECTIONS } from '../../sources/listen.js';
import { formatSelftestTable, SelftestObserver } from '../../app/selftest.js';
import { selftestAgainst } from './selftest.js';

/** run's listen flags: loopback unless a host is given; a bare port is fine. */
const parseLocalAddress = (value: string): { host: string; port: number } =>
  parseListenAddress(value, { defaultHost: '127.0.0.1', allowBarePort: true });

export function register(program: Command): void {
  program
    .command('run')
    .description(
      'Local mode: watch this host with the built-in eBPF sensor (or another source), evaluate the policies, ' +
        'print verdicts, keep them in an embedded store, serve the API and dashboard, and enforce with kill.',
    )
    .option('-p, --policies <paths...>', 'policy files or directories (reloaded when they change)', [
      packagePath('policies'),
    ])
    .option(
      '--exception <paths...>',
      'PolicyException files or directories (kyverno.io/v2 or policies.kyverno.io), besides those among -p (reloaded when they change)',
      [],
    )
    .option(
      '--context-file <paths...>',
      'ConfigMaps and a kind: Context document (apiCalls, globalReferences, resources) answering rule context entries (read at start)',
      [],
    )
    .option(
      '--exception-namespace <namespaces...>',
      'namespaces whose PolicyExceptions apply in every namespace and to Nodes ("*": all); others apply only in their own namespace',
      [],
    )
    .addOption(
      new Option('-s, --source <kind>', 'where events come from')
        .choices(SOURCE_KINDS)
        .default('sensor' as const),
    )
    .option(
      '--file <path>',
      'file to tail for --source tetragon-file|file (Tetragon export, or any supported format)',
    )
    .addOption(
      new Option(
        '--format <format>',
        'input format for file/stdin/tcp sources (default: auto, tetragon for tetragon-file)',
      ).choices(['auto', ...SOURCE_FORMATS]),
    )
    .option(
      '--tail-state <path>',
      `where the file source saves its position ("off" = start at the end every time; default: ${TAIL_STATE_FILE} next to --db)`,
    )
    .option(
      '--source-listen <address>',
      'address of the http (default 127.0.0.1:2801) or tcp source: host:port, or unix:/path for a unix socket',
      parseSourceListen,
    )
    .option(
      '--source-token-file <path>',
      'file of tokens the http/tcp source accepts, one per line (HTTP: Authorization: Bearer <token>; TCP: the first line); re-read on change; required beyond loopback',
    )
    .option(
      '--source-socket-mode <mode>',
      'permissions of a unix: --source-listen socket (octal)',
      parseSocketModeFlag,
      0o600,
    )
    .option(
      '--source-max-connections <n>',
      'concurrent connections the http/tcp source accepts; more are refused and counted',
      parseConnectionCap,
      DEFAULT_MAX_CONNECTIONS,
    )
    .addOption(
      new Option(
        '--source-request-timeout <duration>',
        'http source: time to receive a whole request (headers and body); tcp source: time to send the token line',
      )
        .argParser(parseDurationMs)
        .default(parseDurationMs(DEFAULT_SOURCE_REQUEST_TIMEOUT), DEFAULT_SOURCE_REQUEST_TIMEOUT),
    )
    .addOption(
      new Option(
        '--source-idle-timeout <duration>',
        'tcp source: close a connection that sends nothing for this long',
      )
        .argParser(parseDurationMs)
        .default(parseDurationMs(DEFAULT_SOURCE_IDLE_TIMEOUT), DEFAULT_SOURCE_IDLE_TIMEOUT),
    )
    .option(
      '--source-trusted-for-kill',
      'let the kill action act on events of this source: refused unless it is authenticated (a root-only ' +
        'file or unix socket, a token file); the built-in sensor is always trusted',
      false,
    )
    .option(
      '--tetragon-target <target>',
      'Tetragon gRPC address for --source tetragon-grpc',
      'unix:///var/run/tetragon/tetragon.sock',
    )
    .option('--node-name <name>', 'node name for host events and reports', hostname())
    .option('--db <path>', 'SQLite store (env KYVERNO_RUNTIME_STORE)', defaultDbPath())
    .option(
      '--store-max-violations <n>',
      'violation rows kept in the store (one per policy/rule/resource); beyond it the least recently seen are deleted; 0 = no cap',
      parseRowCap,
      DEFAULT_MAX_VIOLATIONS,
    )
    .addOption(
      new Option(
        '--store-retention <age>',
        'delete violations not seen for this long (e.g. 30d, 12h, 1d12h; "off" = no age limit)',
      )
        .argParser(parseRetentionAge)
        .default(parseRetentionAge('30d'), '30d'),
    )
    .option('--listen <host:port>', 'HTTP API and dashboard address ("off" to disable)', '127.0.0.1:8080')
    .option(
      '--api-token-file <path>',
      'file of bearer tokens accepted on /api and /metrics, one per line, re-read on change (required beyond loopback)',
    )
    .option(
      '--api-token <token>',
      'bearer token required on /api and /metrics; visible in ps: prefer --api-token-file or env KYVERNO_RUNTIME_API_TOKEN',
    )
    .option(
      '--no-install',
      'never install bpftrace, nor clang/libbpf-dev/bpftool for block rules, automatically (print the command instead)',
    )
    .addOption(
      new Option(
        '--sensor-attach-timeout <duration>',
        'how long the built-in sensor waits for bpftrace to compile and attach its probes (e.g. 90s, 3m)',
      )
        .argParser(parseAttachTimeout)
        .default(DEFAULT_ATTACH_TIMEOUT_MS, DEFAULT_SENSOR_ATTACH_TIMEOUT),
    )
    .addOption(containerRuntimeSocketOption('container runtime the sensor names containers and pods from'))
    .addOption(containerRuntimeTimeoutOption())
    .addOption(
      new Option('--log-level <level>', 'JSON log level')
        .choices(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'])
        .default('info'),
    )
    .option('--log-file <path>', 'JSON log (pino) destination; "-" for stderr (default: next to the store)')
    .addOption(
      new Option(
        '--log-max-size <size>',
        'rotate the JSON log file beyond this size (e.g. 64M, 1G; 0 = never)',
      )
        .argParser(parseLogSize)
        .default(DEFAULT_LOG_MAX_BYTES, '64M'),
    )
    .addOption(
      new Option('--log-max-files <n>', 'rotated JSON log files kept (file.1 … file.N)')
        .argParser(parseLogFiles)
        .default(DEFAULT_LOG_MAX_FILES),
    )
    .addOption(
      new Option(
        '--mode <mode>',
        "actions: 'policy' = as each policy's failureAction says; 'audit' = run none (report only); 'dry-run' = report what would be done",
      )
        .choices(ACTION_MODES)
        .default('policy' as const),
    )
    .option('--print-program', 'print the bpftrace program the policies need, and exit')
    .option(
      '--selftest',
      'once started, trigger a harmless instance of each watched behavior and print what was seen and fired (see `selftest`)',
    )
    .action(async (opts) => {
      const policyPaths = opts.policies.map((p) => resolve(p));
      if (opts.printProgram) {
        const loaded = await loadPolicies(policyPaths);
        for (const e of loaded.errors) process.stderr.write(`${printable(formatPolicyError(e))}\n`);
        const hints = createRuntimeEngine(loaded.policies, { nodeName: opts.nodeName }).sensorHints;
        const tracefs = findTracefs();
        const plan = planEnforcement(hints.rules ?? [], kernelKillEnvironment('sensor', opts.mode));
        const generated = generateProgram({
          behaviors: hints.behaviors,
          filePathPrefixes: hints.filePathPrefixes,
          selfPid: process.pid,
          tracepointExists: tracefs ? tracepointChecker(tracefs) : () => true,
          kernelKill: plan.kernel,
        });
        process.stdout.write(generated.source);
        for (const u of generated.unsupported)
          process.stderr.write(`cannot watch ${printable(`${u.behavior}: ${u.reason}`)}\n`);
        return;
      }
      const say = (m: string): void => void process.stderr.write(`kyverno-runtime: ${printable(m)}\n`);
      const db = resolve(opts.db);
      let handle: LocalModeHandle;
      const observer = opts.selftest ? new SelftestObserver() : undefined;
      try {
        handle = await startLocalMode({
          policies: policyPaths,
          exceptions: opts.exception.map((p) => resolve(p)),
          exceptionNamespaces: opts.exceptionNamespace,
          contextFiles: opts.contextFile.map((p) => resolve(p)),
          source: opts.source,
          nodeName: opts.nodeName,
          db,
          storeRetention: { maxViolations: opts.storeMaxViolations, maxAgeMs: opts.storeRetention },
          listen: opts.listen === 'off' ? undefined : parseLocalAddress(opts.listen),
          apiToken: opts.apiToken ?? process.env.KYVERNO_RUNTIME_API_TOKEN,
          apiTokenFile: opts.apiTokenFile,
          install: opts.install,
          sensorAttachTimeoutMs: opts.sensorAttachTimeout,
          ...(opts.containerRuntimeSocket !== undefined && {
            containerRuntimeSockets: opts.containerRuntimeSocket,
          }),
          containerRuntimeTimeoutMs: opts.containerRuntimeTimeout,
          logLevel: opts.logLevel,
          logFile: opts.logFile ?? join(dirname(db), 'kyverno-runtime.log'),
          logRotation: { maxBytes: opts.logMaxSize, maxFiles: opts.logMaxFiles },
          actionMode: opts.mode,
          file: opts.file,
          tailState:
            opts.tailState === 'off'
              ? undefined
              : resolve(opts.tailState ?? join(dirname(db), TAIL_STATE_FILE)),
          format: opts.format,
          sourceListen: opts.sourceListen,
          sourceAuth: {
            tokenFile: opts.sourceTokenFile,
            socketMode: opts.sourceSocketMode,
            maxConnections: opts.sourceMaxConnections,
            requestTimeoutMs: opts.sourceRequestTimeout,
            idleTimeoutMs: opts.sourceIdleTimeout,
          },
          sourceTrustedForKill: opts.sourceTrustedForKill,
          tetragonTarget: opts.tetragonTarget,
          ...(observer && { observer }),
          say,
          terminal: new TerminalSink(),
        });
      } catch (err) {
        say(
          err instanceof SensorAttachTimeoutError
            ? `${err.message}; a busy host may need a longer --sensor-attach-timeout`
            : (err as Error).message,
        );
        process.exitCode = 1;
        return;
      }
      say('running; Ctrl-C to stop');
      if (observer) {
        void selftestAgainst(handle, observer, opts.nodeName, undefined, say).then(
          (result) => process.stderr.write(`selftest:\n${formatSelftestTable(result)}`),
          (err: unknown) => say(`selftest failed: ${(err as Error).message}`),
        );
      }
      await new Promise<void>((resolveDone) => {
        let signals = 0;
        const onSignal = (sig: NodeJS.Signals): void => {
          signals++;
          if (signals > 1) {
            say(`${sig} again: exiting without draining`);
            process.exit(1);
          }
          say(`${sig}: draining, flushing the store, detaching probes …`);
          void handle.stop().then(resolveDone, (err: unknown) => {
            say(`shutdown error: ${(err as Error).message}`);
            process.exitCode = 1;
            resolveDone();
          });
        };
        process.on('SIGINT', onSignal);
        process.on('SIGTERM', onSignal);
        // A finite source (stdin) ends the run by itself.
        void handle.ended.then(() => handle.stop()).then(resolveDone);
      });
      say('stopped');
    });
}
