/**
 * The cluster agent's second source of pods: what this node's container runtime (CRI) said about
 * containers the API server had not listed when their first event came (a pod just started, the
 * informer not caught up; a static pod before its mirror pod carries container ids).
 *
 * The API server stays authoritative: a pod the pod cache knows is never looked up, and every
 * lookup asks the pod cache first; the runtime's pod answers only for a container the cache does
 * not know. Only the sensor's events (enriched through `clusterContainerEnrichment`) teach it pods,
 * and only pods whose identity the enrichment accepted (the runtime's sandbox record, agreeing with
 * the kernel's cgroup); other inputs cannot add any.
 */
import { LRUCache } from 'lru-cache';
import type { KubeObject, PodLookup } from '../engine/api/runtime.js';
import { normalizeContainerId } from '../events/container-id.js';
import type { RuntimeEvent } from '../events/types.js';
import { containerRuntimePodFallback } from '../observability/metrics.js';
import { CONTAINER_RUNTIME_DEFAULTS, type ContainerEnrichment } from '../sources/sensor/index.js';

/** Annotation on a pod the container runtime named (not listed by the API server when attributed). */
export const RUNTIME_POD_ANNOTATION = 'runtime.kyverno.io/attributed-by';

export interface RuntimePodFallbackOptions {
  /** Containers remembered; beyond it the least recently used are forgotten (counted as evicted). */
  maxEntries?: number;
  /** How long a learnt pod answers (the enricher's own cache lifetime by default). */
  ttlMs?: number;
}

/** A PodLookup: the pod cache first, then pods the container runtime named. */
export class RuntimePodFallback implements PodLookup {
  private readonly byContainer: LRUCache<string, { pod: KubeObject; container: string }>;

  constructor(
    private readonly cache: PodLookup,
    opts: RuntimePodFallbackOptions = {},
  ) {
    this.byContainer = new LRUCache({
      max: opts.maxEntries ?? CONTAINER_RUNTIME_DEFAULTS.cacheEntries,
      ttl: opts.ttlMs ?? CONTAINER_RUNTIME_DEFAULTS.cacheTtlMs,
      dispose: (_v, _k, reason) => {
        if (reason === 'evict') containerRuntimePodFallback.inc({ result: 'evicted' });
      },
    });
  }

  /** Pods learnt and still remembered (tests, stats). */
  get size(): number {
    return this.byContainer.size;
  }

  /** Whether the API server's view (the pod cache) already names the pod of this event. */
  knows(event: RuntimeEvent): boolean {
    const { pod, container } = event;
    if (pod?.uid && this.cache.byPodUid(pod.uid)) return true;
    if (pod?.namespace && pod.name && this.cache.byName(pod.namespace, pod.name)) return true;
    return container?.id !== undefined && this.cache.byContainerId(container.id) !== undefined;
  }

  /**
   * Remembers the pod an enriched sensor event names. Needs the runtime's whole identity (uid, name,
   * namespace): the enrichment sets name and namespace only when it accepted the runtime's pod.
   */
  learn(event: RuntimeEvent): void {
    const { pod, container } = event;
    const id = container?.id !== undefined ? normalizeContainerId(container.id) : undefined;
    if (id === undefined || !pod?.uid || !pod.name || !pod.namespace) return;
    if (this.byContainer.has(id)) return;
    const spec: { name: string; image?: string } = { name: container?.name ?? 'unknown' };
    if (container?.image !== undefined) spec.image = container.image;
    const metadata = {
      name: pod.name,
      namespace: pod.namespace,
      uid: pod.uid,
      labels: { ...pod.labels },
      annotations: { [RUNTIME_POD_ANNOTATION]: 'container-runtime' },
    };
    const object: KubeObject = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata,
      spec: { containers: [spec], ...(event.node !== undefined && { nodeName: event.node }) },
    };
    this.byContainer.set(id, { pod: object, container: spec.name });
    containerRuntimePodFallback.inc({ result: 'learnt' });
  }

  byContainerId(containerId: string): { pod: KubeObject; container: string } | undefined {
    const listed = this.cache.byContainerId(containerId);
    if (listed) return listed;
    const id = normalizeContainerId(containerId);
    const learnt = id === undefined ? undefined : this.byContainer.get(id);
    if (learnt) containerRuntimePodFallback.inc({ result: 'attributed' });
    return learnt;
  }

  // By uid and by name the API server alone answers: a static pod's mirror (another uid, same
  // name) is then found by the name the runtime supplied, before the runtime's own record.
  byPodUid(uid: string): KubeObject | undefined {
    return this.cache.byPodUid(uid);
  }

  byName(namespace: string, name: string): KubeObject | undefined {
    return this.cache.byName(namespace, name);
  }

  namespaceLabels(namespace: string): Record<string, string> | undefined {
    return this.cache.namespaceLabels(namespace);
  }

  node(name: string): KubeObject | undefined {
    return this.cache.node(name);
  }
}

/**
 * The sensor's container enrichment in the cluster agent: an event whose pod the API server lists
 * goes on untouched (no runtime lookup, no runtime labels over the API server's); any other is
 * enriched by the runtime, and the pod it then names is learnt as the fallback's.
 */
export function clusterContainerEnrichment(
  enricher: ContainerEnrichment,
  pods: RuntimePodFallback,
): ContainerEnrichment {
  return {
    process(event, emit) {
      if (pods.knows(event)) {
        emit(event);
        return;
      }
      enricher.process(event, (e) => {
        pods.learn(e);
        emit(e);
      });
    },
    close: () => enricher.close(),
  };
}
