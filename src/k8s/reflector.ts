/**
 * A list/watch cache that survives. client-node 1.4's ListWatch stops for good on any error other
 * than 410, never asks for bookmarks, never relists, and cannot notice a watch that silently stalls
 * behind a load balancer (kubernetes-client/javascript#596, #958). This reflector keeps client-node's
 * `Watch` (the HTTP streaming and auth) and the generated list calls, and adds around them:
 * - restart with exponential backoff and full jitter (500 ms doubling to 30 s);
 * - `allowWatchBookmarks`, so a resume after a quiet period starts from a recent resourceVersion;
 * - 410 Gone (HTTP status or in-stream ERROR event) handled by a relist that diffs the cache and emits
 *   `delete` for objects that vanished meanwhile;
 * - lists paginated (limit + continue), so a relist of a large cluster never asks the API server for
 *   one huge response;
 * - a periodic relist (level-triggered reconciliation), each interval jittered so that a DaemonSet's
 *   agents, started together, do not relist together;
 * - a stall watchdog: no event and no bookmark for `stallTimeoutMs` → abort and resume;
 * - metrics per resource and a `synced` flag for /readyz.
 */
import { Watch, type KubeConfig } from '@kubernetes/client-node';
import type { Logger } from '../observability/logger.js';
import { k8sInformerSynced, k8sWatchEvents, k8sWatchRestarts } from '../observability/metrics.js';
import { apiStatus } from './errors.js';

export interface KubeListObject {
  metadata?: { name?: string; namespace?: string; resourceVersion?: string; uid?: string };
}

export interface ListResult<T> {
  items: T[];
  /** `_continue` from client-node's typed lists, `continue` from its custom-object (plain JSON) lists. */
  metadata?: { resourceVersion?: string; _continue?: string; continue?: string };
}

export interface ListSelectors {
  labelSelector?: string;
  fieldSelector?: string;
  limit?: number;
  _continue?: string;
}

export interface ReflectorOptions<T> {
  /** Short name for metrics and logs, e.g. "pods". */
  resource: string;
  kubeConfig: KubeConfig;
  /** Watch URL path, e.g. /api/v1/pods. */
  path: string;
  /** Lists with the same selectors, one page; client-node's generated list call. */
  list: (selectors: ListSelectors) => Promise<ListResult<T>>;
  /** Items per list page (default 500, client-go's). */
  pageSize?: number;
  labelSelector?: string;
  fieldSelector?: string;
  /** apiVersion/kind to set on items (list responses from a real API server omit them). */
  typeMeta?: { apiVersion: string; kind: string };
  /** Relist everything about this often (default 10 min, each interval jittered ±25 %; 0 disables). */
  relistIntervalMs?: number;
  /** Restart a watch that delivered nothing, not even a bookmark, for this long (default 5 min). */
  stallTimeoutMs?: number;
  /** Server-side watch timeout in seconds (default 300); the watch is resumed after it. */
  watchTimeoutSeconds?: number;
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  /** Most objects cached; a new object beyond it is not cached and `onOverflow` is called (default: none). */
  maxObjects?: number;
  onOverflow?: (obj: T) => void;
  /** Called on each object before it is cached (the reflector's own copy; may edit it in place). */
  transform?: (obj: T) => void;
  logger?: Logger;
}

/** The settings every reflector of one informer set shares (a pod cache, a policy watcher). */
export type ReflectorSettings = Pick<
  ReflectorOptions<unknown>,
  'kubeConfig' | 'relistIntervalMs' | 'stallTimeoutMs' | 'backoffInitialMs' | 'logger'
>;

/** Picks the shared reflector settings out of a component's options. */
export function reflectorSettings(opts: ReflectorSettings): ReflectorSettings {
  return {
    kubeConfig: opts.kubeConfig,
    relistIntervalMs: opts.relistIntervalMs,
    stallTimeoutMs: opts.stallTimeoutMs,
    backoffInitialMs: opts.backoffInitialMs,
    logger: opts.logger,
  };
}

