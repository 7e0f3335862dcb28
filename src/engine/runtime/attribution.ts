/**
 * Attribution (DESIGN.md "Attribution"): which Kubernetes object an event belongs to.
 * Order: the Pod named in the event, else the Pod whose container the event carries (from the
 * cluster's pod cache), else — without a cluster — a Pod synthesised from the event's own metadata,
 * else the Node the event happened on (so `kinds: [Node]` rules govern host processes).
 */
import type { RuntimeEvent } from '../../events/types.js';
import type { ResourceRef } from '../verdict.js';
import type { Attribution, KubeObject, PodLookup } from './index.js';

/** Annotation put on pods synthesised from event metadata, so reports say the pod was not looked up. */
export const SYNTHETIC_ANNOTATION = 'runtime.kyverno.io/synthetic';

/** Used when neither the event nor the options name the node. */
export const UNKNOWN_NODE = 'unknown-node';

export function attributeEvent(
  event: RuntimeEvent,
  lookup: PodLookup | undefined,
  nodeName?: string,
): Attribution {
  const fromCluster = lookup ? lookupPod(event, lookup) : undefined;
  if (fromCluster) return fromCluster;

  // With a cluster, an event whose pod is not in the cache is a host event: inventing a pod there
  // would produce reports about objects that do not exist. Without a cluster, synthesise it.
  if (!lookup && event.pod?.name) return synthesisePod(event);

  const node = event.node ?? nodeName ?? UNKNOWN_NODE;
  const nodeObject = lookup?.node(node) ?? synthesiseNode(node);
  return { resource: nodeObject, ref: refOf(nodeObject, 'Node', node), synthetic: !lookup?.node(node) };
}

function lookupPod(event: RuntimeEvent, lookup: PodLookup): Attribution | undefined {
  const { pod, container } = event;
  let found: KubeObject | undefined;
  if (pod?.uid) found = lookup.byPodUid(pod.uid);
  if (!found && pod?.namespace && pod.name) found = lookup.byName(pod.namespace, pod.name);
  if (found) {
    const name = container?.name ?? containerNameById(found, container?.id);
    return attributed(found, name, false);
  }
  if (container?.id) {
    const hit = lookup.byContainerId(container.id);
    if (hit) return attributed(hit.pod, hit.container, false);
  }
  return undefined;
}

function attributed(pod: KubeObject, container: string | undefined, synthetic: boolean): Attribution {
  const meta = pod.metadata ?? {};
  const attribution: Attribution = { resource: pod, ref: refOf(pod, 'Pod', meta.name ?? ''), synthetic };
  if (container !== undefined) attribution.container = container;
  return attribution;
}

function synthesisePod(event: RuntimeEvent): Attribution {
  const pod = event.pod ?? {};
  const container = event.container ?? {};
  const metadata: Record<string, unknown> = {
    name: pod.name,
    namespace: pod.namespace ?? 'default',
    labels: pod.labels ?? {},
    annotations: { [SYNTHETIC_ANNOTATION]: 'true' },
  };
  if (pod.uid) metadata.uid = pod.uid;
  const containerSpec: Record<string, unknown> = { name: container.name ?? 'unknown' };
  if (container.image) containerSpec.image = container.image;
  const resource: KubeObject = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: metadata,
    spec: { containers: [containerSpec], ...(event.node ? { nodeName: event.node } : {}) },
  };
  return attributed(resource, container.name ?? 'unknown', true);
}

function synthesiseNode(name: string): KubeObject {
  return { apiVersion: 'v1', kind: 'Node', metadata: { name, labels: {} } };
}

function refOf(object: KubeObject, kind: string, name: string): ResourceRef {
  const meta = object.metadata ?? {};
  const ref: ResourceRef = {
    apiVersion: object.apiVersion ?? 'v1',
    kind: object.kind ?? kind,
    name: meta.name ?? name,
  };
  if (meta.namespace) ref.namespace = meta.namespace;
  if (meta.uid) ref.uid = meta.uid;
  return ref;
}

/** Finds a container's name from its runtime ID in pod.status.containerStatuses. */
function containerNameById(pod: KubeObject, containerId: string | undefined): string | undefined {
  if (!containerId) return undefined;
  const status = pod.status as { containerStatuses?: { name?: string; containerID?: string }[] } | undefined;
  const statuses = [
    ...(status?.containerStatuses ?? []),
    ...((status as { initContainerStatuses?: { name?: string; containerID?: string }[] } | undefined)
      ?.initContainerStatuses ?? []),
  ];
  for (const s of statuses) {
    const id = stripRuntimePrefix(s.containerID ?? '');
    if (id && (id === containerId || id.startsWith(containerId) || containerId.startsWith(id))) return s.name;
  }
  return undefined;
}

/** "containerd://abc" → "abc" (also cri-o://, docker://). */
export function stripRuntimePrefix(containerId: string): string {
  const at = containerId.indexOf('://');
  return at >= 0 ? containerId.slice(at + 3) : containerId;
}
