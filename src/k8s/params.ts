/**
 * `params` for RuntimeValidatingPolicy in cluster mode: reflectors (list/watch) for the paramKinds the
 * loaded policies name, narrowed to what their paramRefs can select, keyed by namespace/name. Each
 * paramRef becomes a watch scope: a namespace-scoped path when paramRef (or a namespaced policy) fixes
 * the namespace, `fieldSelector=metadata.name=<name>` for a name, `labelSelector` for a selector; a
 * scope another one covers is dropped, and a kind with more than MAX_SCOPES_PER_KIND scopes falls back
 * to one cluster-wide watch (bounded connections). An agent on every node thus caches only the
 * parameter objects some policy can bind, and needs RBAC only there. Policies change at runtime, so
 * `setPolicies` starts and stops watches to match. The kind's resource name and scope come from API
 * discovery (client-node's KubernetesObjectApi, which caches it).
 *
 * Until a kind is discovered and listed, `find` answers undefined (not available), which the engine
 * treats as "no parameter found": parameterNotFoundAction decides (Deny by default).
 */
import { createHash } from 'node:crypto';
import { KubernetesObjectApi, type KubeConfig } from '@kubernetes/client-node';
import type { CompiledPolicy } from '../engine/api/compiled-policy.js';
import type { KubeObject, ParamLookup } from '../engine/api/runtime.js';
import type { Logger } from '../observability/logger.js';
import {
  k8sApiRequests,
  paramKindsWatched,
  paramObjectsDropped,
  paramWatches,
} from '../observability/metrics.js';
import type { ParamSpec } from '../engine/api/compiled-validating-policy.js';
import { apiClient } from './api-clients.js';
import { apiStatus } from './errors.js';
import { Reflector, reflectorSettings } from './reflector.js';
import { isDnsLabel, isDnsSubdomain, isLabelKey, isLabelValue } from '../util/kubernetes-names.js';

/** Exposes client-node's (protected) cached discovery of a kind's resource name and scope. */
class ObjectApi extends KubernetesObjectApi {
  discover(apiVersion: string, kind: string): Promise<{ name: string; namespaced: boolean } | undefined> {
    return this.resource(apiVersion, kind);
  }
}

export interface ParamWatcherOptions {
  kubeConfig: KubeConfig;
  /**
   * Most objects cached per watch (default 10,000; a kind has at most MAX_SCOPES_PER_KIND watches);
   * more are dropped and counted.
   */
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

type ParamReflector = Reflector<KubeObject & { metadata?: { resourceVersion?: string } }>;

/** What one paramRef can select of a kind: undefined parts are unrestricted. */
export interface ParamScope {
  namespace?: string;
  /** fieldSelector `metadata.name=<name>`. */
  name?: string;
  labelSelector?: string;
}

interface Watched {
  apiVersion: string;
  kind: string;
  /** The scopes the policies ask for (before the kind's scope is known). */
  scopes: ParamScope[];
  /** From discovery; undefined until the API server answered. */
  resource?: { name: string; namespaced: boolean };
  watches: Map<string, ParamReflector>;
  retry?: NodeJS.Timeout;
  stopped: boolean;
}

const DEFAULT_MAX_OBJECTS = 10_000;
/** Distinct scopes of one kind beyond which one cluster-wide watch replaces them (bounded connections). */
export const MAX_SCOPES_PER_KIND = 16;

// Kubernetes name syntax. A value that does not match is never put in a URL path or a selector: the
// scope is widened instead (the engine filters by paramRef again, so widening is always safe).

/**
 * A paramRef selector as a server-side labelSelector, or undefined when it cannot be one exactly
 * (Kyverno wildcards in matchLabels, an unknown operator, a key or value outside label syntax) or
 * selects everything.
 */
export function labelSelectorOf(selector: ParamSpec['selector']): string | undefined {
  if (!selector) return undefined;
  const parts: string[] = [];
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) {
    if (!isLabelKey(k) || typeof v !== 'string' || !isLabelValue(v)) return undefined;
    parts.push(`${k}=${v}`);
  }
  for (const e of selector.matchExpressions ?? []) {
    if (!isLabelKey(e.key)) return undefined;
    const values = e.values ?? [];
    if (!values.every((v) => typeof v === 'string' && isLabelValue(v))) return undefined;
    switch (e.operator) {
      case 'In':
      case 'NotIn':
        if (values.length === 0) return undefined;
        parts.push(`${e.key} ${e.operator === 'In' ? 'in' : 'notin'} (${values.join(',')})`);
        break;
      case 'Exists':
        parts.push(e.key);
        break;
      case 'DoesNotExist':
        parts.push(`!${e.key}`);
        break;
      default:
        return undefined;
    }
  }
  return parts.length > 0 ? parts.join(',') : undefined;
}

