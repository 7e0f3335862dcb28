/**
 * The Kubernetes OpenAPI schemas of a recent release, as published by the kubernetes-models package
 * (JSON Schema compiled to ajv validators): what a real API server checks for types, required
 * fields, enums and formats. Shared by the fake API server (every body of a built-in kind) and the
 * chart test (every rendered object).
 */
type CompiledValidator = ((data: unknown) => boolean) & {
  errors?: { instancePath: string; keyword: string; message?: string; params?: unknown }[] | null;
};

/** apiVersion/kind → the schema module's name under kubernetes-models/_schemas. */
const SCHEMAS: Record<string, string> = {
  'v1/Pod': 'IoK8sApiCoreV1Pod',
  'v1/Namespace': 'IoK8sApiCoreV1Namespace',
  'v1/Node': 'IoK8sApiCoreV1Node',
  'v1/Secret': 'IoK8sApiCoreV1Secret',
  'v1/Event': 'IoK8sApiCoreV1Event',
  'v1/Service': 'IoK8sApiCoreV1Service',
  'v1/ServiceAccount': 'IoK8sApiCoreV1ServiceAccount',
  'apps/v1/Deployment': 'IoK8sApiAppsV1Deployment',
  'apps/v1/DaemonSet': 'IoK8sApiAppsV1DaemonSet',
  'apps/v1/ReplicaSet': 'IoK8sApiAppsV1ReplicaSet',
  'apps/v1/StatefulSet': 'IoK8sApiAppsV1StatefulSet',
  'networking.k8s.io/v1/NetworkPolicy': 'IoK8sApiNetworkingV1NetworkPolicy',
  'coordination.k8s.io/v1/Lease': 'IoK8sApiCoordinationV1Lease',
  'events.k8s.io/v1/Event': 'IoK8sApiEventsV1Event',
  'autoscaling/v1/Scale': 'IoK8sApiAutoscalingV1Scale',
  'rbac.authorization.k8s.io/v1/ClusterRole': 'IoK8sApiRbacV1ClusterRole',
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': 'IoK8sApiRbacV1ClusterRoleBinding',
  'rbac.authorization.k8s.io/v1/Role': 'IoK8sApiRbacV1Role',
  'rbac.authorization.k8s.io/v1/RoleBinding': 'IoK8sApiRbacV1RoleBinding',
  'policy/v1/PodDisruptionBudget': 'IoK8sApiPolicyV1PodDisruptionBudget',
  'policy/v1/Eviction': 'IoK8sApiPolicyV1Eviction',
  'admissionregistration.k8s.io/v1/ValidatingAdmissionPolicy':
    'IoK8sApiAdmissionregistrationV1ValidatingAdmissionPolicy',
  'admissionregistration.k8s.io/v1/ValidatingAdmissionPolicyBinding':
    'IoK8sApiAdmissionregistrationV1ValidatingAdmissionPolicyBinding',
  'apiextensions.k8s.io/v1/CustomResourceDefinition':
    'IoK8sApiextensionsApiserverPkgApisApiextensionsV1CustomResourceDefinition',
};

const validators = new Map<string, CompiledValidator>();
await Promise.all(
  Object.entries(SCHEMAS).map(async ([key, name]) => {
    const mod = (await import(`kubernetes-models/_schemas/${name}`)) as { validate: CompiledValidator };
    validators.set(key, mod.validate);
  }),
);
{
  const mod: { validate: CompiledValidator } =
    await import('@kubernetes-models/apimachinery/_schemas/IoK8sApimachineryPkgApisMetaV1DeleteOptions');
  validators.set('v1/DeleteOptions', mod.validate);
}

/** Whether the OpenAPI schema of this kind is known here. */
export function hasOpenApiSchema(apiVersion: string, kind: string): boolean {
  return validators.has(`${apiVersion}/${kind}`);
}

/** Problems against the kind's OpenAPI schema ([] when valid or when the kind is not known here). */
export function openApiProblems(apiVersion: string, kind: string, body: unknown): string[] {
  const fn = validators.get(`${apiVersion}/${kind}`);
  if (fn === undefined || fn(body)) return [];
  return (fn.errors ?? []).map(
    (e) =>
      `${e.instancePath || '/'} ${e.message ?? e.keyword} ${JSON.stringify(e.params ?? {})} (OpenAPI schema)`,
  );
}
