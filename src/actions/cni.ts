/**
 * Does this cluster's network plugin enforce NetworkPolicies? The API server accepts a NetworkPolicy
 * whatever the answer, so `isolate` would otherwise report success on a cluster where nothing is cut.
 *
 * Heuristic (documented in docs/actions.md): the DaemonSets of kube-system (and the namespaces the
 * plugins' own installers use) are listed once and their names compared with known plugins. Known
 * enforcers (Calico, Cilium, Antrea, Weave Net, kube-router, Kube-OVN, OVN-Kubernetes, the AWS and
 * Azure policy agents, kube-network-policies) → `enforced`; only a plugin known not to enforce
 * (Flannel, the AWS VPC CNI without its policy agent) → `not-enforced`; anything else, or no right to
 * list DaemonSets → `unknown`. The answer is kept for `ttlMs`.
 */
import type { AppsV1Api } from '@kubernetes/client-node';

export type CniEnforcement = 'enforced' | 'not-enforced' | 'unknown';

const ENFORCING = [
  /^calico-node$/,
  /^canal$/,
  /^cilium$/,
  /^antrea-agent$/,
  /^weave-net$/,
  /^kube-router$/,
  /^kube-ovn-cni$/,
  /^ovnkube-node$/,
  /^aws-network-policy-agent$/,
  /^azure-npm$/,
  /^anetd$/, // GKE Dataplane V2 (Cilium)
  /^kube-network-policies$/,
];
const NOT_ENFORCING = [/^kube-flannel(-ds)?$/, /^aws-node$/];

const NAMESPACES = ['kube-system', 'calico-system', 'cilium', 'kube-flannel', 'tigera-operator'];

/** Pure: the verdict for a set of DaemonSets (name, and container names for the AWS agent). */
export function classifyCni(daemonSets: readonly { name: string; containers: readonly string[] }[]): {
  enforcement: CniEnforcement;
  plugin?: string;
} {
  for (const ds of daemonSets) {
    const hit = ENFORCING.some((re) => re.test(ds.name));
    // The AWS VPC CNI enforces only with its network policy agent container in aws-node.
    const awsAgent = ds.name === 'aws-node' && ds.containers.includes('aws-network-policy-agent');
    if (hit || awsAgent) return { enforcement: 'enforced', plugin: ds.name };
  }
  const weak = daemonSets.find((ds) => NOT_ENFORCING.some((re) => re.test(ds.name)));
  return weak ? { enforcement: 'not-enforced', plugin: weak.name } : { enforcement: 'unknown' };
}

export class CniProbe {
  private cached: { at: number; value: { enforcement: CniEnforcement; plugin?: string } } | undefined;

  constructor(
    private readonly apps: AppsV1Api,
    private readonly ttlMs = 5 * 60_000,
  ) {}

  async enforcement(): Promise<{ enforcement: CniEnforcement; plugin?: string }> {
    if (this.cached && Date.now() - this.cached.at < this.ttlMs) return this.cached.value;
    const found: { name: string; containers: string[] }[] = [];
    for (const namespace of NAMESPACES) {
      try {
        const list = await this.apps.listNamespacedDaemonSet({ namespace, limit: 100 });
        for (const ds of list.items)
          found.push({
            name: ds.metadata?.name ?? '',
            containers: (ds.spec?.template.spec?.containers ?? []).map((c) => c.name),
          });
      } catch {
        // 403 (no right to list) or 404: this namespace tells us nothing.
      }
    }
    const value = classifyCni(found);
    this.cached = { at: Date.now(), value };
    return value;
  }
}
