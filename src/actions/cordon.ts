/** cordon: mark the node the pod runs on (or the Node the event is about) unschedulable. */
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { DRY_RUN_ALL, spend, type ActionHandler } from './context.js';
import type { CordonAction } from '../contracts/actions.js';

export const cordon: ActionHandler<CordonAction> = async (_spec, ctx) => {
  const { target } = ctx;
  const spec = target.object.spec as { nodeName?: string } | undefined;
  const node = target.kind === 'Node' ? target.name : (spec?.nodeName ?? ctx.verdict.event.node);
  if (node === undefined || node === '') return { outcome: 'skipped', detail: 'node unknown' };
  await spend(ctx);
  await ctx.clients.core.patchNode(
    { name: node, body: { spec: { unschedulable: true } }, ...(ctx.dryRun ? { dryRun: DRY_RUN_ALL } : {}) },
    setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
  );
  return { outcome: ctx.dryRun ? 'dry-run' : 'succeeded', detail: `node ${node} cordoned` };
};
