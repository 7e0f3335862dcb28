/**
 * deletePod: one DELETE with a UID precondition, so a pod recreated under the same name (a
 * StatefulSet replica, a re-applied manifest) is never hit by an action meant for its predecessor.
 */
import type { V1DeleteOptions } from '@kubernetes/client-node';
import { apiStatus } from '../k8s/errors.js';
import { model } from '../k8s/model.js';
import { DRY_RUN_ALL, spend, type ActionHandler } from './context.js';
import type { DeletePodAction } from '../contracts/actions.js';

export const deletePod: ActionHandler<DeletePodAction> = async (spec, ctx) => {
  const { target } = ctx;
  if (target.kind !== 'Pod' || target.namespace === undefined)
    return { outcome: 'skipped', detail: `not a pod (${target.kind})` };
  if (target.uid === undefined)
    return { outcome: 'skipped', detail: 'pod UID unknown: refusing a delete without a UID precondition' };
  await spend(ctx);
  try {
    await ctx.clients.core.deleteNamespacedPod({
      name: target.name,
      namespace: target.namespace,
      ...(spec.gracePeriodSeconds !== undefined ? { gracePeriodSeconds: spec.gracePeriodSeconds } : {}),
      ...(ctx.dryRun ? { dryRun: DRY_RUN_ALL } : {}),
      body: model<V1DeleteOptions>({ preconditions: { uid: target.uid } }),
    });
  } catch (err) {
    const st = apiStatus(err);
    if (st.code === 404) return { outcome: 'skipped', detail: 'pod already gone' };
    if (st.code === 409) return { outcome: 'skipped', detail: 'pod was replaced (UID precondition failed)' };
    throw err;
  }
  return {
    outcome: ctx.dryRun ? 'dry-run' : 'succeeded',
    detail: `deleted ${target.namespace}/${target.name}${spec.gracePeriodSeconds !== undefined ? ` (grace ${spec.gracePeriodSeconds}s)` : ''}`,
  };
};
