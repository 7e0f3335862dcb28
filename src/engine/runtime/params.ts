/**
 * Parameter objects for paramKind/paramRef from a fixed list (local mode: the non-policy documents
 * of the policy files, and the resources given to apply or a runtime test), indexed once by
 * apiVersion and kind.
 */
import type { KubeObject, ParamLookup } from '../api/runtime.js';

export function staticParamLookup(objects: readonly Record<string, unknown>[]): ParamLookup {
  const byKind = new Map<string, KubeObject[]>();
  for (const o of objects) {
    if (typeof o.apiVersion !== 'string' || typeof o.kind !== 'string') continue;
    const key = `${o.apiVersion}\u0000${o.kind}`;
    const list = byKind.get(key);
    if (list) list.push(o);
    else byKind.set(key, [o]);
  }
  return {
    find({ apiVersion, kind, namespace, name }) {
      const list = byKind.get(`${apiVersion}\u0000${kind}`);
      if (!list) return [];
      return list.filter((o) => {
        const md = o.metadata ?? {};
        if (name !== undefined && md.name !== name) return false;
        // A cluster-scoped object (no namespace) is found from any namespace.
        return namespace === undefined || md.namespace === undefined || md.namespace === namespace;
      });
    },
  };
}
