/**
 * patch: "modify the manifest" of the pod (or Node): strategic-merge (default), merge, or JSON6902,
 * with {{ }} variables over request.object and event rendered first.
 */
import type { ActionHandler } from './context.js';
import { patchTarget } from './kube-patch.js';
import { render } from './render.js';
import type { PatchAction } from '../contracts/actions.js';

export const patch: ActionHandler<PatchAction> = async (spec, ctx) => {
  const type = spec.type ?? 'strategic-merge';
  const body = render(spec.patch, ctx.variables);
  if (
    type === 'json6902'
      ? !Array.isArray(body)
      : body === null || typeof body !== 'object' || Array.isArray(body)
  ) {
    return {
      outcome: 'failed',
      detail:
        type === 'json6902'
          ? 'json6902 patch must be a list of operations'
          : `${type} patch must be an object`,
    };
  }
  if (type === 'strategic-merge' && ctx.target.kind !== 'Pod' && ctx.target.kind !== 'Node') {
    return { outcome: 'failed', detail: 'strategic merge is only supported on built-in kinds' };
  }
  const skipped = await patchTarget(ctx, body, type);
  if (skipped) return skipped;
  return { outcome: ctx.dryRun ? 'dry-run' : 'succeeded', detail: `${type} patch applied` };
};
