/**
 * The one place Kubernetes API clients are made. Use `apiClient(kubeConfig, CoreV1Api)` instead of
 * `kubeConfig.makeApiClient(CoreV1Api)`: every client made from the same KubeConfig shares a
 * keep-alive connection pool (connection-pool.ts) and retries a request once when it lands on a
 * connection the server had just closed (stale-connection-retry.ts).
 *
 * Pools are named: the action executor uses its own (`ACTIONS_POOL`), so a burst of PolicyReport
 * writes or list calls never leaves a DELETE waiting for a free socket.
 *
 * `loadKubeConfig` (config.ts) returns a `KeepAliveKubeConfig`, whose `makeApiClient` is
 * `apiClient`: code that still calls `makeApiClient` on it gets the shared pool too.
 *
 * Authentication is still client-node's own (tokens, client certificates, exec/OIDC plugins,
 * re-read on every request); only the agent it builds is swapped for the pooled one.
 *
 * Watches (reflector.ts, client-node's Watch) do not go through here: each watch gets its own
 * connection from client-node, so long-running streams never occupy the pool's sockets.
 */
import {
  createConfiguration,
  KubeConfig,
  ServerConfiguration,
  type ApiConstructor,
  type ApiType,
  type RequestContext,
  type SecurityAuthentication,
} from '@kubernetes/client-node';
import { ConnectionPool, type ConnectionPoolOptions } from './connection-pool.js';
import { StaleConnectionRetry } from './stale-connection-retry.js';

/** The shared transport of one KubeConfig: its connection pool and its retrying HTTP library. */
export interface ApiTransport {
  readonly pool: ConnectionPool;
  readonly http: StaleConnectionRetry;
}

/** The pool every client uses unless it names another. */
export const SHARED_POOL = 'shared';
/** The action executor's pool: latency-sensitive writes, kept apart from bulk traffic. */
export const ACTIONS_POOL = 'actions';

const transports = new WeakMap<KubeConfig, Map<string, ApiTransport>>();

/**
 * The transport of pool `name` for `kubeConfig`, shared by every client made with that name
 * (created on first use; `options` apply only then). Exposed for shutdown (`pool.destroy()`) and
 * tests (`http.retries`).
 */
export function apiTransport(
  kubeConfig: KubeConfig,
  name: string = SHARED_POOL,
  options?: ConnectionPoolOptions,
): ApiTransport {
  let pools = transports.get(kubeConfig);
  if (pools === undefined) {
    pools = new Map();
    transports.set(kubeConfig, pools);
  }
  let t = pools.get(name);
  if (t === undefined) {
    t = { pool: new ConnectionPool(options), http: new StaleConnectionRetry() };
    pools.set(name, t);
  }
  return t;
}

/** Closes every pooled connection of `kubeConfig` (all pools). For shutdown and tests. */
export function closeApiConnections(kubeConfig: KubeConfig): void {
  for (const t of transports.get(kubeConfig)?.values() ?? []) t.pool.destroy();
}

/** Like `kubeConfig.makeApiClient(Api)`, with connection reuse through pool `poolName`. */
export function apiClient<T extends ApiType>(
  kubeConfig: KubeConfig,
  Api: ApiConstructor<T>,
  poolName: string = SHARED_POOL,
): T {
  const cluster = kubeConfig.getCurrentCluster();
  if (cluster === null) throw new Error('the current kubeconfig context names no cluster');
  const transport = apiTransport(kubeConfig, poolName);
  return new Api(
    createConfiguration({
      baseServer: new ServerConfiguration(cluster.server, {}),
      authMethods: { default: new PooledAuthentication(kubeConfig, transport.pool) },
      httpApi: transport.http,
    }),
  );
}

/** A KubeConfig whose `makeApiClient` reuses connections (the shared pool). */
export class KeepAliveKubeConfig extends KubeConfig {
  override makeApiClient<T extends ApiType>(Api: ApiConstructor<T>): T {
    return apiClient(this, Api);
  }
}

/** client-node's authentication, then the pooled agent in place of the per-request one. */
class PooledAuthentication implements SecurityAuthentication {
  constructor(
    private readonly kubeConfig: KubeConfig,
    private readonly pool: ConnectionPool,
  ) {}

  getName(): string {
    return 'kubeconfig-with-connection-reuse';
  }

  async applySecurityAuthentication(context: RequestContext): Promise<void> {
    await this.kubeConfig.applySecurityAuthentication(context);
    const agent = this.pool.agentFor(context.getAgent());
    if (agent !== undefined) context.setAgent(agent);
  }
}
