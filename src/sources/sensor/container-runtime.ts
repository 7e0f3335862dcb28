/**
 * Container metadata for the built-in sensor: the kernel gives a container id and (in a kubepods
 * cgroup) a pod uid; the container runtime on this host knows the container's name and image and
 * its pod's name, namespace and labels. Asked over the runtime's own socket (the CRI API of
 * containerd / CRI-O, or Docker's Engine API), cached by container id.
 *
 * The event path never waits on a runtime beyond a short deadline: an event of a container not in
 * the cache is held while its lookup runs (at most `timeoutMs`, later events of the same container
 * queue behind it so their order is kept), then passed on, enriched or not. Held events and
 * concurrent lookups are bounded; past either bound an event goes on unenriched, counted.
 *
 * The runtime's answer is data from a process we do not control (and, for labels, from whoever
 * wrote the pod or the image): strings and label sets are capped, and pod identity is only taken
 * from the runtime when it agrees with the kernel (see `applyContainerMetadata`).
 */
import { existsSync } from 'node:fs';
import { LRUCache } from 'lru-cache';
import { KyvernoRuntimeError } from '../../contracts/errors.js';
import type { RuntimeEvent } from '../../events/types.js';
import { containerRuntimeLookups, containerRuntimeUnenriched } from '../../observability/metrics.js';

/** What a runtime says about a container. */
export interface ContainerMetadata {
  runtime: 'cri' | 'docker';
  containerName?: string;
  image?: string;
  pod?: {
    uid: string;
    name?: string | undefined;
    namespace?: string | undefined;
    labels?: Record<string, string>;
  };
  /**
   * The pod came from the runtime's own record of the sandbox (CRI PodSandboxStatus), not from
   * container labels an image could carry.
   */
  podFromRuntime: boolean;
}

/** A lookup failure with the result label it is counted under. */
export class RuntimeLookupError extends KyvernoRuntimeError {
  constructor(
    readonly result: 'not-found' | 'timeout' | 'error' | 'too-large',
    message: string,
  ) {
    super('E_CONTAINER_RUNTIME_LOOKUP', message);
  }
}

/** One runtime socket's client. */
export interface RuntimeLookup {
  readonly runtime: string;
  /** Rejects with a RuntimeLookupError (its `result` is the metric label) or any error. */
  lookup(id: string, deadline: number): Promise<ContainerMetadata>;
  close(): void;
}

/** The sockets tried when none is configured, in order: containerd, CRI-O (CRI), then Docker. */
export const DEFAULT_RUNTIME_SOCKETS: readonly RuntimeSocket[] = [
  { kind: 'cri', path: '/run/containerd/containerd.sock' },
  { kind: 'cri', path: '/run/crio/crio.sock' },
  { kind: 'docker', path: '/var/run/docker.sock' },
];

export interface RuntimeSocket {
  kind: 'cri' | 'docker';
  path: string;
}

/** Defaults: the deadline of one lookup (all its calls), cache size and lifetimes, bounds. */
export const CONTAINER_RUNTIME_DEFAULTS = {
  timeoutMs: 250,
  cacheEntries: 4096,
  /** A found container's metadata is kept this long (names, image and pod do not change). */
  cacheTtlMs: 5 * 60_000,
  /** A failed lookup is not retried for this long, so a broken runtime is not asked per event. */
  negativeTtlMs: 10_000,
  maxResponseBytes: 256 * 1024,
  maxHeldEvents: 1024,
  maxConcurrentLookups: 32,
} as const;

/** Caps on what a runtime reply may put into an event (the ingest guard caps strings again later). */
const MAX_TEXT = 512;
const MAX_LABELS = 64;
const MAX_LABEL_KEY = 317; // 253-byte DNS prefix, "/", 63-byte name
const MAX_LABEL_VALUE = 1024;

/** A string from a reply, or undefined when absent, empty or longer than the cap. */
export function boundedText(v: unknown): string | undefined {
  return typeof v === 'string' && v.length > 0 && v.length <= MAX_TEXT ? v : undefined;
}

