/**
 * The resource types the fake API server serves: enough of core, apps, networking, coordination,
 * events, the report groups and our own CRDs for the cluster side's tests.
 */
export interface ResourceType {
  group: string; // '' for core
  version: string;
  plural: string;
  kind: string;
  namespaced: boolean;
  /** Updates to the main resource keep the stored status; /status updates keep everything else. */
  statusSubresource?: boolean;
  scaleSubresource?: boolean;
  shortNames?: string[];
}

export const RESOURCE_TYPES: readonly ResourceType[] = [
  { group: '', version: 'v1', plural: 'pods', kind: 'Pod', namespaced: true, statusSubresource: true },
  { group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false },
  { group: '', version: 'v1', plural: 'nodes', kind: 'Node', namespaced: false, statusSubresource: true },
  { group: '', version: 'v1', plural: 'events', kind: 'Event', namespaced: true },
  { group: '', version: 'v1', plural: 'secrets', kind: 'Secret', namespaced: true },
  { group: '', version: 'v1', plural: 'configmaps', kind: 'ConfigMap', namespaced: true },
  {
    group: 'apps',
    version: 'v1',
    plural: 'deployments',
    kind: 'Deployment',
    namespaced: true,
    statusSubresource: true,
    scaleSubresource: true,
  },
  {
    group: 'apps',
    version: 'v1',
    plural: 'replicasets',
    kind: 'ReplicaSet',
    namespaced: true,
    statusSubresource: true,
    scaleSubresource: true,
  },
  {
    group: 'apps',
    version: 'v1',
    plural: 'statefulsets',
    kind: 'StatefulSet',
    namespaced: true,
    statusSubresource: true,
    scaleSubresource: true,
  },
  {
    group: 'apps',
    version: 'v1',
    plural: 'daemonsets',
    kind: 'DaemonSet',
    namespaced: true,
    statusSubresource: true,
  },
  {
    group: 'policy',
    version: 'v1',
    plural: 'poddisruptionbudgets',
    kind: 'PodDisruptionBudget',
    namespaced: true,
    statusSubresource: true,
  },
  {
    group: 'networking.k8s.io',
    version: 'v1',
    plural: 'networkpolicies',
    kind: 'NetworkPolicy',
    namespaced: true,
  },
  { group: 'coordination.k8s.io', version: 'v1', plural: 'leases', kind: 'Lease', namespaced: true },
  { group: 'events.k8s.io', version: 'v1', plural: 'events', kind: 'Event', namespaced: true },
  {
    group: 'wgpolicyk8s.io',
    version: 'v1alpha2',
    plural: 'policyreports',
    kind: 'PolicyReport',
    namespaced: true,
  },
  {
    group: 'wgpolicyk8s.io',
    version: 'v1alpha2',
    plural: 'clusterpolicyreports',
    kind: 'ClusterPolicyReport',
    namespaced: false,
  },
  { group: 'openreports.io', version: 'v1alpha1', plural: 'reports', kind: 'Report', namespaced: true },
  {
    group: 'openreports.io',
    version: 'v1alpha1',
    plural: 'clusterreports',
    kind: 'ClusterReport',
    namespaced: false,
  },
  {
    group: 'runtime.kyverno.io',
    version: 'v1alpha1',
    plural: 'clusterruntimepolicies',
    kind: 'ClusterRuntimePolicy',
    namespaced: false,
    statusSubresource: true,
  },
  {
    group: 'runtime.kyverno.io',
    version: 'v1alpha1',
    plural: 'runtimepolicies',
    kind: 'RuntimePolicy',
    namespaced: true,
    statusSubresource: true,
  },
  // Kyverno's CRDs the agent reads when they are installed.
  {
    group: 'kyverno.io',
    version: 'v2',
    plural: 'policyexceptions',
    kind: 'PolicyException',
    namespaced: true,
  },
  {
    group: 'policies.kyverno.io',
    version: 'v1alpha1',
    plural: 'policyexceptions',
    kind: 'PolicyException',
    namespaced: true,
  },
  {
    group: 'runtime.kyverno.io',
    version: 'v1alpha1',
    plural: 'runtimevalidatingpolicies',
    kind: 'RuntimeValidatingPolicy',
    namespaced: false,
    statusSubresource: true,
  },
  {
    group: 'runtime.kyverno.io',
    version: 'v1alpha1',
    plural: 'namespacedruntimevalidatingpolicies',
    kind: 'NamespacedRuntimeValidatingPolicy',
    namespaced: true,
    statusSubresource: true,
  },
];

export function apiVersionOf(t: ResourceType): string {
  return t.group === '' ? t.version : `${t.group}/${t.version}`;
}

export function findResource(group: string, version: string, plural: string): ResourceType | undefined {
  return RESOURCE_TYPES.find((t) => t.group === group && t.version === version && t.plural === plural);
}

export function findKind(apiVersion: string, kind: string): ResourceType | undefined {
  return RESOURCE_TYPES.find((t) => apiVersionOf(t) === apiVersion && t.kind === kind);
}