type Handler<T> = (obj: T, old?: T) => void;

const GONE = 410;
/** 10,000 pages of 500: far beyond any real cluster. */
const MAX_LIST_PAGES = 10_000;

class WatchEnded extends Error {
  constructor(
    readonly reason: 'closed' | 'gone' | 'stalled' | 'relist' | 'stopped',
    readonly detail?: unknown,
  ) {
    super(reason);
  }
}

export class Reflector<T extends KubeListObject> {
  private readonly objects = new Map<string, T>();
  private readonly handlers = {
    add: [] as Handler<T>[],
    update: [] as Handler<T>[],
    delete: [] as Handler<T>[],
  };
  private resourceVersion = '';
  private stopped = true;
  private abortWatch: ((reason: WatchEnded) => void) | undefined;
  private lastActivity = Date.now();
  private timers: NodeJS.Timeout[] = [];
  private relistTimer: NodeJS.Timeout | undefined;
  private syncWaiters: (() => void)[] = [];
  private running: Promise<void> | undefined;
  private _synced = false;
  /** Consecutive failures, for backoff. */
  private failures = 0;
  /** The last watch delivered events or lasted over a second (so an instant close is backed off). */
  private lastWatchHealthy = false;

  constructor(private readonly opts: ReflectorOptions<T>) {}

  get synced(): boolean {
    return this._synced;
  }

  get resource(): string {
    return this.opts.resource;
  }

  on(event: 'add' | 'update' | 'delete', handler: Handler<T>): void {
    this.handlers[event].push(handler);
  }

  get(namespace: string | undefined, name: string): T | undefined {
    return this.objects.get(`${namespace ?? ''}/${name}`);
  }

  list(): T[] {
    return [...this.objects.values()];
  }

  get size(): number {
    return this.objects.size;
  }

  /** Starts the loop; resolves once the first list has been applied (or rejects after timeoutMs). */
  async start(timeoutMs = 30_000): Promise<void> {
    if (!this.stopped) return this.waitForSync(timeoutMs);
    this.stopped = false;
    const stall = this.opts.stallTimeoutMs ?? 300_000;
    this.timers.push(
      setInterval(
        () => {
          if (this.abortWatch && Date.now() - this.lastActivity > stall) {
            this.opts.logger?.warn(
              { resource: this.opts.resource, idleMs: Date.now() - this.lastActivity },
              'watch stalled; restarting',
            );
            this.abortWatch(new WatchEnded('stalled'));
          }
        },
        Math.max(50, Math.min(stall / 4, 10_000)),
      ),
    );
    for (const t of this.timers) t.unref();
    this.scheduleRelist();
    this.running = this.loop();
    return this.waitForSync(timeoutMs);
  }

  /** The next periodic relist, at 75–125 % of the interval. */
  private scheduleRelist(): void {
    const relist = this.opts.relistIntervalMs ?? 600_000;
    if (relist <= 0 || this.stopped) return;
    this.relistTimer = setTimeout(
      () => {
        this.resourceVersion = '';
        this.abortWatch?.(new WatchEnded('relist'));
        this.scheduleRelist();
      },
      Math.round(relist * (0.75 + Math.random() * 0.5)),
    );
    this.relistTimer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    clearTimeout(this.relistTimer);
    this.abortWatch?.(new WatchEnded('stopped'));
    await this.running;
    this.setSynced(false);
  }

