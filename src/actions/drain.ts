/**
 * drain: cordon the node (as cordon.ts finds it), then evict its pods through the Eviction API, as
 * `kubectl drain` and Falco Talon's drain actionner do: PodDisruptionBudgets are respected (an
 * eviction they refuse is tried again until `maxWaitSeconds`), DaemonSet pods (they would come back on
 * the same node) and mirror pods (the kubelet's static pods) are never evicted, `skipOwnerKinds` and
 * `minHealthyReplicas` leave more alone. Every eviction carries the pod's UID as a precondition and
 * spends one unit of the API budget. The pods are those the API server lists on the node now
 * (`spec.nodeName` field selector), at most MAX_PODS.
 */
import type { KubeObject } from '../engine/runtime/index.js';
import { apiStatus } from '../k8s/errors.js';
import { cordonNode, targetNode } from './cordon.js';
import { spend, type ActionHandler } from './context.js';
import { evictPod } from './delete-pod.js';
import { isMirrorPod, ownerKindOf, ownerProblem } from './pod-owner.js';
import type { DrainAction } from '../contracts/actions.js';

/** Most pods one drain considers (a node runs at most 110 by default). */
export const MAX_PODS = 1000;
const DEFAULT_MAX_WAIT_S = 60;
/** Pause between rounds of evictions a PodDisruptionBudget refused. */
const ROUND_PAUSE_MS = 1000;
/** Names listed in the detail; the rest are counted. */
const MAX_NAMED = 10;

function names(list: readonly string[]): string {
  const shown = list.slice(0, MAX_NAMED).join(', ');
  return list.length > MAX_NAMED ? `${shown} and ${list.length - MAX_NAMED} more` : shown;
}

export const drain: ActionHandler<DrainAction> = async (spec, ctx) => {
  const node = targetNode(ctx);
  if ('problem' in node) return { outcome: 'skipped', detail: node.problem };
  const deadline = Date.now() + (spec.maxWaitSeconds ?? DEFAULT_MAX_WAIT_S) * 1000;
  const cordoned = await cordonNode(ctx, node);
  if (cordoned) return cordoned;
  await spend(ctx);
  const list = await ctx.clients.core.listPodForAllNamespaces({
    fieldSelector: `spec.nodeName=${node.node}`,
    limit: MAX_PODS,
  });
  const left: string[] = [];
  let pending: KubeObject[] = [];
  for (const item of list.items) {
    const pod = item as unknown as KubeObject;
    const id = `${pod.metadata?.namespace ?? ''}/${pod.metadata?.name ?? ''}`;
    const phase = (pod.status as { phase?: string } | undefined)?.phase;
    if (phase === 'Succeeded' || phase === 'Failed') continue;
    if (ownerKindOf(pod) === 'DaemonSet' || isMirrorPod(pod)) continue;
    const problem = await ownerProblem(ctx.clients, pod, spec);
    if (problem !== undefined) {
      left.push(`${id} (${problem})`);
      continue;
    }
    pending.push(pod);
  }
  let evicted = 0;
  const blocked = new Map<string, string>();
  while (pending.length > 0) {
    const again: KubeObject[] = [];
    for (const pod of pending) {
      const name = pod.metadata?.name ?? '';
      const namespace = pod.metadata?.namespace ?? '';
      const uid = pod.metadata?.uid ?? '';
      try {
        const skipped = await evictPod(ctx, { name, namespace, uid }, spec.gracePeriodSeconds);
        if (!skipped) evicted++;
        blocked.delete(`${namespace}/${name}`);
      } catch (err) {
        const st = apiStatus(err);
        // 429: a PodDisruptionBudget (or throttling) says not now; anything else: this pod failed.
        if (st.code === 429 || st.code >= 500 || st.code === 0) {
          again.push(pod);
          blocked.set(
            `${namespace}/${name}`,
            st.code === 429 ? 'PodDisruptionBudget' : `${st.code} ${st.reason}`,
          );
        } else left.push(`${namespace}/${name} (${st.code} ${st.reason})`);
      }
    }
    if (again.length === 0 || Date.now() + ROUND_PAUSE_MS > deadline) break;
    pending = again;
    await new Promise((r) => setTimeout(r, ROUND_PAUSE_MS));
  }
  for (const [id, why] of blocked) left.push(`${id} (${why})`);
  const summary = `node ${node.node} cordoned, ${evicted} pod(s) evicted`;
  if (blocked.size > 0)
    return { outcome: 'failed', detail: `${summary}; not evicted within maxWaitSeconds: ${names(left)}` };
  return {
    outcome: ctx.dryRun ? 'dry-run' : 'succeeded',
    detail: left.length > 0 ? `${summary}; left alone: ${names(left)}` : summary,
  };
};
