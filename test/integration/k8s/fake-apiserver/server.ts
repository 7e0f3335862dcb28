/**
 * A fake Kubernetes API server on loopback for integration tests of the cluster side with the real
 * @kubernetes/client-node. It implements the API conventions our code relies on:
 * - discovery (/api, /apis, /api/v1, /apis/<g>/<v>);
 * - list with resourceVersion, label and field selectors; watch from a resourceVersion with
 *   BOOKMARK events, `410 Gone` (an ERROR event) when the version was compacted away;
 * - create (409 AlreadyExists, generateName), update (409 Conflict on a stale resourceVersion),
 *   patch (merge, strategic-merge, JSON patch, apply), delete with DeleteOptions preconditions;
 * - the status and scale subresources, and pod eviction honouring PodDisruptionBudgets (semantics.ts,
 *   with the Event and immutable-pod-field rules of the real server);
 * - as the real server answers: list pagination (limit/continue, 410 Expired once the snapshot is
 *   compacted), 403 Forbidden from an RBAC table (rbac.ts, e.g. the chart's rendered ClusterRole),
 *   429 with Retry-After (throttleNext), 422 for changes to immutable pod fields (pod-updates.ts).
 * Every body is validated (validate.ts); a bad body gets 422 Invalid and is recorded in `invalid`, so
 * a test can assert that our code never sent one. Tests can simulate an API server restart (all
 * watches closed, connections dropped, history compacted), an outage (connections refused), stalled
 * watches, injected failures (e.g. 409 Conflict on the next N report updates) and requests whose
 * connection is closed unanswered or mid-body (`dropNext`); `connectionsOpened` counts TCP connections, so a test
 * can tell whether clients reuse them.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { KubeConfig } from '@kubernetes/client-node';
import { parse as parseYaml } from 'yaml';
import { jsonPatch, mergePatch, PatchError, strategicMergePatch } from './patch.js';
import { apiVersionOf, findResource, RESOURCE_TYPES, type ResourceType } from './resources.js';
import { matchLabels, parseFieldSelector, parseLabelSelector, SelectorError } from './selectors.js';
import { openApiProblems } from './openapi.js';
import { podUpdateProblem } from './pod-updates.js';
import { verbOf, type RbacRequest, type RbacTable } from './rbac.js';
import { BodyValidator } from './validate.js';
import { blockingBudget, eventProblem, type DisruptionBudget } from './semantics.js';

export type Obj = Record<string, unknown> & {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    labels?: Record<string, string>;
    generation?: number;
    [k: string]: unknown;
  };
};

export interface RecordedRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  contentType: string | undefined;
  body: unknown;
  status: number;
  /** process.hrtime.bigint() when the request's headers were parsed. */
  receivedAt: bigint;
}

interface HistoryEntry {
  rv: number;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  rt: ResourceType;
  obj: Obj;
}

interface Watcher {
  rt: ResourceType;
  namespace: string | undefined;
  labels: ReturnType<typeof parseLabelSelector>;
  fields: (o: Record<string, unknown>) => boolean;
  res: ServerResponse;
  bookmarks: boolean;
  stalled: boolean;
}

interface InjectedFailure {
  method: string;
  pathIncludes: string;
  status: number;
  reason: string;
  remaining: number;
  retryAfterSeconds?: number | undefined;
}

export interface FakeApiServerOptions {
  /** BOOKMARK interval for watches that ask for them. */
  bookmarkIntervalMs?: number;
  /** Directory of CRD YAML whose schemas validate our kinds (default: deploy/crds). */
  crdDir?: string;
  /** Delay before every response (simulates a slow server). */
  latencyMs?: number;
  /** `group/plural` of resource types this server does not serve (a CRD not installed). */
  absent?: readonly string[];
  /** Authorize every resource request against these rules (403 Forbidden otherwise). */
  rbac?: RbacTable;
}

const DEFAULT_CRD_DIR = fileURLToPath(new URL('../../../../deploy/crds', import.meta.url));
const MAX_BODY = 3 * 1024 * 1024;

export class FakeApiServer {
  readonly requests: RecordedRequest[] = [];
  /** Bodies that failed validation: any entry here means our code sent a malformed request. */
  readonly invalid: { method: string; path: string; problems: string[] }[] = [];
  /** Called as each request arrives (before any processing), for latency measurements. */
  onRequest?: (method: string, path: string, at: bigint) => void;
  recordRequests = true;
  /** TCP connections accepted so far: tells whether clients reuse connections (keep-alive). */
  connectionsOpened = 0;
  /** Requests the RBAC table refused (with `rbac`). */
  readonly forbidden: RbacRequest[] = [];

  private readonly objects = new Map<string, Obj>();
  private history: HistoryEntry[] = [];
  private rv = 100;
  private compactedBelow = 0;
  private readonly watchers = new Set<Watcher>();
  private readonly sockets = new Set<Socket>();
  private readonly failures: InjectedFailure[] = [];
  private readonly drops: (Omit<InjectedFailure, 'status' | 'reason'> & { midBody: boolean })[] = [];
  private down = false;
  private readonly validator: BodyValidator;
  private readonly bookmarkTimer: NodeJS.Timeout;
  private readonly latencyMs: number;
  private readonly absent: ReadonlySet<string>;
  private readonly rbac: RbacTable | undefined;

