/**
 * `params` for RuntimeValidatingPolicy in cluster mode: one reflector (list/watch) per paramKind the
 * loaded policies name, keyed by namespace/name. Policies change at runtime, so `setPolicies` starts
 * reflectors for new paramKinds and stops those no policy names any more. The kind's resource name
 * and scope come from API discovery (client-node's KubernetesObjectApi, which caches it).
 *
 * Until a kind is discovered and listed, `find` answers undefined (not available), which the engine
 * treats as "no parameter found": parameterNotFoundAction decides (Deny by default).
 */
import { KubernetesObjectApi, type KubeConfig } from '@kubernetes/client-node';
import type { CompiledPolicy } from '../engine/api/compiled-policy.js';
import type { KubeObject, ParamLookup } from '../engine/api/runtime.js';
import type { Logger } from '../observability/logger.js';
import { k8sApiRequests, paramKindsWatched, paramObjectsDropped } from '../observability/metrics.js';
import { apiClient } from './api-clients.js';
import { apiStatus } from './errors.js';
import { Reflector, reflectorSettings } from './reflector.js';

/** Exposes client-node's (protected) cached discovery of a kind's resource name and scope. */
class ObjectApi extends KubernetesObjectApi {
  discover(apiVersion: string, kind: string): Promise<{ name: string; namespaced: boolean } | undefined> {
    return this.resource(apiVersion, kind);
  }
}

export interface ParamWatcherOptions {
  kubeConfig: KubeConfig;
  /** Most objects cached per paramKind (default 10,000); more are dropped and counted. */
  maxObjectsPerKind?: number;
  /** Retry a kind the API server does not (yet) serve this often (default 30 s). */
  discoveryRetryMs?: number;
  /** Called when a kind's objects change (e.g. to re-evaluate); optional. */
  onChange?: () => void;
  relistIntervalMs?: number;
  stallTimeoutMs?: number;
  backoffInitialMs?: number;
  logger?: Logger;
}

interface Watched {
  apiVersion: string;
  kind: string;
  namespaced: boolean;
  reflector?: Reflector<KubeObject & { metadata?: { resourceVersion?: string } }>;
  retry?: NodeJS.Timeout;
  stopped: boolean;
}

const DEFAULT_MAX_OBJECTS = 10_000;

/** The paramKinds (apiVersion + kind) the policies' RuntimeValidatingPolicy rules name. */
export function paramKindsOf(policies: readonly CompiledPolicy[]): { apiVersion: string; kind: string }[] {
  const out = new Map<string, { apiVersion: string; kind: string }>();
  for (const p of policies)
    for (const r of p.rules) {
      const spec = r.restrict?.validating?.params;
      if (spec && spec.apiVersion !== '' && spec.kind !== '')
        out.set(keyOf(spec.apiVersion, spec.kind), { apiVersion: spec.apiVersion, kind: spec.kind });
    }
  return [...out.values()];
}

function keyOf(apiVersion: string, kind: string): string {
  return `${apiVersion}\u0000${kind}`;
}

export class ParamWatcher implements ParamLookup {
  private readonly kinds = new Map<string, Watched>();
  private readonly api: ObjectApi;

  constructor(private readonly opts: ParamWatcherOptions) {
    this.api = apiClient(opts.kubeConfig, ObjectApi);
  }

  /** Watches exactly the paramKinds these policies name. */
  setPolicies(policies: readonly CompiledPolicy[]): void {
    const wanted = paramKindsOf(policies);
    const keys = new Set(wanted.map((k) => keyOf(k.apiVersion, k.kind)));
    for (const [key, w] of this.kinds)
      if (!keys.has(key)) {
        this.kinds.delete(key);
        void this.stopKind(w);
      }
    for (const k of wanted) {
      const key = keyOf(k.apiVersion, k.kind);
      if (this.kinds.has(key)) continue;
      const w: Watched = { ...k, namespaced: true, stopped: false };
      this.kinds.set(key, w);
      void this.startKind(w);
    }
    paramKindsWatched.set(this.kinds.size);
  }