  waitForSync(timeoutMs: number): Promise<void> {
    if (this._synced) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const t = setTimeout(
        () => reject(new Error(`${this.opts.resource}: not synced after ${timeoutMs} ms`)),
        timeoutMs,
      );
      t.unref();
      this.syncWaiters.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  private setSynced(v: boolean): void {
    this._synced = v;
    k8sInformerSynced.set({ resource: this.opts.resource }, v ? 1 : 0);
    if (v) {
      const waiters = this.syncWaiters;
      this.syncWaiters = [];
      for (const w of waiters) w();
    }
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      try {
        if (this.resourceVersion === '') await this.relist();
        await this.watchOnce();
      } catch (err) {
        if (this.stopped) break;
        if (err instanceof WatchEnded) {
          k8sWatchRestarts.inc({ resource: this.opts.resource, reason: err.reason });
          if (err.reason === 'gone') this.resourceVersion = '';
          if (err.reason === 'relist' || err.reason === 'gone') continue;
          if (err.reason === 'closed' && err.detail === undefined && this.lastWatchHealthy) {
            // A normal end (server-side timeout) of a healthy watch: resume at once.
            this.failures = 0;
            continue;
          }
        } else {
          const st = apiStatus(err);
          if (st.code === GONE) {
            this.resourceVersion = '';
            k8sWatchRestarts.inc({ resource: this.opts.resource, reason: 'gone' });
            continue;
          }
          k8sWatchRestarts.inc({ resource: this.opts.resource, reason: 'error' });
          this.setSynced(false);
          this.opts.logger?.warn(
            { resource: this.opts.resource, code: st.code, reason: st.reason, err: st.message },
            'list/watch failed; backing off',
          );
        }
        this.failures++;
        await this.sleep(this.backoff());
      }
    }
  }

  private backoff(): number {
    const initial = this.opts.backoffInitialMs ?? 500;
    const max = this.opts.backoffMaxMs ?? 30_000;
    const ceiling = Math.min(max, initial * 2 ** Math.min(this.failures - 1, 16));
    return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
  }

  private sleep(ms: number): Promise<void> {
    this.lastActivity = Date.now() + ms;
    return new Promise((resolve) => {
      const t = setTimeout(resolve, ms);
      // stop() should not wait for a long backoff.
      const wake = (): void => {
        clearTimeout(t);
        resolve();
      };
      this.abortWatch = wake;
    });
  }

  private async relist(): Promise<void> {
    const selectors: ListSelectors = { limit: this.opts.pageSize ?? 500 };
    if (this.opts.labelSelector !== undefined) selectors.labelSelector = this.opts.labelSelector;
    if (this.opts.fieldSelector !== undefined) selectors.fieldSelector = this.opts.fieldSelector;
    const fresh = new Map<string, T>();
    let result: ListResult<T>;
    // Pages until the server gives no continue token; an expired token is a 410, which the loop
    // answers with a fresh list from the first page. The page count is bounded so that a server
    // handing out tokens forever cannot keep the reflector listing.
    for (let page = 0; ; page++) {
      if (page >= MAX_LIST_PAGES)
        throw new Error(`${this.opts.resource}: list did not end after ${MAX_LIST_PAGES} pages`);
      result = await this.opts.list(selectors);
      // Generated list calls return model classes (Date timestamps); watch events are plain JSON.
      // Normalise to plain JSON so the cache holds one shape, the one policies see.
      for (const item of result.items) fresh.set(keyOf(item), JSON.parse(JSON.stringify(item)) as T);
      const next = result.metadata?._continue ?? result.metadata?.continue;
      if (next === undefined || next === '') break;
      selectors._continue = next;
    }
    for (const [key, old] of this.objects) {
      if (!fresh.has(key)) {
        this.objects.delete(key);
        this.fire('delete', old);
      }
    }
    for (const [key, obj] of fresh) this.apply(key, obj);
    this.resourceVersion = result.metadata?.resourceVersion ?? '';
    this.lastActivity = Date.now();
    this.failures = 0;
    this.setSynced(true);
  }

