/**
 * Patch helpers shared by label/annotate/patch/isolate/cordon. client-node's generated patch calls
 * default to JSON Patch, so the Content-Type of a merge or strategic-merge patch must be set explicitly.
 */
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import type { ActionContext } from './context.js';
import { DRY_RUN_ALL, spend } from './context.js';

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

/** Patches the target (a Pod or a Node). */
export async function patchTarget(ctx: ActionContext, body: unknown, type: PatchType): Promise<void> {
  await spend(ctx);
  const headers = setHeaderOptions('Content-Type', contentTypeOf(type));
  const common = { body, fieldManager: FIELD_MANAGER, ...(ctx.dryRun ? { dryRun: DRY_RUN_ALL } : {}) };
  if (ctx.target.kind === 'Node') {
    await ctx.clients.core.patchNode({ name: ctx.target.name, ...common }, headers);
    return;
  }
  if (ctx.target.kind !== 'Pod' || ctx.target.namespace === undefined) {
    throw new Error(`cannot patch a ${ctx.target.kind}`);
  }
  await ctx.clients.core.patchNamespacedPod(
    { name: ctx.target.name, namespace: ctx.target.namespace, ...common },
    headers,
  );
}

/**
 * A label value must be ≤ 63 characters of [A-Za-z0-9-_.], starting and ending alphanumeric; an
 * invalid value would be rejected by the API server anyway, so refuse it before spending budget.
 */
export function invalidLabel(key: string, value: string): string | undefined {
  if (!/^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/.test(value) || value.length > 63)
    return `invalid label value ${JSON.stringify(value)} for ${key}`;
  if (
    !/^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/.test(
      key,
    )
  )
    return `invalid label key ${JSON.stringify(key)}`;
  return undefined;
}