  /** Whether every watched kind has listed (for tests and readiness). */
  get synced(): boolean {
    return [...this.kinds.values()].every((w) => w.reflector?.synced === true);
  }

  find(query: {
    apiVersion: string;
    kind: string;
    namespace?: string;
    name?: string;
  }): readonly KubeObject[] | undefined {
    const w = this.kinds.get(keyOf(query.apiVersion, query.kind));
    const r = w?.reflector;
    if (!w || !r || !r.synced) return undefined;
    // A cluster-scoped kind ignores the namespace; a namespaced one needs it (as admission policies do).
    const ns = w.namespaced ? query.namespace : undefined;
    if (w.namespaced && ns === undefined) return [];
    if (query.name !== undefined) {
      const o = r.get(ns, query.name);
      return o ? [o] : [];
    }
    return r.list().filter((o) => !w.namespaced || o.metadata?.namespace === ns);
  }

  async stop(): Promise<void> {
    const all = [...this.kinds.values()];
    this.kinds.clear();
    paramKindsWatched.set(0);
    await Promise.all(all.map((w) => this.stopKind(w)));
  }

  private async stopKind(w: Watched): Promise<void> {
    w.stopped = true;
    clearTimeout(w.retry);
    await w.reflector?.stop();
  }

  private async startKind(w: Watched): Promise<void> {
    let resource: { name: string; namespaced: boolean } | undefined;
    try {
      resource = await this.api.discover(w.apiVersion, w.kind);
      k8sApiRequests.inc({ purpose: 'param-discovery', outcome: resource ? 'succeeded' : 'failed' });
    } catch (err) {
      k8sApiRequests.inc({ purpose: 'param-discovery', outcome: 'failed' });
      const s = apiStatus(err);
      this.opts.logger?.warn(
        { paramKind: `${w.apiVersion}/${w.kind}`, err: s.message },
        'paramKind discovery failed',
      );
    }
    if (w.stopped) return;
    if (!resource) {
      this.opts.logger?.warn(
        { paramKind: `${w.apiVersion}/${w.kind}` },
        'paramKind not served by the API server; retrying',
      );
      w.retry = setTimeout(() => void this.startKind(w), this.opts.discoveryRetryMs ?? 30_000);
      w.retry.unref();
      return;
    }
    w.namespaced = resource.namespaced;
    const root = w.apiVersion.includes('/') ? `/apis/${w.apiVersion}` : `/api/${w.apiVersion}`;
    const label = `params:${resource.name}`;
    const reflector = new Reflector<KubeObject & { metadata?: { resourceVersion?: string } }>({
      ...reflectorSettings(this.opts),
      resource: label,
      path: `${root}/${resource.name}`,
      typeMeta: { apiVersion: w.apiVersion, kind: w.kind },
      maxObjects: this.opts.maxObjectsPerKind ?? DEFAULT_MAX_OBJECTS,
      onOverflow: () => paramObjectsDropped.inc({ kind: w.kind }),
      list: (s) =>
        this.api.list(
          w.apiVersion,
          w.kind,
          undefined,
          undefined,
          undefined,
          undefined,
          s.fieldSelector,
          s.labelSelector,
          s.limit,
          s._continue,
        ),
    });
    const changed = (): void => this.opts.onChange?.();
    reflector.on('add', changed);
    reflector.on('update', changed);
    reflector.on('delete', changed);
    w.reflector = reflector;
    try {
      await reflector.start();
    } catch (err) {
      // Not synced in time (RBAC, outage): the reflector keeps retrying with backoff.
      if (!w.stopped)
        this.opts.logger?.warn({ paramKind: `${w.apiVersion}/${w.kind}`, err }, 'paramKind not synced yet');
    }
    if (w.stopped) await reflector.stop();
  }
}