/** A label map from a reply: string pairs only, at most MAX_LABELS, oversized pairs left out. */
export function boundedLabels(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return out;
  let n = 0;
  for (const [k, val] of Object.entries(v as Record<string, unknown>)) {
    if (n >= MAX_LABELS) break;
    if (typeof val !== 'string' || k.length === 0 || k.length > MAX_LABEL_KEY || val.length > MAX_LABEL_VALUE)
      continue;
    // Object.defineProperty: a label named "__proto__" is data, not the prototype.
    Object.defineProperty(out, k, { value: val, enumerable: true, writable: true, configurable: true });
    n++;
  }
  return out;
}

/**
 * `--container-runtime-socket` values: "none" (no enrichment), or a socket path, optionally
 * prefixed "cri:" or "docker:"; without a prefix a path whose file name contains "docker" is
 * Docker's API, any other the CRI.
 */
export function parseRuntimeSocket(value: string): RuntimeSocket | 'none' {
  const v = value.trim();
  if (v === 'none') return 'none';
  const m = /^(cri|docker):(.+)$/.exec(v);
  const path = m ? (m[2] ?? '') : v;
  if (!path.startsWith('/')) throw new Error(`container runtime socket must be an absolute path: ${value}`);
  const kind = m ? (m[1] as 'cri' | 'docker') : /docker[^/]*$/.test(path) ? 'docker' : 'cri';
  return { kind, path };
}

/** The configured sockets, or the defaults that exist on this host. */
export function runtimeSocketsToUse(configured: readonly RuntimeSocket[] | undefined): RuntimeSocket[] {
  if (configured !== undefined) return [...configured];
  return DEFAULT_RUNTIME_SOCKETS.filter((s) => existsSync(s.path));
}

export interface ContainerMetadataOptions {
  lookups: RuntimeLookup[];
  timeoutMs?: number;
  cacheEntries?: number;
  cacheTtlMs?: number;
  negativeTtlMs?: number;
  maxHeldEvents?: number;
  maxConcurrentLookups?: number;
}

/**
 * What the sensor asks of container enrichment: pass each event on (now or after a lookup, in order
 * per container), and release the runtime clients at stop. ContainerMetadataEnricher is one; the
 * cluster agent wraps it so that pods the API server already lists are never looked up.
 */
export interface ContainerEnrichment {
  process(event: RuntimeEvent, emit: (e: RuntimeEvent) => void): void;
  close(): void;
}

type Cached = { meta: ContainerMetadata } | { meta: undefined };

/** Container ids as the sensor normalises them (lower-case hex); anything else is never sent on. */
const CONTAINER_ID = /^[0-9a-f]{12,64}$/;

/**
 * Looks containers up (each runtime in turn until one knows the id), caches the answers, and holds
 * events while a lookup runs.
 */
export class ContainerMetadataEnricher implements ContainerEnrichment {
  private readonly timeoutMs: number;
  private readonly maxHeld: number;
  private readonly maxConcurrent: number;
  private readonly negativeTtlMs: number;
  private readonly cache: LRUCache<string, Cached>;
  /** Events waiting for the lookup of their container, in arrival order. */
  private readonly waiting = new Map<string, { event: RuntimeEvent; emit: (e: RuntimeEvent) => void }[]>();
  private held = 0;

  constructor(private readonly opts: ContainerMetadataOptions) {
    const d = CONTAINER_RUNTIME_DEFAULTS;
    this.timeoutMs = opts.timeoutMs ?? d.timeoutMs;
    this.maxHeld = opts.maxHeldEvents ?? d.maxHeldEvents;
    this.maxConcurrent = opts.maxConcurrentLookups ?? d.maxConcurrentLookups;
    this.negativeTtlMs = opts.negativeTtlMs ?? d.negativeTtlMs;
    this.cache = new LRUCache<string, Cached>({
      max: opts.cacheEntries ?? d.cacheEntries,
      ttl: opts.cacheTtlMs ?? d.cacheTtlMs,
    });
  }

  /** Events held right now (tests, stats). */
  get heldCount(): number {
    return this.held;
  }

