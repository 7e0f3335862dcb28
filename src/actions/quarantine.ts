/**
 * The names the isolate action marks a pod and its NetworkPolicy with, apart from the action so that
 * `release` can name them in its help without loading the Kubernetes client.
 */
export const QUARANTINE_LABEL = 'runtime.kyverno.io/quarantine';
export const QUARANTINE_REASON_ANNOTATION = 'runtime.kyverno.io/quarantine-reason';
export const ISOLATION_POLICY_LABEL = 'runtime.kyverno.io/isolation';

export function isolationPolicyName(podName: string): string {
  return `kyverno-runtime-isolate-${podName}`.slice(0, 253).replace(/[-.]+$/, '');
}
