/**
 * annotate: add or overwrite annotations on the pod (or Node) with a merge patch; values may use {{ }}.
 * `remove: [key]` removes annotations (a null in the merge patch).
 */
import type { ActionHandler } from './context.js';
import { patchTarget } from './kube-patch.js';
import { renderStrings } from './render.js';
import type { AnnotateAction } from '../contracts/actions.js';

/** Annotation values are not length-limited individually, but all of an object's together are (256 KiB). */
const MAX_VALUE = 4096;

export const annotate: ActionHandler<AnnotateAction> = async (spec, ctx) => {
  const annotations: Record<string, string | null> = renderStrings(spec.annotations ?? {}, ctx.variables);
  for (const [k, v] of Object.entries(annotations))
    if (v !== null && v.length > MAX_VALUE) annotations[k] = `${v.slice(0, MAX_VALUE - 1)}…`;
  for (const k of spec.remove ?? []) if (!Object.hasOwn(annotations, k)) annotations[k] = null;
  if (Object.keys(annotations).length === 0)
    return { outcome: 'failed', detail: 'no annotations to set or remove' };
  const skipped = await patchTarget(ctx, { metadata: { annotations } }, 'merge');
  if (skipped) return skipped;
  return {
    outcome: ctx.dryRun ? 'dry-run' : 'succeeded',
    detail: Object.entries(annotations)
      .map(([k, v]) => (v === null ? `${k}-` : k))
      .join(','),
  };
};
