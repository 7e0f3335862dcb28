/**
 * `kyverno-runtime cluster`: the in-cluster agent (what the Helm chart runs). Policies from the
 * ClusterRuntimePolicy/RuntimePolicy CRDs, attribution from the pod cache, PolicyReports, Events and
 * response actions; events from Tetragon (export file or gRPC socket), Falco/Falcosidekick HTTP, or
 * the built-in bpftrace sensor. See docs/kubernetes.md.
 */
import { Command, Option } from '@commander-js/extra-typings';
import { join, resolve } from 'node:path';
import { WebhookDestinations } from '../../actions/webhook-destination.js';
import type { ClusterModeHandle } from '../../app/cluster.js';
import { KILL_TRUSTABLE_SOURCES, type KillTrustableSource } from '../../app/kill-trust.js';
import { defaultStateDir, TAIL_STATE_FILE } from '../../app/state-dir.js';
import { DEFAULT_MAX_RESULTS, DEFAULT_REPORT_INTERVAL_MS } from '../../reports/policyreport/defaults.js';
import { createLogger } from '../../observability/logger.js';
import { printable } from '../../util/terminal-text.js';
import { parseListenAddress } from '../listen-address.js';
import { containerRuntimeSocketOption, containerRuntimeTimeoutOption } from '../run/sensor-flags.js';

export function parseKillTrustedSources(value: string): KillTrustableSource[] {
  const out: KillTrustableSource[] = [];
  for (const raw of value.split(',')) {
    const s = raw.trim();
    if (s === '') continue;
    if (!(KILL_TRUSTABLE_SOURCES as readonly string[]).includes(s))
      throw new Error(
        `--kill-trusted-sources: unknown source "${s}" (one of ${KILL_TRUSTABLE_SOURCES.join(', ')}; the sensor is always trusted)`,
      );
    out.push(s as KillTrustableSource);
  }
  return out;
}

