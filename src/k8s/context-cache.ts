/**
 * Cluster mode's data for rule `context` entries: cached GETs on the API server. The event path is
 * synchronous, so a lookup answers from the cache: a fresh value is returned; a missing or stale one
 * starts one background GET (stale values keep answering meanwhile) and a missing one is a rule error
 * until it arrives. Bounded: entries (oldest evicted), response bytes, request time; every outcome
 * is counted in kyverno_runtime_context_fetches_total.
 *
 * GlobalContextEntry (kyverno.io/v2alpha1): read by name, then its `kubernetesResource` (a list GET)
 * or `apiCall.urlPath` is fetched the same way.
 */
import { request } from 'node:https';
import { request as httpRequest } from 'node:http';
import type { KubeConfig } from '@kubernetes/client-node';
import type { ContextProvider } from '../engine/api/runtime.js';
import type { Logger } from '../observability/logger.js';
import { contextFetches } from '../observability/metrics.js';

export interface ContextCacheOptions {
  kubeConfig: KubeConfig;
  /** How long a fetched value is fresh (default 60 s). */
  ttlMs?: number;
  /** Per-request timeout (default 2 s). */
  timeoutMs?: number;
  /** Largest response kept (default 1 MiB, Kubernetes' ConfigMap limit); larger is an error. */
  maxBytes?: number;
  /** Cached paths (default 1000); beyond it the oldest entry is evicted. */
  maxEntries?: number;
  logger?: Logger;
}

interface Entry {
  value: unknown;
  fetchedAt: number;
  pending: boolean;
}

type Raw = Record<string, unknown>;
const isObj = (v: unknown): v is Raw => v !== null && typeof v === 'object' && !Array.isArray(v);

export class ContextCache implements ContextProvider {
  private readonly entries = new Map<string, Entry>();
  private readonly inFlight = new Set<Promise<void>>();

  constructor(private readonly opts: ContextCacheOptions) {}

  configMap(namespace: string, name: string): Record<string, unknown> | undefined {
    const v = this.get(
      `/api/v1/namespaces/${encodeURIComponent(namespace)}/configmaps/${encodeURIComponent(name)}`,
    );
    return isObj(v) ? v : undefined;
  }

  apiCall(urlPath: string): unknown {
    return this.get(urlPath);
  }

  globalReference(name: string): unknown {
    const gce = this.get(`/apis/kyverno.io/v2alpha1/globalcontextentries/${encodeURIComponent(name)}`);
    const spec = isObj(gce) && isObj(gce.spec) ? gce.spec : undefined;
    if (!spec) return undefined;
    const k = isObj(spec.kubernetesResource) ? spec.kubernetesResource : undefined;
    if (k) {
      const group = typeof k.group === 'string' && k.group !== '' ? `/apis/${k.group}` : '/api';
      const ns =
        typeof k.namespace === 'string' && k.namespace !== ''
          ? `/namespaces/${encodeURIComponent(k.namespace)}`
          : '';
      const list = this.get(`${group}/${String(k.version)}${ns}/${String(k.resource)}`);
      return isObj(list) && Array.isArray(list.items) ? list.items : undefined;
    }
    const call = isObj(spec.apiCall) ? spec.apiCall : undefined;
    if (call && typeof call.urlPath === 'string' && call.urlPath.startsWith('/'))
      return this.get(call.urlPath);
    return undefined;
  }

  /** Resolves when the fetches started so far are done (tests, shutdown). */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.inFlight]);
  }

  private get(path: string): unknown {
    const now = Date.now();
    const entry = this.entries.get(path);
    if (entry && (entry.pending || now - entry.fetchedAt < (this.opts.ttlMs ?? 60_000))) return entry.value;
    if (entry) entry.pending = true;
    else {
      const max = this.opts.maxEntries ?? 1000;
      if (this.entries.size >= max) {
        const oldest = this.entries.keys().next().value;
        if (oldest !== undefined) this.entries.delete(oldest);
        contextFetches.inc({ outcome: 'evicted' });
      }
      this.entries.set(path, { value: undefined, fetchedAt: 0, pending: true });
    }
    const p = this.fetch(path).finally(() => this.inFlight.delete(p));
    this.inFlight.add(p);
    return entry?.value;
  }

  private async fetch(path: string): Promise<void> {
    let value: unknown;
    let outcome = 'ok';
    try {
      value = await this.getJson(path);
    } catch (err) {
      outcome = err instanceof Error && err.message.startsWith('too-large') ? 'too-large' : 'error';
      this.opts.logger?.warn({ path, err: (err as Error).message }, 'context fetch failed');
    }
    contextFetches.inc({ outcome });
    const entry = this.entries.get(path);
    if (!entry) return;
    entry.pending = false;
    entry.fetchedAt = Date.now();
    // A failed refresh forgets the value: a deleted ConfigMap must not keep answering.
    entry.value = value;
  }

  private async getJson(path: string): Promise<unknown> {
    const cluster = this.opts.kubeConfig.getCurrentCluster();
    if (!cluster) throw new Error('no cluster in kubeconfig');
    const url = new URL(path, cluster.server);
    const options: import('node:https').RequestOptions = {
      method: 'GET',
      hostname: url.hostname,
      port: url.port,
      path: url.pathname + url.search,
      headers: { accept: 'application/json' },
    };
    await this.opts.kubeConfig.applyToHTTPSOptions(options);
    const maxBytes = this.opts.maxBytes ?? 1024 * 1024;
    const timeoutMs = this.opts.timeoutMs ?? 2000;
    return new Promise((resolve, reject) => {
      const send = url.protocol === 'http:' ? httpRequest : request;
      const req = send(options, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > maxBytes) {
            req.destroy(new Error(`too-large: response of ${path} over ${maxBytes} bytes`));
            return;
          }
          chunks.push(c);
        });
        res.on('end', () => {
          if ((res.statusCode ?? 0) >= 300) return reject(new Error(`GET ${path}: HTTP ${res.statusCode}`));
          try {
            resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
          } catch (e) {
            reject(e instanceof Error ? e : new Error(String(e)));
          }
        });
        res.on('error', reject);
      });
      req.setTimeout(timeoutMs, () => req.destroy(new Error(`GET ${path}: no answer in ${timeoutMs} ms`)));
      req.on('error', reject);
      req.end();
    });
  }
}
