/** annotate: add or overwrite annotations on the pod (or Node) with a merge patch; values may use {{ }}. */
import type { ActionHandler } from './context.js';
import { patchTarget } from './kube-patch.js';
import { renderStrings } from './render.js';
import type { AnnotateAction } from '../contracts/actions.js';

/** Annotation values are not length-limited individually, but all of an object's together are (256 KiB). */
const MAX_VALUE = 4096;

export const annotate: ActionHandler<AnnotateAction> = async (spec, ctx) => {
  const annotations = renderStrings(spec.annotations, ctx.variables);
  for (const [k, v] of Object.entries(annotations))
    if (v.length > MAX_VALUE) annotations[k] = `${v.slice(0, MAX_VALUE - 1)}…`;
  await patchTarget(ctx, { metadata: { annotations } }, 'merge');
  return { outcome: ctx.dryRun ? 'dry-run' : 'succeeded', detail: Object.keys(annotations).join(',') };
};