  /**
   * Passes `event` to `emit`: at once when it has no container or its container is cached, else
   * once its container's lookup ends (within the deadline).
   */
  process(event: RuntimeEvent, emit: (e: RuntimeEvent) => void): void {
    const id = event.container?.id;
    if (id === undefined || !CONTAINER_ID.test(id) || this.opts.lookups.length === 0) {
      emit(event);
      return;
    }
    const queue = this.waiting.get(id);
    if (queue) {
      if (this.held >= this.maxHeld) return this.passUnenriched(event, emit, 'hold-full');
      queue.push({ event, emit });
      this.held++;
      return;
    }
    const cached = this.cache.get(id);
    if (cached) {
      emit(cached.meta ? applyContainerMetadata(event, cached.meta) : event);
      return;
    }
    if (this.held >= this.maxHeld || this.waiting.size >= this.maxConcurrent)
      return this.passUnenriched(event, emit, 'hold-full');
    this.waiting.set(id, [{ event, emit }]);
    this.held++;
    void this.resolve(id).then((meta) => {
      const list = this.waiting.get(id) ?? [];
      this.waiting.delete(id);
      this.held -= list.length;
      for (const w of list) {
        if (!meta) containerRuntimeUnenriched.inc({ reason: 'lookup-failed' });
        w.emit(meta ? applyContainerMetadata(w.event, meta) : w.event);
      }
    });
  }

  private passUnenriched(event: RuntimeEvent, emit: (e: RuntimeEvent) => void, reason: string): void {
    containerRuntimeUnenriched.inc({ reason });
    emit(event);
  }

  /** Asks each runtime in turn (the first that knows the id wins), all under one deadline. Never rejects. */
  private async resolve(id: string): Promise<ContainerMetadata | undefined> {
    const deadline = Date.now() + this.timeoutMs;
    for (const rt of this.opts.lookups) {
      const left = deadline - Date.now();
      if (left <= 0) {
        containerRuntimeLookups.inc({ runtime: rt.runtime, result: 'timeout' });
        break;
      }
      let timer: NodeJS.Timeout | undefined;
      // The client has the deadline too; this timer makes sure a client that ignores it cannot hold events.
      const expired = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), left)));
      try {
        const got = await Promise.race([rt.lookup(id, deadline), expired]);
        if (got === 'timeout') {
          containerRuntimeLookups.inc({ runtime: rt.runtime, result: 'timeout' });
          break;
        }
        containerRuntimeLookups.inc({ runtime: rt.runtime, result: 'found' });
        this.cache.set(id, { meta: got });
        return got;
      } catch (err) {
        const result = (err as { result?: unknown }).result;
        containerRuntimeLookups.inc({
          runtime: rt.runtime,
          result: typeof result === 'string' ? result : 'error',
        });
      } finally {
        clearTimeout(timer);
      }
    }
    this.cache.set(id, { meta: undefined }, { ttl: this.negativeTtlMs });
    return undefined;
  }

  close(): void {
    for (const rt of this.opts.lookups) rt.close();
  }
}

/**
 * The event with the runtime's names filled in where the kernel left them empty. The pod is taken
 * only when the kernel agrees: the cgroup's pod uid equals the runtime's, or the cgroup names no
 * pod and the runtime's pod record is its own (CRI sandbox), not labels an image could set.
 */
export function applyContainerMetadata(event: RuntimeEvent, meta: ContainerMetadata): RuntimeEvent {
  const out: RuntimeEvent = { ...event };
  const container = { ...event.container };
  if (container.name === undefined && meta.containerName !== undefined) container.name = meta.containerName;
  if (container.image === undefined && meta.image !== undefined) container.image = meta.image;
  out.container = container;
  const kernelUid = event.pod?.uid;
  const pod = meta.pod;
  if (pod === undefined) return out;
  const agrees = kernelUid !== undefined ? pod.uid === kernelUid : meta.podFromRuntime;
  if (!agrees) {
    containerRuntimeUnenriched.inc({ reason: 'pod-uid-mismatch' });
    return out;
  }
  out.pod = {
    ...event.pod,
    uid: pod.uid,
    ...(event.pod?.name === undefined && pod.name !== undefined && { name: pod.name }),
    ...(event.pod?.namespace === undefined && pod.namespace !== undefined && { namespace: pod.namespace }),
    ...(event.pod?.labels === undefined && pod.labels !== undefined && { labels: pod.labels }),
  };
  return out;
}
