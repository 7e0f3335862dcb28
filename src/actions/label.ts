/**
 * label: add or overwrite labels on the pod (or Node) with a merge patch; values may use {{ }}.
 * `remove: [key]` removes labels (a null in the merge patch, as `kubectl label key-`).
 */
import type { ActionHandler } from './context.js';
import { invalidLabel, patchTarget } from './kube-patch.js';
import { renderStrings } from './render.js';
import type { LabelAction } from '../contracts/actions.js';

export const label: ActionHandler<LabelAction> = async (spec, ctx) => {
  const labels: Record<string, string | null> = renderStrings(spec.labels ?? {}, ctx.variables);
  for (const [k, v] of Object.entries(labels)) {
    const problem = invalidLabel(k, v as string);
    if (problem !== undefined) return { outcome: 'failed', detail: problem };
  }
  for (const k of spec.remove ?? []) {
    const problem = invalidLabel(k, '');
    if (problem !== undefined) return { outcome: 'failed', detail: problem };
    if (!Object.hasOwn(labels, k)) labels[k] = null;
  }
  if (Object.keys(labels).length === 0) return { outcome: 'failed', detail: 'no labels to set or remove' };
  const skipped = await patchTarget(ctx, { metadata: { labels } }, 'merge');
  if (skipped) return skipped;
  return {
    outcome: ctx.dryRun ? 'dry-run' : 'succeeded',
    detail: Object.entries(labels)
      .map(([k, v]) => (v === null ? `${k}-` : `${k}=${v}`))
      .join(','),
  };
};
