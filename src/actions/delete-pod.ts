/**
 * deletePod: one DELETE (or, with `mode: evict`, one policy/v1 Eviction) with a UID precondition, so a
 * pod recreated under the same name (a StatefulSet replica, a re-applied manifest) is never hit by an
 * action meant for its predecessor. Before it: the owner rules (pod-owner.ts) — skip pods of the kinds
 * in `skipOwnerKinds`, and keep `minHealthyReplicas` ready replicas of the owner. An eviction refused
 * by a PodDisruptionBudget (429) is retried by the executor within its bound, then `failed` (the next
 * event tries again). `gracePeriodSeconds: 0` is a force delete: the object goes at once and the
 * kubelet kills the containers after, so the pod's name may be reused while they still run.
 */
import type { V1DeleteOptions, V1Eviction } from '@kubernetes/client-node';
import { apiStatus } from '../k8s/errors.js';
import { model } from '../k8s/model.js';
import { DRY_RUN_ALL, spend, type ActionContext, type ActionHandler, type HandlerResult } from './context.js';
import { ownerProblem } from './pod-owner.js';
import type { DeletePodAction } from '../contracts/actions.js';

/** Evicts one pod under a UID precondition; 404/409 are `skipped`, anything else is thrown. */
export async function evictPod(
  ctx: Pick<ActionContext, 'clients' | 'dryRun' | 'budget'>,
  pod: { name: string; namespace: string; uid: string },
  gracePeriodSeconds?: number,
): Promise<HandlerResult | undefined> {
  await spend(ctx as ActionContext);
  const deleteOptions = {
    preconditions: { uid: pod.uid },
    ...(gracePeriodSeconds !== undefined && { gracePeriodSeconds }),
    ...(ctx.dryRun && { dryRun: [DRY_RUN_ALL] }),
  };
  try {
    await ctx.clients.core.createNamespacedPodEviction({
      name: pod.name,
      namespace: pod.namespace,
      body: model<V1Eviction>({
        apiVersion: 'policy/v1',
        kind: 'Eviction',
        metadata: { name: pod.name, namespace: pod.namespace },
        deleteOptions,
      }),
      ...(ctx.dryRun ? { dryRun: DRY_RUN_ALL } : {}),
    });
  } catch (err) {
    const st = apiStatus(err);
    if (st.code === 404) return { outcome: 'skipped', detail: 'pod already gone' };
    if (st.code === 409) return { outcome: 'skipped', detail: 'pod was replaced (UID precondition failed)' };
    throw err;
  }
  return undefined;
}

export const deletePod: ActionHandler<DeletePodAction> = async (spec, ctx) => {
  const { target } = ctx;
  if (target.kind !== 'Pod' || target.namespace === undefined)
    return { outcome: 'skipped', detail: `not a pod (${target.kind})` };
  if (target.uid === undefined)
    return { outcome: 'skipped', detail: 'pod UID unknown: refusing a delete without a UID precondition' };
  const problem = await ownerProblem(ctx.clients, target.object, spec);
  if (problem !== undefined) return { outcome: 'skipped', detail: problem };
  const grace = spec.gracePeriodSeconds !== undefined ? ` (grace ${spec.gracePeriodSeconds}s)` : '';
  if (spec.mode === 'evict') {
    const skipped = await evictPod(
      ctx,
      { name: target.name, namespace: target.namespace, uid: target.uid },
      spec.gracePeriodSeconds,
    );
    if (skipped) return skipped;
    return {
      outcome: ctx.dryRun ? 'dry-run' : 'succeeded',
      detail: `evicted ${target.namespace}/${target.name}${grace}`,
    };
  }
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
    detail: `${spec.gracePeriodSeconds === 0 ? 'force-deleted' : 'deleted'} ${target.namespace}/${target.name}${grace}`,
  };
};
