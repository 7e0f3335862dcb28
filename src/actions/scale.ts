/**
 * scale: set the replicas of the pod's owning workload (Deployment — through its ReplicaSet —,
 * StatefulSet or ReplicaSet) through the scale subresource, e.g. to 0 to stop a compromised app.
 */
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { DRY_RUN_ALL, spend, type ActionHandler } from './context.js';
import type { ScaleAction } from '../contracts/actions.js';

export const scale: ActionHandler<ScaleAction> = async (spec, ctx) => {
  const { target } = ctx;
  if (target.kind !== 'Pod') return { outcome: 'skipped', detail: `not a pod (${target.kind})` };
  if (!Number.isInteger(spec.replicas) || spec.replicas < 0)
    return { outcome: 'failed', detail: `replicas must be a non-negative integer, got ${spec.replicas}` };
  const owner = await ctx.workloadOf(target.object);
  if (!owner) return { outcome: 'skipped', detail: 'pod has no owning workload' };
  const request = {
    name: owner.name,
    namespace: owner.namespace,
    body: { spec: { replicas: spec.replicas } },
    ...(ctx.dryRun ? { dryRun: DRY_RUN_ALL } : {}),
  };
  const headers = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
  await spend(ctx);
  switch (owner.kind) {
    case 'Deployment':
      await ctx.clients.apps.patchNamespacedDeploymentScale(request, headers);
      break;
    case 'StatefulSet':
      await ctx.clients.apps.patchNamespacedStatefulSetScale(request, headers);
      break;
    case 'ReplicaSet':
      await ctx.clients.apps.patchNamespacedReplicaSetScale(request, headers);
      break;
    default:
      return { outcome: 'skipped', detail: `owner ${owner.kind}/${owner.name} cannot be scaled` };
  }
  return {
    outcome: ctx.dryRun ? 'dry-run' : 'succeeded',
    detail: `${owner.kind} ${owner.namespace}/${owner.name} scaled to ${spec.replicas}`,
  };
};