  private constructor(
    private readonly server: Server,
    options: FakeApiServerOptions,
  ) {
    this.validator = new BodyValidator(options.crdDir ?? DEFAULT_CRD_DIR);
    this.latencyMs = options.latencyMs ?? 0;
    this.absent = new Set(options.absent ?? []);
    this.rbac = options.rbac;
    this.bookmarkTimer = setInterval(() => this.sendBookmarks(), options.bookmarkIntervalMs ?? 1000);
    this.bookmarkTimer.unref();
  }

  static async start(options: FakeApiServerOptions = {}): Promise<FakeApiServer> {
    const server = createServer();
    const fake = new FakeApiServer(server, options);
    server.on('connection', (s: Socket) => {
      if (fake.down) {
        s.destroy();
        return;
      }
      fake.connectionsOpened++;
      fake.sockets.add(s);
      s.on('close', () => fake.sockets.delete(s));
    });
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      const at = process.hrtime.bigint();
      fake.onRequest?.(req.method ?? '', req.url ?? '', at);
      fake.handle(req, res, at).catch((e: unknown) => {
        fake.send(res, 500, status(500, 'InternalError', String(e)));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return fake;
  }

  get url(): string {
    const a = this.server.address();
    if (a === null || typeof a === 'string') throw new Error('not listening');
    return `http://127.0.0.1:${a.port}`;
  }

  /** A KubeConfig for the real client pointing here (plain HTTP needs skipTLSVerify in client-node). */
  kubeConfig(): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'fake', server: this.url, skipTLSVerify: true }],
      users: [{ name: 'tester', token: 'fake-token' }],
      contexts: [{ name: 'fake', cluster: 'fake', user: 'tester', namespace: 'default' }],
      currentContext: 'fake',
    });
    return kc;
  }

  /** Writes kubeconfig YAML text (for --kubeconfig tests). */
  kubeConfigYaml(): string {
    return this.kubeConfig().exportConfig();
  }

  async close(): Promise<void> {
    clearInterval(this.bookmarkTimer);
    for (const w of this.watchers) w.res.end();
    this.watchers.clear();
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  // ---- test controls -------------------------------------------------------------------------

  /** Stores an object directly (as if another client created it); emits watch events. */
  seed(input: Record<string, unknown>): Obj {
    const rt = this.typeOf(input);
    // Fixtures are what a real cluster would hold: a seed the OpenAPI schema rejects is a test bug.
    const problems = openApiProblems(apiVersionOf(rt), rt.kind, {
      ...input,
      apiVersion: apiVersionOf(rt),
      kind: rt.kind,
    });
    if (problems.length > 0) throw new Error(`seed: not a valid ${rt.kind}: ${problems.join('; ')}`);
    const obj = structuredClone(input) as Obj;
    const key = this.key(rt, obj.metadata.namespace, obj.metadata.name);
    const existing = this.objects.get(key);
    obj.apiVersion = apiVersionOf(rt);
    obj.kind = rt.kind;
    obj.metadata.uid = existing?.metadata.uid ?? obj.metadata.uid ?? randomUUID();
    obj.metadata.creationTimestamp ??= new Date().toISOString();
    obj.metadata.generation = (existing?.metadata.generation ?? 0) + 1;
    this.store(rt, obj, existing ? 'MODIFIED' : 'ADDED');
    return obj;
  }

  /** Deletes an object directly (as if the kubelet or a controller did). */
  remove(apiVersion: string, kind: string, namespace: string | undefined, name: string): void {
    const rt = RESOURCE_TYPES.find((t) => apiVersionOf(t) === apiVersion && t.kind === kind);
    if (!rt) throw new Error(`unknown kind ${apiVersion}/${kind}`);
    const key = this.key(rt, namespace, name);
    const obj = this.objects.get(key);
    if (!obj) return;
    this.objects.delete(key);
    this.emit(rt, 'DELETED', { ...obj, metadata: { ...obj.metadata, resourceVersion: String(++this.rv) } });
  }

  get(apiVersion: string, kind: string, namespace: string | undefined, name: string): Obj | undefined {
    const rt = RESOURCE_TYPES.find((t) => apiVersionOf(t) === apiVersion && t.kind === kind);
    if (!rt) throw new Error(`unknown kind ${apiVersion}/${kind}`);
    const o = this.objects.get(this.key(rt, namespace, name));
    return o ? structuredClone(o) : undefined;
  }

  list(apiVersion: string, kind: string, namespace?: string): Obj[] {
    return [...this.objects.values()].filter(
      (o) =>
        o.apiVersion === apiVersion &&
        o.kind === kind &&
        (namespace === undefined || o.metadata.namespace === namespace),
    );
  }

  /**
   * The next `count` requests with this method whose path includes `pathIncludes` fail with `status`
   * (and `retryAfterSeconds` as a Retry-After header, as a throttling server sends with a 429).
   */
  failNext(
    method: string,
    pathIncludes: string,
    count: number,
    statusCode = 409,
    reason = 'Conflict',
    retryAfterSeconds?: number,
  ): void {
    this.failures.push({
      method,
      pathIncludes,
      status: statusCode,
      reason,
      remaining: count,
      retryAfterSeconds,
    });
  }

  /** The next `count` matching requests get 429 TooManyRequests with `Retry-After` (API Priority and Fairness). */
  throttleNext(method: string, pathIncludes: string, count: number, retryAfterSeconds = 1): void {
    this.failures.push({
      method,
      pathIncludes,
      status: 429,
      reason: 'TooManyRequests',
      remaining: count,
      retryAfterSeconds,
    });
  }

  /**
   * The next `count` requests with this method whose path includes `pathIncludes` lose their
   * connection: before any response (as a server closing an idle keep-alive connection at the moment
   * a request is written to it), or with `midBody` after the headers and part of a chunked body.
   * Recorded with status 0.
   */
  dropNext(method: string, pathIncludes: string, count = 1, options: { midBody?: boolean } = {}): void {
    this.drops.push({ method, pathIncludes, remaining: count, midBody: options.midBody === true });
  }

  /**
   * An API server restart: every watch stream ends, every connection drops, and (by default) watch
   * history is compacted so that resuming from an old resourceVersion gets 410 Gone.
   */
  restart(options: { compact?: boolean } = {}): void {
    if (options.compact ?? true) {
      this.compactedBelow = this.rv + 1;
      this.history = [];
    }
    for (const w of this.watchers) w.res.destroy();
    this.watchers.clear();
    for (const s of this.sockets) s.destroy();
  }

  /** Unreachable: new connections are reset until setDown(false). */
  setDown(down: boolean): void {
    this.down = down;
    if (down) this.restart({ compact: false });
  }

  /** Open watches stop receiving events (and bookmarks) but stay connected: a silent stall. */
  stallWatches(): void {
    for (const w of this.watchers) w.stalled = true;
  }

  /** List responses served (each page counts). */
  listPages = 0;

  get watchCount(): number {
    return this.watchers.size;
  }

  requestsMatching(method: string, pathIncludes: string): RecordedRequest[] {
    return this.requests.filter((r) => r.method === method && r.path.includes(pathIncludes));
  }

  // ---- request handling ----------------------------------------------------------------------

  private async handle(req: IncomingMessage, res: ServerResponse, at: bigint): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    const method = req.method ?? 'GET';
    const raw = await readBody(req);
    if (this.latencyMs > 0) await new Promise((r) => setTimeout(r, this.latencyMs));
    const contentType = req.headers['content-type']?.split(';')[0]?.trim();
    let body: unknown = undefined;
    if (raw.length > MAX_BODY)
      return this.finish(
        req,
        res,
        url,
        at,
        contentType,
        undefined,
        413,
        status(413, 'RequestEntityTooLarge', 'request is too large'),
      );
    if (raw.length > 0) {
      try {
        body =
          contentType === 'application/apply-patch+yaml'
            ? parseYaml(raw.toString('utf8'))
            : JSON.parse(raw.toString('utf8'));
      } catch (e) {
        return this.finish(
          req,
          res,
          url,
          at,
          contentType,
          raw.toString('utf8'),
          400,
          status(400, 'BadRequest', `malformed body: ${(e as Error).message}`),
        );
      }
    }
    if (req.headers.authorization !== 'Bearer fake-token') {
      return this.finish(
        req,
        res,
        url,
        at,
        contentType,
        body,
        401,
        status(401, 'Unauthorized', 'Unauthorized'),
      );
    }
    const dropped = this.drops.find(
      (d) => d.remaining > 0 && d.method === method && url.pathname.includes(d.pathIncludes),
    );
    if (dropped) {
      dropped.remaining--;
      this.record(method, url, contentType, body, 0, at);
      if (dropped.midBody) {
        res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
        res.write('{"kind":"Status","apiVersion":"v1",', () => req.socket.destroy());
      } else req.socket.destroy();
      return;
    }
    const injected = this.failures.find(
      (f) => f.remaining > 0 && f.method === method && url.pathname.includes(f.pathIncludes),
    );
    if (injected) {
      injected.remaining--;
      if (injected.retryAfterSeconds !== undefined) {
        this.record(method, url, contentType, body, injected.status, at);
        const st = status(injected.status, injected.reason, 'Too many requests, please try again later.');
        (st as { details?: unknown }).details = { retryAfterSeconds: injected.retryAfterSeconds };
        this.send(res, injected.status, st, { 'retry-after': String(injected.retryAfterSeconds) });
        return;
      }
      return this.finish(
        req,
        res,
        url,
        at,
        contentType,
        body,
        injected.status,
        status(injected.status, injected.reason, 'injected failure'),
      );
    }
    const [code, payload] = this.route(method, url, contentType, body, res);
    if (code === 0) {
      this.record(method, url, contentType, body, 200, at);
      return; // a watch: the response stays open
    }
    this.finish(req, res, url, at, contentType, body, code, payload);
  }

  private finish(
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    at: bigint,
    ct: string | undefined,
    body: unknown,
    code: number,
    payload: unknown,
  ): void {
    this.record(req.method ?? '', url, ct, body, code, at);
    this.send(res, code, payload);
  }

  private record(
    method: string,
    url: URL,
    contentType: string | undefined,
    body: unknown,
    code: number,
    at: bigint,
  ): void {
    if (this.recordRequests)
      this.requests.push({
        method,
        path: url.pathname,
        query: url.searchParams,
        contentType,
        body,
        status: code,
        receivedAt: at,
      });
  }

  private send(
    res: ServerResponse,
    code: number,
    payload: unknown,
    headers: Record<string, string> = {},
  ): void {
    if (res.headersSent) return;
    const text = JSON.stringify(payload);
    res.writeHead(code, {
      ...headers,
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(text),
    });
    res.end(text);
  }

  /** Returns [status, body], or [0, undefined] when the response was taken over by a watch. */
  private route(
    method: string,
    url: URL,
    contentType: string | undefined,
    body: unknown,
    res: ServerResponse,
  ): [number, unknown] {
    const segs = url.pathname.split('/').filter((s) => s !== '');
    if (segs[0] === 'api' && segs.length === 1)
      return [200, { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [] }];
    if (segs[0] === 'apis' && segs.length === 1) return [200, this.groupList()];
    if (segs[0] === 'version') return [200, { major: '1', minor: '34', gitVersion: 'v1.34.0-fake' }];
    let group: string;
    let version: string;
    let rest: string[];
    if (segs[0] === 'api') {
      group = '';
      version = segs[1] ?? '';
      rest = segs.slice(2);
    } else if (segs[0] === 'apis') {
      group = segs[1] ?? '';
      version = segs[2] ?? '';
      rest = segs.slice(3);
    } else return [404, status(404, 'NotFound', 'the server could not find the requested resource')];
    if (rest.length === 0) return this.resourceList(group, version);
    let namespace: string | undefined;
    if (rest[0] === 'namespaces' && rest.length >= 3 && findResource(group, version, rest[2]!)) {
      namespace = rest[1];
      rest = rest.slice(2);
    }
    const rt = this.absent.has(`${group}/${rest[0]}`) ? undefined : findResource(group, version, rest[0]!);
    if (!rt) return [404, status(404, 'NotFound', 'the server could not find the requested resource')];
    const name = rest[1];
    const sub = rest[2];
    if (rt.namespaced && name !== undefined && namespace === undefined)
      return [404, status(404, 'NotFound', 'namespace required')];
    if (this.rbac) {
      const watching = url.searchParams.get('watch') === 'true' || url.searchParams.get('watch') === '1';
      const asked: RbacRequest = {
        verb: verbOf(method, name !== undefined, watching),
        group: rt.group,
        resource: sub !== undefined ? `${rt.plural}/${sub}` : rt.plural,
        ...(namespace !== undefined && { namespace }),
        ...(name !== undefined && { name }),
      };
      if (!this.rbac.allows(asked)) {
        this.forbidden.push(asked);
        return [403, status(403, 'Forbidden', this.rbac.message(asked))];
      }
    }
    try {
      if (name === undefined) {
        if (method === 'GET') {
          if (url.searchParams.get('watch') === 'true' || url.searchParams.get('watch') === '1') {
            return this.watch(rt, namespace, url.searchParams, res);
          }
          return this.listObjects(rt, namespace, url.searchParams);
        }
        if (method === 'POST') return this.create(rt, namespace, body, url.searchParams);
        return [405, status(405, 'MethodNotAllowed', 'method not allowed')];
      }
      if (sub === 'eviction') {
        if (rt.kind !== 'Pod') return [404, status(404, 'NotFound', 'no eviction subresource')];
        if (method !== 'POST') return [405, status(405, 'MethodNotAllowed', 'method not allowed')];
        return this.evict(namespace!, name, body, url.searchParams);
      }
      if (sub === 'scale') {
        if (!rt.scaleSubresource) return [404, status(404, 'NotFound', 'no scale subresource')];
        return this.scale(method, rt, namespace, name, contentType, body, url.searchParams);
      }
      if (sub !== undefined && sub !== 'status')
        return [404, status(404, 'NotFound', `unknown subresource ${sub}`)];
      if (sub === 'status' && !rt.statusSubresource)
        return [404, status(404, 'NotFound', 'no status subresource')];
      switch (method) {
        case 'GET': {
          const o = this.objects.get(this.key(rt, namespace, name));
          return o ? [200, o] : [404, notFound(rt, name)];
        }
        case 'PUT':
          return this.update(rt, namespace, name, body, sub === 'status', url.searchParams);
        case 'PATCH':
          return this.patch(rt, namespace, name, contentType, body, sub === 'status', url.searchParams);
        case 'DELETE':
          return this.delete(rt, namespace, name, body, url.searchParams);
        default:
          return [405, status(405, 'MethodNotAllowed', 'method not allowed')];
      }
    } catch (e) {
      if (e instanceof SelectorError) return [400, status(400, 'BadRequest', e.message)];
      if (e instanceof PatchError) return [422, status(422, 'Invalid', e.message)];
      throw e;
    }
  }

  private groupList(): unknown {
    const groups = [
      ...new Set(RESOURCE_TYPES.filter((t) => t.group !== '').map((t) => `${t.group}/${t.version}`)),
    ];
    return {
      kind: 'APIGroupList',
      apiVersion: 'v1',
      groups: groups.map((gv) => {
        const [g, v] = gv.split('/') as [string, string];
        return {
          name: g,
          versions: [{ groupVersion: gv, version: v }],
          preferredVersion: { groupVersion: gv, version: v },
        };
      }),
    };
  }

  private resourceList(group: string, version: string): [number, unknown] {
    const types = RESOURCE_TYPES.filter((t) => t.group === group && t.version === version);
    if (types.length === 0)
      return [404, status(404, 'NotFound', 'the server could not find the requested resource')];
    const resources: unknown[] = [];
    for (const t of types) {
      resources.push({
        name: t.plural,
        singularName: t.kind.toLowerCase(),
        namespaced: t.namespaced,
        kind: t.kind,
        verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'],
      });
      if (t.statusSubresource)
        resources.push({
          name: `${t.plural}/status`,
          singularName: '',
          namespaced: t.namespaced,
          kind: t.kind,
          verbs: ['get', 'patch', 'update'],
        });
      if (t.scaleSubresource)
        resources.push({
          name: `${t.plural}/scale`,
          singularName: '',
          namespaced: t.namespaced,
          group: 'autoscaling',
          version: 'v1',
          kind: 'Scale',
          verbs: ['get', 'patch', 'update'],
        });
    }
    return [
      200,
      {
        kind: 'APIResourceList',
        apiVersion: 'v1',
        groupVersion: group === '' ? version : `${group}/${version}`,
        resources,
      },
    ];
  }

  private selected(rt: ResourceType, namespace: string | undefined, q: URLSearchParams): (o: Obj) => boolean {
    const labels = parseLabelSelector(q.get('labelSelector') ?? '');
    const fields = parseFieldSelector(q.get('fieldSelector') ?? '');
    return (o) =>
      o.apiVersion === apiVersionOf(rt) &&
      o.kind === rt.kind &&
      (namespace === undefined || o.metadata.namespace === namespace) &&
      matchLabels(labels, o.metadata.labels) &&
      fields(o);
  }

  /**
   * A list, paginated as the real server does: with `limit`, at most that many items and a
   * `continue` token naming the snapshot's resourceVersion and the last key; a token whose snapshot
   * was compacted away gets 410 Expired.
   */
  private listObjects(
    rt: ResourceType,
    namespace: string | undefined,
    q: URLSearchParams,
  ): [number, unknown] {
    const pred = this.selected(rt, namespace, q);
    const limit = Number(q.get('limit') ?? '0');
    const token = q.get('continue');
    let rv = this.rv;
    let after = '';
    if (token !== null && token !== '') {
      let parsed: { rv?: unknown; key?: unknown };
      try {
        parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as typeof parsed;
      } catch {
        return [400, status(400, 'BadRequest', 'continue key is not valid')];
      }
      if (typeof parsed.rv !== 'number' || typeof parsed.key !== 'string')
        return [400, status(400, 'BadRequest', 'continue key is not valid')];
      if (parsed.rv < this.compactedBelow)
        return [
          410,
          status(
            410,
            'Expired',
            'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.',
          ),
        ];
      rv = parsed.rv;
      after = parsed.key;
    }
    const keys = [...this.objects.keys()].filter((k) => k > after).sort();
    const items: Obj[] = [];
    let next: string | undefined;
    for (const k of keys) {
      const o = this.objects.get(k)!;
      if (!pred(o)) continue;
      if (limit > 0 && items.length === limit) {
        next = Buffer.from(JSON.stringify({ rv, key: this.keyOfObj(items.at(-1)!) })).toString('base64url');
        break;
      }
      items.push(o);
    }
    this.listPages++;
    return [
      200,
      {
        kind: `${rt.kind}List`,
        apiVersion: apiVersionOf(rt),
        metadata: { resourceVersion: String(rv), ...(next !== undefined && { continue: next }) },
        items,
      },
    ];
  }

  private keyOfObj(o: Obj): string {
    return this.key(this.typeOf(o), o.metadata.namespace, o.metadata.name);
  }

  private watch(
    rt: ResourceType,
    namespace: string | undefined,
    q: URLSearchParams,
    res: ServerResponse,
  ): [number, unknown] {
    const labels = parseLabelSelector(q.get('labelSelector') ?? '');
    const fields = parseFieldSelector(q.get('fieldSelector') ?? '');
    const rvText = q.get('resourceVersion') ?? '';
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    const w: Watcher = {
      rt,
      namespace,
      labels,
      fields,
      res,
      bookmarks: q.get('allowWatchBookmarks') === 'true',
      stalled: false,
    };
    const from = rvText === '' || rvText === '0' ? undefined : Number(rvText);
    if (from !== undefined && (Number.isNaN(from) || from < this.compactedBelow - 1)) {
      res.write(
        JSON.stringify({
          type: 'ERROR',
          object: status(410, 'Expired', `too old resource version: ${rvText} (${this.compactedBelow})`),
        }) + '\n',
      );
      res.end();
      return [0, undefined];
    }
    if (from === undefined) {
      for (const o of this.objects.values()) if (this.matches(w, o)) this.write(w, 'ADDED', o);
    } else {
      for (const h of this.history)
        if (h.rv > from && h.rt === rt && this.matches(w, h.obj)) this.write(w, h.type, h.obj);
    }
    this.watchers.add(w);
    res.on('close', () => this.watchers.delete(w));
    const timeout = Number(q.get('timeoutSeconds') ?? '0');
    if (timeout > 0) {
      setTimeout(() => {
        this.watchers.delete(w);
        res.end();
      }, timeout * 1000).unref();
    }
    return [0, undefined];
  }

  private matches(w: Watcher, o: Obj): boolean {
    return (
      o.apiVersion === apiVersionOf(w.rt) &&
      o.kind === w.rt.kind &&
      (w.namespace === undefined || o.metadata.namespace === w.namespace) &&
      matchLabels(w.labels, o.metadata.labels) &&
      w.fields(o)
    );
  }

  private write(w: Watcher, type: string, obj: unknown): void {
    if (w.stalled || w.res.writableEnded) return;
    w.res.write(JSON.stringify({ type, object: obj }) + '\n');
  }

  private sendBookmarks(): void {
    for (const w of this.watchers) {
      if (w.bookmarks)
        this.write(w, 'BOOKMARK', {
          apiVersion: apiVersionOf(w.rt),
          kind: w.rt.kind,
          metadata: { resourceVersion: String(this.rv) },
        });
    }
  }

  private emit(rt: ResourceType, type: HistoryEntry['type'], obj: Obj): void {
    this.history.push({ rv: Number(obj.metadata.resourceVersion), type, rt, obj });
    if (this.history.length > 50_000) {
      const dropped = this.history.splice(0, 10_000);
      this.compactedBelow = (dropped.at(-1)?.rv ?? 0) + 1;
    }
    for (const w of this.watchers) if (w.rt === rt && this.matches(w, obj)) this.write(w, type, obj);
  }

  private store(rt: ResourceType, obj: Obj, type: 'ADDED' | 'MODIFIED'): void {
    obj.metadata.resourceVersion = String(++this.rv);
    this.objects.set(this.key(rt, obj.metadata.namespace, obj.metadata.name), obj);
    this.emit(rt, type, obj);
  }

  private typeOf(o: Record<string, unknown>): ResourceType {
    const rt = RESOURCE_TYPES.find((t) => apiVersionOf(t) === o.apiVersion && t.kind === o.kind);
    if (!rt) throw new Error(`unknown kind ${String(o.apiVersion)}/${String(o.kind)}`);
    return rt;
  }

  private key(rt: ResourceType, namespace: string | undefined, name: string): string {
    return `${rt.group}/${rt.plural}/${rt.namespaced ? (namespace ?? '') : ''}/${name}`;
  }

  private invalidBody(
    method: string,
    rt: ResourceType,
    kind: string,
    body: unknown,
  ): [number, unknown] | undefined {
    const problems = this.validator.validate(apiVersionOf(rt), kind, body);
    if (problems.length === 0) return undefined;
    this.invalid.push({ method, path: rt.plural, problems });
    return [422, status(422, 'Invalid', `${rt.kind} is invalid: ${problems.join('; ')}`)];
  }

  private checkDryRun(q: URLSearchParams): boolean {
    return q.getAll('dryRun').includes('All');
  }

  private create(
    rt: ResourceType,
    namespace: string | undefined,
    body: unknown,
    q: URLSearchParams,
  ): [number, unknown] {
    if (!isObj(body)) return [400, status(400, 'BadRequest', 'body must be an object')];
    const o = structuredClone(body) as Obj;
    if (o.apiVersion !== apiVersionOf(rt) || o.kind !== rt.kind) {
      this.invalid.push({
        method: 'POST',
        path: rt.plural,
        problems: [
          `apiVersion/kind ${String(o.apiVersion)}/${String(o.kind)} does not match ${apiVersionOf(rt)}/${rt.kind}`,
        ],
      });
      return [
        400,
        status(400, 'BadRequest', 'the API version in the data does not match the expected API version'),
      ];
    }
    if (!isObj(o.metadata))
      return this.invalidBody('POST', rt, rt.kind, o) ?? [422, status(422, 'Invalid', 'metadata required')];
    if (rt.namespaced) {
      if (o.metadata.namespace !== undefined && o.metadata.namespace !== namespace) {
        this.invalid.push({
          method: 'POST',
          path: rt.plural,
          problems: ['namespace in body does not match the URL'],
        });
        return [
          400,
          status(
            400,
            'BadRequest',
            'the namespace of the provided object does not match the namespace sent on the request',
          ),
        ];
      }
      o.metadata.namespace = namespace;
    }
    const generateName = o.metadata.generateName;
    if ((o.metadata.name as string | undefined) === undefined && typeof generateName === 'string') {
      o.metadata.name = generateName + randomUUID().slice(0, 5);
    }
    const bad = this.invalidBody('POST', rt, rt.kind, o);
    if (bad) return bad;
    if (rt.kind === 'Event') {
      const problem = eventProblem(apiVersionOf(rt), namespace, o);
      if (problem !== undefined) {
        this.invalid.push({ method: 'POST', path: rt.plural, problems: [problem] });
        return [422, status(422, 'Invalid', `Event "${o.metadata.name}" is invalid: ${problem}`)];
      }
    }
    if ((o.metadata.name as string | undefined) === undefined)
      return [422, status(422, 'Invalid', 'metadata.name: Required value')];
    const key = this.key(rt, namespace, o.metadata.name);
    if (this.objects.has(key))
      return [409, status(409, 'AlreadyExists', `${rt.plural} "${o.metadata.name}" already exists`)];
    if (rt.namespaced && !this.objects.has(this.key(RESOURCE_TYPES[1]!, undefined, namespace ?? ''))) {
      return [404, status(404, 'NotFound', `namespaces "${namespace ?? ''}" not found`)];
    }
    if (this.checkDryRun(q)) return [201, o];
    o.metadata.uid = randomUUID();
    o.metadata.creationTimestamp = new Date().toISOString();
    o.metadata.generation = 1;
    this.store(rt, o, 'ADDED');
    return [201, o];
  }

  private update(
    rt: ResourceType,
    namespace: string | undefined,
    name: string,
    body: unknown,
    statusOnly: boolean,
    q: URLSearchParams,
  ): [number, unknown] {
    if (!isObj(body)) return [400, status(400, 'BadRequest', 'body must be an object')];
    const next = structuredClone(body) as Obj;
    const bad = this.invalidBody('PUT', rt, rt.kind, next);
    if (bad) return bad;
    if (next.metadata.name !== name)
      return [400, status(400, 'BadRequest', 'the name of the object does not match the name on the URL')];
    const key = this.key(rt, namespace, name);
    const cur = this.objects.get(key);
    if (!cur) return [404, notFound(rt, name)];
    if (
      next.metadata.resourceVersion !== undefined &&
      next.metadata.resourceVersion !== cur.metadata.resourceVersion
    ) {
      return [
        409,
        status(
          409,
          'Conflict',
          `Operation cannot be fulfilled on ${rt.plural} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
        ),
      ];
    }
    return this.commit(rt, cur, next, statusOnly, q);
  }

  private commit(
    rt: ResourceType,
    cur: Obj,
    next: Obj,
    statusOnly: boolean,
    q: URLSearchParams,
  ): [number, unknown] {
    // A UID in the body is a precondition, as in the real server's update path.
    const wantUid = (next.metadata as { uid?: unknown } | undefined)?.uid;
    if (wantUid !== undefined && wantUid !== cur.metadata.uid)
      return [
        409,
        status(
          409,
          'Conflict',
          `Precondition failed: UID in precondition: ${JSON.stringify(wantUid)}, UID in object meta: ${cur.metadata.uid ?? ''}`,
        ),
      ];
    let merged: Obj;
    if (statusOnly) merged = { ...cur, status: next.status };
    else if (rt.statusSubresource) merged = { ...next, status: cur.status };
    else merged = next;
    if (merged.status === undefined) delete merged.status;
    merged.metadata = {
      ...merged.metadata,
      uid: cur.metadata.uid,
      name: cur.metadata.name,
      namespace: cur.metadata.namespace,
      creationTimestamp: cur.metadata.creationTimestamp,
    };
    merged.apiVersion = cur.apiVersion;
    merged.kind = cur.kind;
    const specChanged = JSON.stringify(merged.spec) !== JSON.stringify(cur.spec);
    if (rt.kind === 'Pod' && !statusOnly) {
      const problem = podUpdateProblem(cur, merged);
      if (problem !== undefined) {
        this.invalid.push({ method: 'PATCH', path: rt.plural, problems: [problem] });
        return [422, status(422, 'Invalid', problem)];
      }
    }
    merged.metadata.generation = (cur.metadata.generation ?? 1) + (specChanged && !statusOnly ? 1 : 0);
    if (this.checkDryRun(q)) return [200, merged];
    this.store(rt, merged, 'MODIFIED');
    return [200, merged];
  }

  private patch(
    rt: ResourceType,
    namespace: string | undefined,
    name: string,
    contentType: string | undefined,
    body: unknown,
    statusOnly: boolean,
    q: URLSearchParams,
  ): [number, unknown] {
    const key = this.key(rt, namespace, name);
    const cur = this.objects.get(key);
    let base: unknown = cur;
    if (!cur) {
      if (contentType !== 'application/apply-patch+yaml') return [404, notFound(rt, name)];
      base = {};
    }
    let next: unknown;
    switch (contentType ?? '') {
      case 'application/merge-patch+json':
        next = mergePatch(base, body);
        break;
      case 'application/strategic-merge-patch+json':
        if (
          rt.group !== '' &&
          !['apps', 'networking.k8s.io', 'coordination.k8s.io', 'events.k8s.io'].includes(rt.group)
        ) {
          return [
            415,
            status(
              415,
              'UnsupportedMediaType',
              'strategic merge patch is not supported for custom resources',
            ),
          ];
        }
        next = strategicMergePatch(base, body);
        break;
      case 'application/json-patch+json':
        next = jsonPatch(base, body);
        break;
      case 'application/apply-patch+yaml':
        if (!q.get('fieldManager'))
          return [422, status(422, 'Invalid', 'fieldManager is required for apply requests')];
        next = strategicMergePatch(base, body);
        break;
      default:
        return [
          415,
          status(
            415,
            'UnsupportedMediaType',
            `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml (got ${contentType ?? 'none'})`,
          ),
        ];
    }
    if (!isObj(next)) return [422, status(422, 'Invalid', 'patch did not produce an object')];
    const bad = this.invalidBody('PATCH', rt, rt.kind, next);
    if (bad) return bad;
    if (!cur) return this.create(rt, namespace, next, q);
    const rvInPatch = (next as Obj).metadata.resourceVersion;
    if (
      rvInPatch !== cur.metadata.resourceVersion &&
      isObj(body) &&
      isObj(body.metadata) &&
      body.metadata.resourceVersion !== undefined
    ) {
      return [409, status(409, 'Conflict', 'the object has been modified')];
    }
    return this.commit(rt, cur, next as Obj, statusOnly, q);
  }

  private delete(
    rt: ResourceType,
    namespace: string | undefined,
    name: string,
    body: unknown,
    q: URLSearchParams,
  ): [number, unknown] {
    if (body !== undefined) {
      const problems = this.validator.validate('v1', 'DeleteOptions', body);
      if (problems.length > 0) {
        this.invalid.push({ method: 'DELETE', path: rt.plural, problems });
        return [422, status(422, 'Invalid', problems.join('; '))];
      }
    }
    const key = this.key(rt, namespace, name);
    const cur = this.objects.get(key);
    if (!cur) return [404, notFound(rt, name)];
    const opts = (body ?? {}) as {
      preconditions?: { uid?: string; resourceVersion?: string };
      dryRun?: string[];
    };
    if (opts.preconditions?.uid !== undefined && opts.preconditions.uid !== cur.metadata.uid) {
      return [
        409,
        status(
          409,
          'Conflict',
          `Precondition failed: UID in precondition: ${opts.preconditions.uid}, UID in object meta: ${cur.metadata.uid ?? ''}`,
        ),
      ];
    }
    if (
      opts.preconditions?.resourceVersion !== undefined &&
      opts.preconditions.resourceVersion !== cur.metadata.resourceVersion
    ) {
      return [
        409,
        status(409, 'Conflict', 'Precondition failed: ResourceVersion in precondition does not match'),
      ];
    }
    if (this.checkDryRun(q) || opts.dryRun?.includes('All')) return [200, cur];
    this.objects.delete(key);
    const gone = { ...cur, metadata: { ...cur.metadata, resourceVersion: String(++this.rv) } } as Obj;
    this.emit(rt, 'DELETED', gone);
    return [200, gone];
  }

  /** policy/v1 Eviction: 429 while a PodDisruptionBudget allows no disruption, else a delete. */
  private evict(namespace: string, name: string, body: unknown, q: URLSearchParams): [number, unknown] {
    const e = (isObj(body) ? body : {}) as {
      apiVersion?: string;
      kind?: string;
      metadata?: { name?: string };
      deleteOptions?: unknown;
    };
    if (e.kind !== 'Eviction' || (e.apiVersion !== 'policy/v1' && e.apiVersion !== 'policy/v1beta1')) {
      this.invalid.push({ method: 'POST', path: 'pods/eviction', problems: ['body is not an Eviction'] });
      return [400, status(400, 'BadRequest', 'the body is not a policy/v1 Eviction')];
    }
    if (e.metadata?.name !== name)
      return [400, status(400, 'BadRequest', 'name in URL does not match name in Eviction object')];
    const podType = RESOURCE_TYPES[0]!;
    const pod = this.objects.get(this.key(podType, namespace, name));
    if (!pod) return [404, notFound(podType, name)];
    const budgets = this.list('policy/v1', 'PodDisruptionBudget', namespace) as unknown as DisruptionBudget[];
    const pods = this.list('v1', 'Pod', namespace);
    const blocked = blockingBudget(pod, budgets, pods);
    if (blocked !== undefined) {
      return [
        429,
        {
          ...status(
            429,
            'TooManyRequests',
            "Cannot evict pod as it would violate the pod's disruption budget.",
          ),
          details: {
            causes: [
              {
                reason: 'DisruptionBudget',
                message: `The disruption budget ${blocked} needs more healthy pods`,
              },
            ],
          },
        },
      ];
    }
    const [code, payload] = this.delete(podType, namespace, name, e.deleteOptions, q);
    if (code !== 200) return [code, payload];
    return [201, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', code: 201 }];
  }

  private scale(
    method: string,
    rt: ResourceType,
    namespace: string | undefined,
    name: string,
    contentType: string | undefined,
    body: unknown,
    q: URLSearchParams,
  ): [number, unknown] {
    const cur = this.objects.get(this.key(rt, namespace, name));
    if (!cur) return [404, notFound(rt, name)];
    const replicas = (cur.spec as { replicas?: number } | undefined)?.replicas ?? 1;
    const scaleObj = {
      apiVersion: 'autoscaling/v1',
      kind: 'Scale',
      metadata: { name, namespace, uid: cur.metadata.uid, resourceVersion: cur.metadata.resourceVersion },
      spec: { replicas },
      status: { replicas },
    };
    if (method === 'GET') return [200, scaleObj];
    let next: unknown;
    if (method === 'PUT') next = body;
    else if (method === 'PATCH') {
      if (contentType === 'application/json-patch+json') next = jsonPatch(scaleObj, body);
      else if (
        contentType === 'application/merge-patch+json' ||
        contentType === 'application/strategic-merge-patch+json'
      )
        next = mergePatch(scaleObj, body);
      else return [415, status(415, 'UnsupportedMediaType', 'unsupported patch type')];
    } else return [405, status(405, 'MethodNotAllowed', 'method not allowed')];
    const problems = this.validator.validate('autoscaling/v1', 'Scale', next);
    if (problems.length > 0) {
      this.invalid.push({ method, path: `${rt.plural}/scale`, problems });
      return [422, status(422, 'Invalid', problems.join('; '))];
    }
    const want = (next as { spec: { replicas?: number } }).spec.replicas ?? replicas;
    if (this.checkDryRun(q)) return [200, { ...scaleObj, spec: { replicas: want } }];
    const updated = { ...cur, spec: { ...(cur.spec as object), replicas: want } } as Obj;
    this.commit(rt, cur, updated, false, q);
    return [
      200,
      {
        ...scaleObj,
        spec: { replicas: want },
        metadata: { ...scaleObj.metadata, resourceVersion: String(this.rv) },
      },
    ];
  }
}

function isObj(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function status(code: number, reason: string, message: string): Record<string, unknown> {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
}

function notFound(rt: ResourceType, name: string): Record<string, unknown> {
  return status(404, 'NotFound', `${rt.plural}${rt.group ? '.' + rt.group : ''} "${name}" not found`);
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= MAX_BODY + 1) chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}