/** The watch scope one paramRef needs (the policy's namespace applies when paramRef names none). */
export function scopeOf(spec: ParamSpec, policyNamespace: string | undefined): ParamScope {
  const ns = spec.namespace ?? policyNamespace;
  const labelSelector = labelSelectorOf(spec.selector);
  return {
    ...(ns !== undefined && isDnsLabel(ns) ? { namespace: ns } : {}),
    ...(spec.name !== undefined && isDnsSubdomain(spec.name) ? { name: spec.name } : {}),
    ...(labelSelector !== undefined ? { labelSelector } : {}),
  };
}

function covers(a: ParamScope, b: ParamScope): boolean {
  return (
    (a.namespace === undefined || a.namespace === b.namespace) &&
    (a.name === undefined || a.name === b.name) &&
    (a.labelSelector === undefined || a.labelSelector === b.labelSelector)
  );
}

function scopeKey(s: ParamScope): string {
  return `${s.namespace ?? ''}\u0000${s.name ?? ''}\u0000${s.labelSelector ?? ''}`;
}

/**
 * The watches that serve these scopes: the namespace dropped for a cluster-scoped kind, duplicates
 * and covered scopes removed, and one unrestricted watch beyond MAX_SCOPES_PER_KIND.
 */
export function effectiveScopes(scopes: readonly ParamScope[], namespaced: boolean): ParamScope[] {
  const unique = new Map<string, ParamScope>();
  for (const s of scopes) {
    const { namespace, ...rest } = s;
    const t = namespaced && namespace !== undefined ? { namespace, ...rest } : rest;
    unique.set(scopeKey(t), t);
  }
  const all = [...unique.values()];
  const kept = all.filter((s, i) => !all.some((o, j) => j !== i && covers(o, s) && !covers(s, o)));
  return kept.length > MAX_SCOPES_PER_KIND ? [{}] : kept;
}

/** The paramKinds (apiVersion + kind) the policies' RuntimeValidatingPolicy rules name. */
export function paramKindsOf(policies: readonly CompiledPolicy[]): { apiVersion: string; kind: string }[] {
  return [...paramScopesOf(policies).values()].map(({ apiVersion, kind }) => ({ apiVersion, kind }));
}

