/** label: add or overwrite labels on the pod (or Node) with a merge patch; values may use {{ }}. */
import type { ActionHandler } from './context.js';
import { invalidLabel, patchTarget } from './kube-patch.js';
import { renderStrings } from './render.js';
import type { LabelAction } from '../contracts/actions.js';

export const label: ActionHandler<LabelAction> = async (spec, ctx) => {
  const labels = renderStrings(spec.labels, ctx.variables);
  for (const [k, v] of Object.entries(labels)) {
    const problem = invalidLabel(k, v);
    if (problem !== undefined) return { outcome: 'failed', detail: problem };
  }
  await patchTarget(ctx, { metadata: { labels } }, 'merge');
  return {
    outcome: ctx.dryRun ? 'dry-run' : 'succeeded',
    detail: Object.entries(labels)
      .map(([k, v]) => `${k}=${v}`)
      .join(','),
  };
};