  private apply(key: string, obj: T): void {
    if (this.opts.typeMeta) Object.assign(obj, this.opts.typeMeta);
    // Server-side apply bookkeeping: often a third of a pod's JSON, and nothing here reads it
    // (client-go informers drop it with a transform for the same reason). Copied without it rather
    // than `delete`d: a delete turns the object into a hash table (a dictionary-mode object), several
    // times larger than the same fields in V8's compact form, for every cached object.
    if (obj.metadata !== undefined && 'managedFields' in obj.metadata) {
      const { managedFields: _dropped, ...metadata } = obj.metadata as { managedFields?: unknown };
      obj.metadata = metadata;
    }
    this.opts.transform?.(obj);
    const old = this.objects.get(key);
    if (
      old === undefined &&
      this.opts.maxObjects !== undefined &&
      this.objects.size >= this.opts.maxObjects
    ) {
      this.opts.onOverflow?.(obj);
      return;
    }
    this.objects.set(key, obj);
    if (old === undefined) this.fire('add', obj);
    else if (old.metadata?.resourceVersion !== obj.metadata?.resourceVersion) this.fire('update', obj, old);
  }

  private fire(event: 'add' | 'update' | 'delete', obj: T, old?: T): void {
    for (const h of this.handlers[event]) {
      try {
        h(obj, old);
      } catch (err) {
        this.opts.logger?.error({ resource: this.opts.resource, err }, `informer ${event} handler threw`);
      }
    }
  }

  private watchOnce(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let ended: WatchEnded | undefined;
      let controller: AbortController | undefined;
      let delivered = false;
      const startedAt = Date.now();
      const finish = (e: WatchEnded): void => {
        if (ended) return;
        ended = e;
        this.lastWatchHealthy = delivered || Date.now() - startedAt > 1000;
        this.abortWatch = undefined;
        controller?.abort();
        reject(e);
      };
      this.abortWatch = finish;
      this.lastActivity = Date.now();
      const query: Record<string, string | number | boolean> = {
        resourceVersion: this.resourceVersion,
        allowWatchBookmarks: true,
        timeoutSeconds: this.opts.watchTimeoutSeconds ?? 300,
      };
      if (this.opts.labelSelector !== undefined) query.labelSelector = this.opts.labelSelector;
      if (this.opts.fieldSelector !== undefined) query.fieldSelector = this.opts.fieldSelector;
      const onEvent = (type: string, obj: unknown): void => {
        if (ended) return;
        this.lastActivity = Date.now();
        k8sWatchEvents.inc({ resource: this.opts.resource, type });
        const o = obj as T & { code?: number };
        switch (type) {
          case 'ADDED':
          case 'MODIFIED':
            this.apply(keyOf(o), o);
            break;
          case 'DELETED': {
            const key = keyOf(o);
            const old = this.objects.get(key);
            this.objects.delete(key);
            this.fire('delete', old ?? o);
            break;
          }
          case 'BOOKMARK':
            break;
          case 'ERROR':
            finish(new WatchEnded(o.code === GONE ? 'gone' : 'closed', o));
            return;
          default:
            return;
        }
        if (!delivered) {
          delivered = true;
          this.failures = 0;
        }
        const rv = o.metadata?.resourceVersion;
        if (rv !== undefined && rv !== '') this.resourceVersion = rv;
      };
      const onDone = (err: unknown): void => {
        if (ended) return;
        if (err === null || err === undefined) {
          finish(new WatchEnded('closed'));
          return;
        }
        const st = apiStatus(err);
        const code = (err as { statusCode?: number }).statusCode ?? st.code;
        if (code === GONE) finish(new WatchEnded('gone'));
        else {
          ended = new WatchEnded('closed', err);
          this.abortWatch = undefined;
          controller?.abort();
          reject(err instanceof Error ? err : new Error(st.message));
        }
      };
      new Watch(this.opts.kubeConfig)
        .watch(this.opts.path, query, onEvent, onDone)
        .then((c) => {
          controller = c;
          if (ended) c.abort();
        })
        .catch(onDone);
    });
  }
}

function keyOf(o: KubeListObject): string {
  return `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;
}
