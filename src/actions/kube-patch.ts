/**
 * Patch helpers shared by label/annotate/patch/isolate/cordon. client-node's generated patch calls
 * default to JSON Patch, so the Content-Type of a merge or strategic-merge patch must be set explicitly.
 */
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { apiStatus } from '../k8s/errors.js';
import type { ActionContext, HandlerResult } from './context.js';
import { DRY_RUN_ALL, spend } from './context.js';
import { isLabelKey, isLabelValue } from '../util/kubernetes-names.js';

export const FIELD_MANAGER = 'kyverno-runtime';

export type PatchType = 'strategic-merge' | 'merge' | 'json6902';

export function contentTypeOf(type: PatchType): string {
  switch (type) {
    case 'strategic-merge':
      return PatchStrategy.StrategicMergePatch;
    case 'merge':
      return PatchStrategy.MergePatch;
    case 'json6902':
      return PatchStrategy.JsonPatch;
  }
}

/**
 * The patch with the target's UID as a precondition, as deletePod's DELETE carries one: a merge patch
 * names `metadata.uid` (the API server answers 409 when the stored object has another UID), a JSON
 * patch starts with a `test` of `/metadata/uid` (422 when it differs). So a pod recreated under the
 * same name is never patched by an action meant for its predecessor.
 */
export function withUidPrecondition(body: unknown, type: PatchType, uid: string): unknown {
  if (type === 'json6902') return [{ op: 'test', path: '/metadata/uid', value: uid }, ...(body as unknown[])];
  const b = body as Record<string, unknown>;
  const meta = b.metadata !== null && typeof b.metadata === 'object' ? b.metadata : {};
  return { ...b, metadata: { ...meta, uid } };
}

/**
 * Patches the target (a Pod or a Node) under a UID precondition. Undefined when patched; a `skipped`
 * result when the target is gone or was replaced, or its UID is unknown (a pod is never patched
 * without one).
 */
export async function patchTarget(
  ctx: ActionContext,
  body: unknown,
  type: PatchType,
): Promise<HandlerResult | undefined> {
  const { target } = ctx;
  if (target.kind !== 'Node' && (target.kind !== 'Pod' || target.namespace === undefined)) {
    throw new Error(`cannot patch a ${target.kind}`);
  }
  if (target.kind === 'Pod' && target.uid === undefined)
    return { outcome: 'skipped', detail: 'pod UID unknown: refusing a patch without a UID precondition' };
  const guarded = target.uid !== undefined ? withUidPrecondition(body, type, target.uid) : body;
  await spend(ctx);
  const headers = setHeaderOptions('Content-Type', contentTypeOf(type));
  const common = {
    body: guarded,
    fieldManager: FIELD_MANAGER,
    ...(ctx.dryRun ? { dryRun: DRY_RUN_ALL } : {}),
  };
  try {
    if (target.kind === 'Node') await ctx.clients.core.patchNode({ name: target.name, ...common }, headers);
    else
      await ctx.clients.core.patchNamespacedPod(
        { name: target.name, namespace: target.namespace!, ...common },
        headers,
      );
  } catch (err) {
    const st = apiStatus(err);
    if (st.code === 404) return { outcome: 'skipped', detail: `${target.kind.toLowerCase()} already gone` };
    if (st.code === 409 || (st.code === 422 && type === 'json6902' && /test/i.test(st.message)))
      return {
        outcome: 'skipped',
        detail: `${target.kind.toLowerCase()} was replaced (UID precondition failed)`,
      };
    throw err;
  }
  return undefined;
}

/**
 * A label value must be ≤ 63 characters of [A-Za-z0-9-_.], starting and ending alphanumeric; an
 * invalid value would be rejected by the API server anyway, so refuse it before spending budget.
 */
export function invalidLabel(key: string, value: string): string | undefined {
  if (!isLabelValue(value)) return `invalid label value ${JSON.stringify(value)} for ${key}`;
  if (!isLabelKey(key)) return `invalid label key ${JSON.stringify(key)}`;
  return undefined;
}