/** Per paramKind, the scope each rule's paramRef needs. */
export function paramScopesOf(
  policies: readonly CompiledPolicy[],
): Map<string, { apiVersion: string; kind: string; scopes: ParamScope[] }> {
  const out = new Map<string, { apiVersion: string; kind: string; scopes: ParamScope[] }>();
  for (const p of policies)
    for (const r of p.rules) {
      const spec = r.restrict?.validating?.params;
      if (!spec || spec.apiVersion === '' || spec.kind === '') continue;
      const key = keyOf(spec.apiVersion, spec.kind);
      let entry = out.get(key);
      if (!entry) out.set(key, (entry = { apiVersion: spec.apiVersion, kind: spec.kind, scopes: [] }));
      entry.scopes.push(scopeOf(spec, p.namespace));
    }
  return out;
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

  /** Watches what these policies' paramRefs can select, and nothing else. */
  setPolicies(policies: readonly CompiledPolicy[]): void {
    const wanted = paramScopesOf(policies);
    for (const [key, w] of this.kinds)
      if (!wanted.has(key)) {
        this.kinds.delete(key);
        void this.stopKind(w);
      }
    for (const [key, k] of wanted) {
      const w = this.kinds.get(key);
      if (w) {
        w.scopes = k.scopes;
        if (w.resource) this.reconcile(w);
        continue;
      }
      const fresh: Watched = { ...k, watches: new Map(), stopped: false };
      this.kinds.set(key, fresh);
      void this.startKind(fresh);
    }
    paramKindsWatched.set(this.kinds.size);
    this.countWatches();
  }

  /** Whether every watched kind has listed (for tests and readiness). */
  get synced(): boolean {
    return [...this.kinds.values()].every(
      (w) => w.resource !== undefined && [...w.watches.values()].every((r) => r.synced),
    );
  }

  /** The scopes being watched per kind ("apiVersion/kind"), for tests and diagnostics. */
  get watchedScopes(): Record<string, ParamScope[]> {
    const out: Record<string, ParamScope[]> = {};
    for (const w of this.kinds.values())
      if (w.resource) out[`${w.apiVersion}/${w.kind}`] = effectiveScopes(w.scopes, w.resource.namespaced);
    return out;
  }

  find(query: {
    apiVersion: string;
    kind: string;
    namespace?: string;
    name?: string;
  }): readonly KubeObject[] | undefined {
    const w = this.kinds.get(keyOf(query.apiVersion, query.kind));
    if (!w?.resource) return undefined;
    const synced = [...w.watches.values()].filter((r) => r.synced);
    if (synced.length === 0) return undefined;
    const { namespaced } = w.resource;
    // A cluster-scoped kind ignores the namespace; a namespaced one needs it (as admission policies do).
    const ns = namespaced ? query.namespace : undefined;
    if (namespaced && ns === undefined) return [];
    // An object two scopes both select is returned once.
    const found = new Map<string, KubeObject>();
    for (const r of synced) {
      if (query.name !== undefined) {
        const o = r.get(ns, query.name);
        if (o) found.set(`${ns ?? ''}/${query.name}`, o);
        continue;
      }
      for (const o of r.list())
        if (!namespaced || o.metadata?.namespace === ns)
          found.set(`${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`, o);
    }
    return [...found.values()];
  }

  async stop(): Promise<void> {
    const all = [...this.kinds.values()];
    this.kinds.clear();
    paramKindsWatched.set(0);
    paramWatches.set(0);
    await Promise.all(all.map((w) => this.stopKind(w)));
  }

  private countWatches(): void {
    let n = 0;
    for (const w of this.kinds.values()) n += w.watches.size;
    paramWatches.set(n);
  }

  private async stopKind(w: Watched): Promise<void> {
    w.stopped = true;
    clearTimeout(w.retry);
    const reflectors = [...w.watches.values()];
    w.watches.clear();
    await Promise.all(reflectors.map((r) => r.stop()));
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
    w.resource = resource;
    this.reconcile(w);
  }

  /** Starts the watches the kind's scopes need and stops those no scope needs any more. */
  private reconcile(w: Watched): void {
    const resource = w.resource;
    if (!resource || w.stopped) return;
    const scopes = effectiveScopes(w.scopes, resource.namespaced);
    if (scopes.length === 1 && Object.keys(scopes[0]!).length === 0 && w.scopes.length > MAX_SCOPES_PER_KIND)
      this.opts.logger?.warn(
        { paramKind: `${w.apiVersion}/${w.kind}`, scopes: w.scopes.length, max: MAX_SCOPES_PER_KIND },
        'too many distinct paramRef scopes for one kind; watching it cluster-wide',
      );
    const keys = new Set(scopes.map(scopeKey));
    for (const [key, r] of w.watches)
      if (!keys.has(key)) {
        w.watches.delete(key);
        void r.stop();
      }
    for (const scope of scopes) {
      const key = scopeKey(scope);
      if (w.watches.has(key)) continue;
      const reflector = this.reflectorFor(w, resource, scope);
      w.watches.set(key, reflector);
      void reflector.start().catch((err: unknown) => {
        // Not synced in time (RBAC, outage): the reflector keeps retrying with backoff.
        if (!w.stopped && w.watches.get(key) === reflector)
          this.opts.logger?.warn(
            { paramKind: `${w.apiVersion}/${w.kind}`, scope, err },
            'paramKind not synced yet',
          );
      });
    }
    this.countWatches();
  }

  private reflectorFor(
    w: Watched,
    resource: { name: string; namespaced: boolean },
    scope: ParamScope,
  ): ParamReflector {
    const root = w.apiVersion.includes('/') ? `/apis/${w.apiVersion}` : `/api/${w.apiVersion}`;
    // Namespaces and names were checked against Kubernetes' name syntax in scopeOf.
    const path =
      scope.namespace !== undefined
        ? `${root}/namespaces/${scope.namespace}/${resource.name}`
        : `${root}/${resource.name}`;
    const fieldSelector = scope.name !== undefined ? `metadata.name=${scope.name}` : undefined;
    const reflector: ParamReflector = new Reflector({
      ...reflectorSettings(this.opts),
      resource: reflectorLabel(resource.name, scope),
      path,
      ...(fieldSelector !== undefined ? { fieldSelector } : {}),
      ...(scope.labelSelector !== undefined ? { labelSelector: scope.labelSelector } : {}),
      typeMeta: { apiVersion: w.apiVersion, kind: w.kind },
      maxObjects: this.opts.maxObjectsPerKind ?? DEFAULT_MAX_OBJECTS,
      onOverflow: () => paramObjectsDropped.inc({ kind: w.kind }),
      list: (s) =>
        this.api.list(
          w.apiVersion,
          w.kind,
          scope.namespace,
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
    return reflector;
  }
}

/**
 * The metrics/log name of a watch: `params:<plural>` for a cluster-wide one, with `@<namespace>`,
 * `/<name>` and `?<selector hash>` for the parts that narrow it.
 */
function reflectorLabel(plural: string, scope: ParamScope): string {
  let label = `params:${plural}`;
  if (scope.namespace !== undefined) label += `@${scope.namespace}`;
  if (scope.name !== undefined) label += `/${scope.name}`;
  if (scope.labelSelector !== undefined)
    label += `?${createHash('sha256').update(scope.labelSelector).digest('hex').slice(0, 8)}`;
  return label;
}
