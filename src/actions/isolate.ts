/**
 * isolate: cut a pod off the network without killing it (so it can be investigated):
 * 1. label the pod `<label>=<pod uid>` (default label runtime.kyverno.io/quarantine) and annotate it
 *    with the reason;
 * 2. create a NetworkPolicy `kyverno-runtime-isolate-<pod>` selecting exactly that label value with
 *    policyTypes [Ingress, Egress] and no rules: deny all traffic both ways. It is owned by the pod,
 *    so it is garbage-collected with it.
 * `kyverno-runtime release <ns>/<pod>` (release.ts) undoes both.
 */
import { apiStatus } from '../k8s/errors.js';
import { DRY_RUN_ALL, spend, type ActionContext, type ActionHandler } from './context.js';
import { patchTarget } from './kube-patch.js';
import type { IsolateAction } from '../contracts/actions.js';

export const QUARANTINE_LABEL = 'runtime.kyverno.io/quarantine';
export const QUARANTINE_REASON_ANNOTATION = 'runtime.kyverno.io/quarantine-reason';
export const ISOLATION_POLICY_LABEL = 'runtime.kyverno.io/isolation';

export function isolationPolicyName(podName: string): string {
  return `kyverno-runtime-isolate-${podName}`.slice(0, 253).replace(/[-.]+$/, '');
}

export function isolationPolicy(ctx: Pick<ActionContext, 'target'>, label: string): Record<string, unknown> {
  const { target } = ctx;
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: {
      name: isolationPolicyName(target.name),
      namespace: target.namespace,
      labels: { 'app.kubernetes.io/managed-by': 'kyverno-runtime', [ISOLATION_POLICY_LABEL]: 'true' },
      ownerReferences: [{ apiVersion: 'v1', kind: 'Pod', name: target.name, uid: target.uid }],
    },
    spec: {
      podSelector: { matchLabels: { [label]: target.uid } },
      policyTypes: ['Ingress', 'Egress'],
    },
  };
}

export const isolate: ActionHandler<IsolateAction> = async (spec, ctx) => {
  const { target } = ctx;
  if (target.kind !== 'Pod' || target.namespace === undefined || target.uid === undefined) {
    return { outcome: 'skipped', detail: 'isolate needs a pod with a known UID' };
  }
  const label = spec.label ?? QUARANTINE_LABEL;
  // NetworkPolicy first: if the label went on first and the policy failed, the pod would be marked
  // quarantined while still connected.
  await spend(ctx);
  try {
    await ctx.clients.networking.createNamespacedNetworkPolicy({
      namespace: target.namespace,
      body: isolationPolicy(ctx, label),
      ...(ctx.dryRun ? { dryRun: DRY_RUN_ALL } : {}),
    });
  } catch (err) {
    if (apiStatus(err).code !== 409) throw err; // AlreadyExists: isolated before, keep it.
  }
  const reason = `${ctx.verdict.policy}/${ctx.verdict.rule}: ${ctx.verdict.message}`.slice(0, 1024);
  await patchTarget(
    ctx,
    {
      metadata: { labels: { [label]: target.uid }, annotations: { [QUARANTINE_REASON_ANNOTATION]: reason } },
    },
    'merge',
  );
  return {
    outcome: ctx.dryRun ? 'dry-run' : 'succeeded',
    detail: `NetworkPolicy ${isolationPolicyName(target.name)} denies all traffic`,
  };
};
