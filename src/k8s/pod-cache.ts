/**
 * The cluster view attribution needs, kept in memory by reflectors: pods (only this node's in
 * DaemonSet mode, via the field selector spec.nodeName=<node>), namespaces (labels for
 * namespaceSelector) and nodes. Implements the engine's PodLookup: container ID → pod + container
 * name (full and 12-character short IDs, any runtime prefix), pod UID → pod. Workload owners
 * (ReplicaSet → Deployment) are resolved on demand with a GET and cached, since only actions need
 * them and watching every ReplicaSet in the cluster from every node would cost more.
 */
import {
  AppsV1Api,
  CoreV1Api,
  type KubeConfig,
  type V1Namespace,
  type V1Node,
  type V1Pod,
} from '@kubernetes/client-node';
import { growingLru } from '../util/growing-lru.js';
import { apiClient } from './api-clients.js';
import type { KubeObject, PodLookup } from '../engine/runtime/index.js';
import type { Logger } from '../observability/logger.js';
import { normalizeContainerId, SHORT_ID_LENGTH } from '../events/container-id.js';
import { isNotFound } from './errors.js';
import { Reflector, reflectorSettings } from './reflector.js';
import { poolPodStrings, StringPool } from './string-pool.js';

export interface PodCacheOptions {
  kubeConfig: KubeConfig;
  /** DaemonSet mode: watch only the pods scheduled on this node (and only this Node object). */
  nodeName?: string;
  /** Watch Node objects (for kind: Node attribution and cordon). Default true. */
  watchNodes?: boolean;
  relistIntervalMs?: number;
  stallTimeoutMs?: number;
  backoffInitialMs?: number;
  logger?: Logger;
}

/** The workload that owns a pod, as far up as Deployment. */
export interface WorkloadRef {
  apiVersion: string;
  kind: string;
  name: string;
  namespace: string;
  uid?: string;
}

interface PodMeta {
  namespace?: string;
  ownerReferences?: { apiVersion: string; kind: string; name: string; uid: string; controller?: boolean }[];
}

interface ContainerEntry {
  podKey: string;
  container: string;
}

const CONTAINER_STATUS_FIELDS = [
  'containerStatuses',
  'initContainerStatuses',
  'ephemeralContainerStatuses',
] as const;

export class PodCache implements PodLookup {
  readonly pods: Reflector<V1Pod>;
  readonly namespaces: Reflector<V1Namespace>;
  readonly nodes: Reflector<V1Node> | undefined;
  private readonly byContainer = new Map<string, ContainerEntry>();
  private readonly byShortContainer = new Map<string, ContainerEntry>();
  private readonly byUid = new Map<string, string>();
  private readonly apps: AppsV1Api;
  /** Images, owners, labels and the like, shared across cached pods instead of copied per pod. */
  private readonly strings = new StringPool();
  private readonly owners = growingLru<string, WorkloadRef | false>(10_000, { ttl: 5 * 60_000 });

  constructor(private readonly opts: PodCacheOptions) {
    const core = apiClient(opts.kubeConfig, CoreV1Api);
    this.apps = apiClient(opts.kubeConfig, AppsV1Api);
    const common = reflectorSettings(opts);
    this.pods = new Reflector<V1Pod>({
      ...common,
      resource: 'pods',
      typeMeta: { apiVersion: 'v1', kind: 'Pod' },
      path: '/api/v1/pods',
      fieldSelector: opts.nodeName !== undefined ? `spec.nodeName=${opts.nodeName}` : undefined,
      list: (s) => core.listPodForAllNamespaces(s),
      transform: (p) => poolPodStrings(this.strings, p),
    });
    this.namespaces = new Reflector<V1Namespace>({
      ...common,
      resource: 'namespaces',
      typeMeta: { apiVersion: 'v1', kind: 'Namespace' },
      path: '/api/v1/namespaces',
      list: (s) => core.listNamespace(s),
    });
    if (opts.watchNodes ?? true) {
      this.nodes = new Reflector<V1Node>({
        ...common,
        resource: 'nodes',
        typeMeta: { apiVersion: 'v1', kind: 'Node' },
        path: '/api/v1/nodes',
        fieldSelector: opts.nodeName !== undefined ? `metadata.name=${opts.nodeName}` : undefined,
        list: (s) => core.listNode(s),
      });
    }
    this.pods.on('add', (p) => this.index(p));
    this.pods.on('update', (p, old) => {
      if (old) this.unindex(old);
      this.index(p);
    });
    this.pods.on('delete', (p) => this.unindex(p));
  }

  async start(timeoutMs = 30_000): Promise<void> {
    await Promise.all([
      this.pods.start(timeoutMs),
      this.namespaces.start(timeoutMs),
      this.nodes?.start(timeoutMs),
    ]);
  }

