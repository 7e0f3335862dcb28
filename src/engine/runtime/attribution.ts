/**
 * Attribution: which Kubernetes object an event belongs to.
 * Order: the Pod named in the event, else the Pod whose container the event carries (from the
 * cluster's pod cache), else — without a cluster — a Pod synthesised from the event's own metadata,
 * else the Node the event happened on (so `kinds: [Node]` rules govern host processes).
 */
import type { RuntimeEvent } from '../../events/types.js';
import { resourceFacts, type ResourceFacts } from '../match/index.js';
import type { ResourceRef } from '../../contracts/verdict.js';
import type { Attribution, KubeObject, PodLookup } from '../api/runtime.js';

/** Annotation put on pods synthesised from event metadata, so reports say the pod was not looked up. */
export const SYNTHETIC_ANNOTATION = 'runtime.kyverno.io/synthetic';

/** Used when neither the event nor the options name the node. */
export const UNKNOWN_NODE = 'unknown-node';

/**
 * The namespace of the Pod an event is attributed to when that Pod is synthesised (no cluster, a pod
 * named in the event), or undefined when attribution goes another way. Known before anything is built.
 */
export function synthesisedPodNamespace(
  event: RuntimeEvent,
  lookup: PodLookup | undefined,
): string | undefined {
  return !lookup && (event.pod?.name || event.pod?.uid) ? podNamespaceOf(event) : undefined;
}

/**
 * A synthesised pod's name: the event's, else its uid (a container the sensor found in a kubepods
 * cgroup, with no cluster and no runtime to name it: still a Pod, so `kinds: [Pod]` rules apply).
 */
function podNameOf(event: RuntimeEvent): string {
  return event.pod?.name || event.pod?.uid || '';
}

/** A synthesised pod's namespace: the event's, else "default" (as the API server would place it). */
function podNamespaceOf(event: RuntimeEvent): string {
  return event.pod?.namespace ?? 'default';
}

export function attributeEvent(
  event: RuntimeEvent,
  lookup: PodLookup | undefined,
  nodeName?: string,
): Attribution {
  const fromCluster = lookup ? lookupPod(event, lookup) : undefined;
  if (fromCluster) return fromCluster;

  // With a cluster, an event whose pod is not in the cache is a host event: inventing a pod there
  // would produce reports about objects that do not exist. Without a cluster, synthesise it.
  if (synthesisedPodNamespace(event, lookup) !== undefined) return new SyntheticPodAttribution(event);

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

/**
 * A pod synthesised from the event's own metadata (no cluster). Most events of a cluster-less run
 * meet no rule that reads the pod — match reads only the facts below, and a pattern on `event` alone
 * never looks at it — so the pod object is built on first read of `resource`, not per event.
 */
class SyntheticPodAttribution implements Attribution {
  readonly synthetic = true;
  readonly container: string;
  readonly namespace: string;
  readonly ref: ResourceRef;
  private pod: KubeObject | undefined;

  constructor(private readonly event: RuntimeEvent) {
    this.container = event.container?.name ?? 'unknown';
    const pod = event.pod;
    // Same fields and key order as refOf() on the built pod.
    const ref: ResourceRef = { apiVersion: 'v1', kind: 'Pod', name: podNameOf(event) };
    this.namespace = podNamespaceOf(event);
    // An empty namespace is no namespace, as in refOf().
    if (this.namespace) ref.namespace = this.namespace;
    if (pod?.uid) ref.uid = pod.uid;
    this.ref = ref;
  }

  get resource(): KubeObject {
    return (this.pod ??= synthesisePod(this.event, this.container, this.namespace));
  }

  /** What match reads of the pod, without building it (the same values as resourceFacts of it). */
  facts(): ResourceFacts | undefined {
    const pod = this.event.pod;
    const labels = pod?.labels ?? EMPTY_LABELS;
    // Labels come from the event; a non-string value takes the general path, which stringifies it.
    const name = podNameOf(this.event);
    if (!name || !allStringValues(labels)) return undefined;
    return {
      group: '',
      version: 'v1',
      kind: 'Pod',
      name,
      namespace: this.namespace,
      labels,
      annotations: SYNTHETIC_ANNOTATIONS,
    };
  }
}

const EMPTY_LABELS: Readonly<Record<string, string>> = Object.freeze({});
const SYNTHETIC_ANNOTATIONS: Readonly<Record<string, string>> = Object.freeze({
  [SYNTHETIC_ANNOTATION]: 'true',
});

function synthesisePod(event: RuntimeEvent, containerName: string, namespace: string): KubeObject {
  const pod = event.pod ?? {};
  const container = event.container ?? {};
  // Plain literals with constant keys: a computed key or a conditional spread here would give each
  // pod a slow dictionary-mode shape.
  const metadata: SyntheticMetadata = {
    name: podNameOf(event),
    namespace,
    labels: pod.labels ?? {},
    annotations: { 'runtime.kyverno.io/synthetic': 'true' },
  };
  if (pod.uid) metadata.uid = pod.uid;
  const containerSpec: { name: string; image?: string } = { name: containerName };
  if (container.image) containerSpec.image = container.image;
  const spec: { containers: (typeof containerSpec)[]; nodeName?: string } = { containers: [containerSpec] };
  if (event.node) spec.nodeName = event.node;
  return { apiVersion: 'v1', kind: 'Pod', metadata, spec };
}

interface SyntheticMetadata {
  name: string | undefined;
  namespace: string;
  labels: Record<string, string>;
  annotations: Record<typeof SYNTHETIC_ANNOTATION, string>;
  uid?: string;
}

/**
 * What match/exclude read of the attributed resource. A synthesised pod has a known shape, so its
 * facts are read from the event directly instead of re-validated field by field on every event; the
 * result is the same as resourceFacts (test/unit/engine/runtime-rule-index.test.ts checks it).
 */
export function attributionFacts(attribution: Attribution): ResourceFacts {
  if (attribution instanceof SyntheticPodAttribution) {
    const facts = attribution.facts();
    if (facts) return facts;
  }
  return resourceFacts(attribution.resource);
}

function allStringValues(map: unknown): map is Readonly<Record<string, string>> {
  if (typeof map !== 'object' || map === null || Array.isArray(map)) return false;
  for (const key in map) if (typeof (map as Record<string, unknown>)[key] !== 'string') return false;
  return true;
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
