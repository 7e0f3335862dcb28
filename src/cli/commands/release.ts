/**
 * `kyverno-runtime release <namespace>/<pod>`: undo `isolate` — delete the pod's deny-all
 * NetworkPolicy and remove the quarantine label and reason annotation.
 */
import { Command } from '@commander-js/extra-typings';
import type { KubeConfig } from '@kubernetes/client-node';
import { printable } from '../../util/terminal-text.js';
import {
  isolationPolicyName,
  QUARANTINE_LABEL,
  QUARANTINE_REASON_ANNOTATION,
} from '../../actions/quarantine.js';
import { apiStatus } from '../../k8s/errors.js';

export interface ReleaseResult {
  networkPolicy: 'deleted' | 'absent';
  pod: 'unlabelled' | 'absent';
}

/** Exit codes: 0 released (or nothing to release), 1 API error, 2 bad arguments. */
export async function releasePod(
  kc: KubeConfig,
  namespace: string,
  pod: string,
  label = QUARANTINE_LABEL,
): Promise<ReleaseResult> {
  // Loaded on use: the Kubernetes client's module graph is large, and every command would pay for it.
  const [{ CoreV1Api, NetworkingV1Api, PatchStrategy, setHeaderOptions }, { apiClient }] = await Promise.all([
    import('@kubernetes/client-node'),
    import('../../k8s/api-clients.js'),
  ]);
  const networking = apiClient(kc, NetworkingV1Api);
  const core = apiClient(kc, CoreV1Api);
  const result: ReleaseResult = { networkPolicy: 'deleted', pod: 'unlabelled' };
  try {
    await networking.deleteNamespacedNetworkPolicy({ name: isolationPolicyName(pod), namespace });
  } catch (err) {
    if (apiStatus(err).code !== 404) throw err;
    result.networkPolicy = 'absent';
  }
  try {
    await core.patchNamespacedPod(
      {
        name: pod,
        namespace,
        body: {
          metadata: { labels: { [label]: null }, annotations: { [QUARANTINE_REASON_ANNOTATION]: null } },
        },
      },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
  } catch (err) {
    if (apiStatus(err).code !== 404) throw err;
    result.pod = 'absent';
  }
  return result;
}

export function register(program: Command): void {
  program
    .command('release')
    .description(
      'Undo the isolate action for a pod: delete its deny-all NetworkPolicy (kyverno-runtime-isolate-<pod>) and remove ' +
        `the ${QUARANTINE_LABEL} label and reason annotation. Exit 0 when released or nothing was isolated, 1 on an API error, 2 on bad arguments.`,
    )
    .argument('<pod>', 'the pod as <namespace>/<name>')
    .option('--kubeconfig <path>', 'kubeconfig file (default: $KUBECONFIG, ~/.kube/config, or in-cluster)')
    .option('--context <name>', 'kubeconfig context to use')
    .option('--label <key>', 'quarantine label used by the isolate action', QUARANTINE_LABEL)
    .action(async (target, opts) => {
      const m = /^([a-z0-9][-a-z0-9]*)\/([a-z0-9][-a-z0-9.]*)$/.exec(target);
      if (!m) {
        process.stderr.write(`release: expected <namespace>/<pod>, got "${printable(target)}"\n`);
        process.exitCode = 2;
        return;
      }
      try {
        const { loadKubeConfig } = await import('../../k8s/config.js');
        const kc = loadKubeConfig({ kubeconfig: opts.kubeconfig, context: opts.context });
        const r = await releasePod(kc, m[1]!, m[2]!, opts.label);
        process.stdout.write(
          `${target}: NetworkPolicy ${r.networkPolicy}, pod ${r.pod === 'absent' ? 'not found' : 'quarantine label removed'}\n`,
        );
      } catch (err) {
        const st = apiStatus(err);
        process.stderr.write(
          `release: ${printable(`${st.code > 0 ? `${st.code} ${st.reason}: ` : ''}${st.message}`)}\n`,
        );
        process.exitCode = 1;
      }
    });
}
