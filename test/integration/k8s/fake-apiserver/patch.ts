/**
 * The four patch content types. Merge patch is RFC 7386; strategic merge is the API server's
 * algorithm for the fields our code patches (objects merge, lists of named objects merge by `name`
 * or `containerPort`/`type`, `$patch: delete|replace` directives, `null` deletes); JSON patch is RFC
 * 6902 via fast-json-patch; apply (SSA) is treated as a strategic merge of the intent.
 */
import jsonpatch from 'fast-json-patch';

type Json = unknown;

function isObj(v: Json): v is Record<string, Json> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

export function mergePatch(target: Json, patch: Json): Json {
  if (!isObj(patch)) return structuredClone(patch);
  const out = new Map<string, Json>(isObj(target) ? Object.entries(target) : []);
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) out.delete(k);
    else out.set(k, mergePatch(out.get(k), v));
  }
  return Object.fromEntries(out);
}

const MERGE_KEYS = ['name', 'containerPort', 'mountPath', 'type', 'ip'];

function mergeKeyOf(list: Json[]): string | undefined {
  const first = list.find(isObj);
  if (!first) return undefined;
  return MERGE_KEYS.find((k) => k in first);
}

export function strategicMergePatch(target: Json, patch: Json): Json {
  if (!isObj(patch)) return structuredClone(patch);
  if (patch.$patch === 'replace') {
    const { $patch: _p, ...rest } = patch;
    return structuredClone(rest);
  }
  if (patch.$patch === 'delete') return undefined;
  const out = new Map<string, Json>(isObj(target) ? Object.entries(target) : []);
  for (const [k, v] of Object.entries(patch)) {
    if (k.startsWith('$')) continue;
    if (v === null) {
      out.delete(k);
      continue;
    }
    const cur = out.get(k);
    if (Array.isArray(v) && Array.isArray(cur)) {
      const key = mergeKeyOf(v) ?? mergeKeyOf(cur);
      if (key === undefined) {
        out.set(k, structuredClone(v));
        continue;
      }
      const merged: Json[] = cur.map((x: Json): Json => structuredClone(x));
      for (const item of v) {
        if (!isObj(item)) continue;
        const idx = merged.findIndex((m) => isObj(m) && m[key] === item[key]);
        if (item.$patch === 'delete') {
          if (idx >= 0) merged.splice(idx, 1);
        } else if (idx >= 0) merged[idx] = strategicMergePatch(merged[idx], item);
        else merged.push(strategicMergePatch(undefined, item));
      }
      out.set(k, merged);
    } else {
      const r = strategicMergePatch(cur, v);
      if (r === undefined) out.delete(k);
      else out.set(k, r);
    }
  }
  return Object.fromEntries(out);
}

export class PatchError extends Error {}

export function jsonPatch(target: Json, ops: Json): Json {
  if (!Array.isArray(ops)) throw new PatchError('json patch must be an array of operations');
  const err = jsonpatch.validate(ops as jsonpatch.Operation[], target);
  if (err) throw new PatchError(`${err.name}: ${err.message}`);
  try {
    return jsonpatch.applyPatch(structuredClone(target), ops as jsonpatch.Operation[], true, false)
      .newDocument;
  } catch (e) {
    throw new PatchError((e as Error).message);
  }
}