const num = (what: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${what} must be a non-negative number, got "${v}"`);
  return n;
};

/** The cluster flags' ":8081" form (controller-runtime's); an empty host listens on all addresses. */
const parseBindAddress = (value: string): { host: string; port: number } =>
  parseListenAddress(value, { defaultHost: '0.0.0.0', allowBarePort: false });

export function register(program: Command): void {
  program
    .command('cluster')
    .description(
      'Run in a Kubernetes cluster: policies from ClusterRuntimePolicy/RuntimePolicy, pod attribution from ' +
        'informers, PolicyReports (runtime-<uid>), Events and response actions (Enforce) with dedup, rate limits, ' +
        'an API budget and protected namespaces. Events come from --tetragon-file, --tetragon-grpc, --http and/or --sensor.',
    )
    .option(
      '--kubeconfig <path>',
      'kubeconfig file (default: in-cluster service account, else $KUBECONFIG / ~/.kube/config)',
    )
    .option('--context <name>', 'kubeconfig context to use')
    .option('--in-cluster', 'use the pod service account even if a kubeconfig exists', false)
    .addOption(
      new Option('--mode <mode>', 'daemonset: this node only (pods, actions); deployment: the whole cluster')
        .choices(['daemonset', 'deployment'] as const)
        .default('deployment' as const),
    )
    .addOption(new Option('--node-name <name>', 'this node (daemonset mode)').env('NODE_NAME'))
    .addOption(
      new Option('--namespace <ns>', 'release namespace: Lease and webhook Secrets')
        .env('POD_NAMESPACE')
        .default('kyverno-runtime'),
    )
    .option(
      '--policies <paths...>',
      'load policies from files or directories (reloaded when they change) instead of watching the CRDs',
    )
    .addOption(
      new Option('--report-api <api>', 'PolicyReport API group')
        .choices(['wgpolicyk8s', 'openreports'] as const)
        .default('wgpolicyk8s' as const),
    )
    .option(
      '--exception <paths...>',
      'PolicyException files or directories (kyverno.io/v2 or policies.kyverno.io), besides those among -p (with --policies; without it the PolicyException CRDs are watched)',
      [],
    )
    .option(
      '--exception-namespace <namespaces...>',
      'namespaces whose PolicyExceptions apply in every namespace and to Nodes ("*": all); others apply only in their own namespace',
      [],
    )
    .option(
      '--context-ttl <seconds>',
      'how long a ConfigMap / apiCall / GlobalContextEntry read for rule context entries stays fresh',
      num('--context-ttl'),
      60,
    )
    .option(
      '--context-timeout <ms>',
      'timeout of each API server GET for rule context entries',
      num('--context-timeout'),
      2000,
    )
    .option(
      '--report-interval <seconds>',
      'write each PolicyReport at most once per this interval, and only when its counts or results changed',
      num('--report-interval'),
      DEFAULT_REPORT_INTERVAL_MS / 1000,
    )
    .option(
      '--report-max-results <n>',
      'results kept per PolicyReport (newest first; the rest are dropped and counted)',
      num('--report-max-results'),
      DEFAULT_MAX_RESULTS,
    )
    .option('--no-reports', 'do not write PolicyReports (Events and actions only)')
    .option('--leader-elect', 'Lease-based leader election for cluster-wide writes (policy status)', false)
    .option('--dry-run', 'server-side dry-run every action: validated and authorised, never persisted', false)
    .option(
      '--protected-namespaces <list>',
      'comma-separated namespaces never acted upon unless a policy allows it',
      'kube-system',
    )
    .option(
      '--api-qps <n>',
      'global budget of API requests made by actions, per second',
      num('--api-qps'),
      20,
    )
    .option('--api-burst <n>', 'burst of that budget', num('--api-burst'), 40)
    .option(
      '--policy-action-rate <n>',
      'verdicts acted upon per policy per second (over it: rate-limited)',
      num('--policy-action-rate'),
      10,
    )
    .option('--policy-action-burst <n>', 'burst of that limit', num('--policy-action-burst'), 50)
    .option(
      '--dedup-window <seconds>',
      'one action run per (policy, rule, resource, behavior) within this window',
      num('--dedup-window'),
      60,
    )
    .option(
      '--webhook-allow <list>',
      'comma-separated webhook destinations: URL prefixes, hosts, IPs or CIDRs (default: any but loopback, link-local and cloud metadata)',
    )
    .option('--tetragon-file <path>', 'tail a Tetragon JSON export file')
    .option(
      '--tail-state <path>',
      `where --tetragon-file's position is saved ("off" = start at the end every time; default: ${TAIL_STATE_FILE} under /var/lib/kyverno-runtime as root, else ./.kyverno-runtime)`,
    )
    .option(
      '--source-stale-after <minutes>',
      '--tetragon-file: no new line for this long while running is reported as stale (metric, /healthz, one log line); 0 = never',
      num('--source-stale-after'),
      10,
    )
    .option(
      '--tetragon-grpc <target>',
      'subscribe to Tetragon gRPC (unix:///var/run/tetragon/tetragon.sock or host:port)',
    )
    .option('--http <host:port>', 'receive Falco / Falcosidekick / RuntimeEvent HTTP on this address')
    .option(
      '--http-token-file <path>',
      'file with the bearer token(s) the HTTP receiver accepts, one per line, re-read on change (required unless --http is on loopback)',
    )
    .option(
      '--http-tls-cert <path>',
      'the HTTP receiver serves HTTPS with this PEM certificate (needs --http-tls-key)',
    )
    .option('--http-tls-key <path>', 'PEM private key of --http-tls-cert')
    .option(
      '--http-tls-client-ca <path>',
      'PEM CA bundle: senders must present a client certificate it signed (mTLS; needs --http-tls-cert)',
    )
    .option(
      '--http-max-connections <n>',
      'concurrent connections the HTTP receiver accepts; more are refused and counted',
      num('--http-max-connections'),
      256,
    )
    .option('--sensor', 'run the built-in bpftrace sensor (needs hostPID and BPF capabilities)', false)
    .addOption(
      containerRuntimeSocketOption(
        'with --sensor: container runtime asked about containers whose pod the API server does not list (yet), after the pod cache, never over it',
      ),
    )
    .addOption(containerRuntimeTimeoutOption())
    .option(
      '--kill-trusted-sources <list>',
      'comma-separated inputs whose events the kill action may act on besides the sensor: tetragon-file, ' +
        'tetragon-grpc (root-only file / unix socket), http (needs --http-token-file); needs hostPID',
      parseKillTrustedSources,
      [] as KillTrustableSource[],
    )
    .option('--health-probe-bind-address <addr>', '/healthz and /readyz', ':8081')
    .option('--metrics-bind-address <addr>', '/metrics (Prometheus)', ':8080')
    .addOption(
      new Option('--log-level <level>', 'log level')
        .choices(['debug', 'info', 'warn', 'error'] as const)
        .default('info' as const),
    )
    .action(async (opts) => {
      const logger = createLogger({ level: opts.logLevel });
      let webhookDestinations: WebhookDestinations;
      try {
        webhookDestinations = new WebhookDestinations((opts.webhookAllow ?? '').split(','));
      } catch (err) {
        process.stderr.write(`kyverno-runtime: --webhook-allow: ${printable((err as Error).message)}\n`);
        process.exit(1);
      }
      if ((opts.httpTlsCert === undefined) !== (opts.httpTlsKey === undefined)) {
        process.stderr.write('kyverno-runtime cluster: --http-tls-cert and --http-tls-key go together\n');
        process.exit(1);
      }
      if (opts.httpTlsClientCa !== undefined && opts.httpTlsCert === undefined) {
        process.stderr.write('kyverno-runtime cluster: --http-tls-client-ca needs --http-tls-cert\n');
        process.exit(1);
      }
      let handle: ClusterModeHandle;
      try {
        // Loaded here, not at the top: the Kubernetes client's module graph is most of the agent's
        // memory, and every other command (local `run` among them) would pay for it too.
        const [{ startClusterMode }, { loadKubeConfig }] = await Promise.all([
          import('../../app/cluster.js'),
          import('../../k8s/config.js'),
        ]);
        handle = await startClusterMode({
          kubeConfig: loadKubeConfig({
            kubeconfig: opts.kubeconfig,
            context: opts.context,
            inCluster: opts.inCluster,
          }),
          mode: opts.mode,
          nodeName: opts.nodeName,
          namespace: opts.namespace,
          ...(opts.policies && { policyFiles: opts.policies.map((p) => resolve(p)) }),
          ...(opts.exception.length > 0 && { exceptionFiles: opts.exception.map((p) => resolve(p)) }),
          ...(opts.exceptionNamespace.length > 0 && { exceptionNamespaces: opts.exceptionNamespace }),
          contextTtlMs: opts.contextTtl * 1000,
          contextTimeoutMs: opts.contextTimeout,
          reportFlavor: opts.reportApi,
          reports: opts.reports,
          reportIntervalMs: Math.max(0, opts.reportInterval) * 1000,
          reportMaxResults: Math.max(1, Math.floor(opts.reportMaxResults)),
          leaderElection: opts.leaderElect,
          dryRun: opts.dryRun,
          actions: {
            protectedNamespaces: opts.protectedNamespaces
              .split(',')
              .map((s) => s.trim())
              .filter((s) => s !== ''),
            apiBudget: { rate: opts.apiQps, burst: opts.apiBurst },
            perPolicy: { rate: opts.policyActionRate, burst: opts.policyActionBurst },
            dedupWindowMs: opts.dedupWindow * 1000,
            webhookDestinations,
          },
          ...(opts.tetragonFile !== undefined && {
            tetragonFile: {
              path: opts.tetragonFile,
              ...(opts.tailState !== 'off' && {
                statePath: resolve(opts.tailState ?? join(defaultStateDir(), TAIL_STATE_FILE)),
              }),
              staleAfterMs: opts.sourceStaleAfter * 60_000,
            },
          }),
          tetragonGrpc: opts.tetragonGrpc,
          ...(opts.http !== undefined && {
            http: {
              listen: parseBindAddress(opts.http),
              ...(opts.httpTokenFile !== undefined && { tokenFile: opts.httpTokenFile }),
              maxConnections: Math.max(1, Math.floor(opts.httpMaxConnections)),
              ...(opts.httpTlsCert !== undefined &&
                opts.httpTlsKey !== undefined && {
                  tls: {
                    cert: opts.httpTlsCert,
                    key: opts.httpTlsKey,
                    ...(opts.httpTlsClientCa !== undefined && { ca: opts.httpTlsClientCa }),
                  },
                }),
            },
          }),
          sensor: opts.sensor,
          ...(opts.containerRuntimeSocket !== undefined && {
            containerRuntimeSockets: opts.containerRuntimeSocket,
          }),
          containerRuntimeTimeoutMs: opts.containerRuntimeTimeout,
          killTrustedSources: opts.killTrustedSources,
          health: parseBindAddress(opts.healthProbeBindAddress),
          metrics: parseBindAddress(opts.metricsBindAddress),
          logger,
        });
      } catch (err) {
        logger.fatal({ err: (err as Error).message }, 'refusing to start');
        process.stderr.write(`kyverno-runtime cluster: ${printable((err as Error).message)}\n`);
        process.exitCode = 1;
        return;
      }
      const shutdown = async (): Promise<void> => {
        logger.info('shutting down: stopping sources, draining, flushing reports, releasing the lease');
        await handle.stop();
        process.exit(0);
      };
      process.once('SIGTERM', () => void shutdown());
      process.once('SIGINT', () => void shutdown());
    });
}
