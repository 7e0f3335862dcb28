/**
 * Which kinds are cluster-scoped, to default the namespace of the others to `default` as Kyverno's CLI
 * does. Without a cluster to ask (discovery), this is a table of the well-known cluster-scoped kinds.
 */
const CLUSTER_SCOPED = new Set([
  'Namespace',
  'Node',
  'PersistentVolume',
  'StorageClass',
  'ClusterRole',
  'ClusterRoleBinding',
  'CustomResourceDefinition',
  'ValidatingWebhookConfiguration',
  'MutatingWebhookConfiguration',
  'ValidatingAdmissionPolicy',
  'ValidatingAdmissionPolicyBinding',
  'MutatingAdmissionPolicy',
  'PriorityClass',
  'APIService',
  'CertificateSigningRequest',
  'IngressClass',
  'RuntimeClass',
  'VolumeSnapshotClass',
  'VolumeSnapshotContent',
  'CSIDriver',
  'CSINode',
  'VolumeAttachment',
  'FlowSchema',
  'PriorityLevelConfiguration',
  'PodSecurityPolicy',
  'SecurityContextConstraints',
  'ClusterIssuer',
  'ClusterPolicy',
  'ClusterRuntimePolicy',
  'ClusterPolicyReport',
  'ClusterCleanupPolicy',
  'ClusterImagePolicy',
  'ComponentStatus',
  'ClusterVersion',
  'ClusterOperator',
  'Project',
]);
/** API groups whose kinds are all cluster-scoped (OpenShift cluster configuration). */
const CLUSTER_GROUPS = new Set(['config.openshift.io', 'operator.openshift.io']);

export function isClusterScoped(apiVersion: string, kind: string): boolean {
  const group = apiVersion.includes('/') ? apiVersion.slice(0, apiVersion.indexOf('/')) : '';
  return CLUSTER_SCOPED.has(kind) || CLUSTER_GROUPS.has(group);
}
