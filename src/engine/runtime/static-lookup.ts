/**
 * A PodLookup over a fixed set of objects (pods, namespaces, nodes) — what `apply -r pods.yaml` and
 * runtime test files use in place of the cluster's pod cache.
 */
import { stripRuntimePrefix } from './attribution.js';
import type { KubeObject, PodLookup } from '../api/runtime.js';

interface ContainerStatus {
  name?: string;
  containerID?: string;
}

export function staticPodLookup(objects: readonly KubeObject[]): PodLookup {
  const byUid = new Map<string, KubeObject>();
  const byName = new Map<string, KubeObject>();
  const byContainer = new Map<string, { pod: KubeObject; container: string }>();
  const namespaces = new Map<string, Record<string, string>>();
  const nodes = new Map<string, KubeObject>();

  for (const object of objects) {
    const meta = object.metadata ?? {};
    if (object.kind === 'Namespace' && meta.name) namespaces.set(meta.name, meta.labels ?? {});
    if (object.kind === 'Node' && meta.name) nodes.set(meta.name, object);
    if (object.kind !== 'Pod') continue;
    if (meta.uid) byUid.set(meta.uid, object);
    if (meta.name) byName.set(`${meta.namespace ?? 'default'}/${meta.name}`, object);
    const status = object.status as
      { containerStatuses?: ContainerStatus[]; initContainerStatuses?: ContainerStatus[] } | undefined;
    for (const s of [...(status?.containerStatuses ?? []), ...(status?.initContainerStatuses ?? [])]) {
      if (s.containerID && s.name)
        byContainer.set(stripRuntimePrefix(s.containerID), { pod: object, container: s.name });
    }
  }

  return {
    byPodUid: (uid) => byUid.get(uid),
    byName: (namespace, name) => byName.get(`${namespace}/${name}`),
    byContainerId(id) {
      const exact = byContainer.get(id);
      if (exact) return exact;
      // Tools often print the 12- or 15-character short ID.
      for (const [full, hit] of byContainer) if (full.startsWith(id) || id.startsWith(full)) return hit;
      return undefined;
    },
    namespaceLabels: (namespace) => namespaces.get(namespace),
    node: (name) => nodes.get(name),
  };
}