  async stop(): Promise<void> {
    await Promise.all([this.pods.stop(), this.namespaces.stop(), this.nodes?.stop()]);
  }

  get synced(): boolean {
    return this.pods.synced && this.namespaces.synced && (this.nodes?.synced ?? true);
  }

  // ---- PodLookup -------------------------------------------------------------------------------

  byContainerId(containerId: string): { pod: KubeObject; container: string } | undefined {
    const id = normalizeContainerId(containerId);
    if (id === undefined) return undefined;
    const entry =
      id.length >= 64 ? this.byContainer.get(id) : this.byShortContainer.get(id.slice(0, SHORT_ID_LENGTH));
    if (!entry) return undefined;
    const [ns, name] = splitKey(entry.podKey);
    const pod = this.pods.get(ns, name);
    return pod ? { pod: pod as KubeObject, container: entry.container } : undefined;
  }

  byPodUid(uid: string): KubeObject | undefined {
    const key = this.byUid.get(uid);
    if (key === undefined) return undefined;
    const [ns, name] = splitKey(key);
    return this.pods.get(ns, name) as KubeObject | undefined;
  }

  byName(namespace: string, name: string): KubeObject | undefined {
    return this.pods.get(namespace, name) as KubeObject | undefined;
  }

  namespaceLabels(namespace: string): Record<string, string> | undefined {
    return (
      this.namespaces.get(undefined, namespace)?.metadata?.labels ??
      (this.namespaces.get(undefined, namespace) ? {} : undefined)
    );
  }

  node(name: string): KubeObject | undefined {
    return this.nodes?.get(undefined, name) as KubeObject | undefined;
  }

  // ---- owners ----------------------------------------------------------------------------------

  /**
   * The pod's top workload: its controller owner, and for a ReplicaSet that a Deployment controls,
   * that Deployment. Undefined for bare pods; DaemonSet/Job/StatefulSet owners are returned as is.
   */
  async workloadOf(pod: KubeObject): Promise<WorkloadRef | undefined> {
    const meta: PodMeta | undefined = pod.metadata;
    const namespace = meta?.namespace;
    const owner = meta?.ownerReferences?.find((o) => o.controller === true) ?? meta?.ownerReferences?.[0];
    if (!owner || namespace === undefined) return undefined;
    const direct: WorkloadRef = {
      apiVersion: owner.apiVersion,
      kind: owner.kind,
      name: owner.name,
      namespace,
      uid: owner.uid,
    };
    if (owner.kind !== 'ReplicaSet') return direct;
    const key = `${namespace}/${owner.name}`;
    const cached = this.owners.get(key);
    if (cached !== undefined) return cached === false ? direct : cached;
    try {
      const rs = await this.apps.readNamespacedReplicaSet({ namespace, name: owner.name });
      const dep = rs.metadata?.ownerReferences?.find((o) => o.controller === true && o.kind === 'Deployment');
      const ref = dep
        ? { apiVersion: dep.apiVersion, kind: dep.kind, name: dep.name, namespace, uid: dep.uid }
        : false;
      this.owners.set(key, ref);
      return ref === false ? direct : ref;
    } catch (err) {
      if (isNotFound(err)) return direct;
      throw err;
    }
  }

  // ---- indexes ---------------------------------------------------------------------------------

  private index(p: V1Pod): void {
    const key = `${p.metadata?.namespace ?? ''}/${p.metadata?.name ?? ''}`;
    if (p.metadata?.uid !== undefined) this.byUid.set(p.metadata.uid, key);
    for (const field of CONTAINER_STATUS_FIELDS) {
      for (const cs of p.status?.[field] ?? []) {
        const id = cs.containerID !== undefined ? normalizeContainerId(cs.containerID) : undefined;
        if (id === undefined) continue;
        const entry = { podKey: key, container: cs.name };
        this.byContainer.set(id, entry);
        this.byShortContainer.set(id.slice(0, SHORT_ID_LENGTH), entry);
      }
    }
  }

  private unindex(p: V1Pod): void {
    if (p.metadata?.uid !== undefined) this.byUid.delete(p.metadata.uid);
    for (const field of CONTAINER_STATUS_FIELDS) {
      for (const cs of p.status?.[field] ?? []) {
        const id = cs.containerID !== undefined ? normalizeContainerId(cs.containerID) : undefined;
        if (id === undefined) continue;
        this.byContainer.delete(id);
        this.byShortContainer.delete(id.slice(0, SHORT_ID_LENGTH));
      }
    }
  }
}

function splitKey(key: string): [string | undefined, string] {
  const i = key.indexOf('/');
  const ns = key.slice(0, i);
  return [ns === '' ? undefined : ns, key.slice(i + 1)];
}
