/**
 * cordon: mark the node the pod runs on (or the Node the event is about) unschedulable. The node of a
 * pod is the pod's own `spec.nodeName` as the cluster has it (the pod cache, the pod's UID checked),
 * never the event's `node` field, which is whatever the event's sender wrote. A Node target is patched
 * under its UID as a precondition.
 */
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { apiStatus } from '../k8s/errors.js';
import { DRY_RUN_ALL, spend, type ActionContext, type ActionHandler, type HandlerResult } from './context.js';
import type { CordonAction } from '../contracts/actions.js';

/** The node to act on and its UID when known, or why there is none. */
export function targetNode(ctx: ActionContext): { node: string; uid?: string } | { problem: string } {
  const { target } = ctx;
  if (target.kind === 'Node')
    return { node: target.name, ...(target.uid !== undefined && { uid: target.uid }) };
  if (target.kind !== 'Pod') return { problem: `not a pod or node (${target.kind})` };
  if (target.uid === undefined || target.object.metadata?.uid !== target.uid)
    return {
      problem: 'pod not known to the cluster view (UID unknown or replaced): its node is not trusted',
    };
  const node = (target.object.spec as { nodeName?: string } | undefined)?.nodeName;
  return node === undefined || node === '' ? { problem: 'pod not scheduled on a node' } : { node };
}

/** Sets spec.unschedulable on the node (under its UID when known); a `skipped` result when it is gone. */
export async function cordonNode(
  ctx: ActionContext,
  node: { node: string; uid?: string },
): Promise<HandlerResult | undefined> {
  await spend(ctx);
  try {
    await ctx.clients.core.patchNode(
      {
        name: node.node,
        body: {
          ...(node.uid !== undefined && { metadata: { uid: node.uid } }),
          spec: { unschedulable: true },
        },
        ...(ctx.dryRun ? { dryRun: DRY_RUN_ALL } : {}),
      },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
  } catch (err) {
    const st = apiStatus(err);
    if (st.code === 404) return { outcome: 'skipped', detail: `node ${node.node} gone` };
    if (st.code === 409)
      return { outcome: 'skipped', detail: `node ${node.node} was replaced (UID precondition failed)` };
    throw err;
  }
  return undefined;
}

export const cordon: ActionHandler<CordonAction> = async (_spec, ctx) => {
  const node = targetNode(ctx);
  if ('problem' in node) return { outcome: 'skipped', detail: node.problem };
  const skipped = await cordonNode(ctx, node);
  if (skipped) return skipped;
  return { outcome: ctx.dryRun ? 'dry-run' : 'succeeded', detail: `node ${node.node} cordoned` };
};
