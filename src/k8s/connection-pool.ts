/**
 * Keep-alive HTTP(S) agents for the Kubernetes API, reused across requests.
 *
 * Why this exists: @kubernetes/client-node 1.4 builds a brand-new `https.Agent` for every request
 * (KubeConfig.applySecurityAuthentication), so every API call pays a TCP connect and, against a
 * real API server, a full TLS handshake. On loopback that was the whole p99 of an action
 * (docs/actions.md "Performance"); across a network it is one or more round trips more. The client
 * offers no option to keep an agent, so we keep one ourselves and swap it into each request.
 *
 * The TLS material still comes from client-node on every request (it re-reads CA files and runs
 * exec/OIDC credential plugins, which may rotate client certificates); when that material changes,
 * a new pooled agent takes over and the old one's idle sockets expire on their own.
 *
 * Only plain `http.Agent` / `https.Agent` are pooled. A cluster with `proxy-url` gets client-node's
 * proxy agent (hpagent / socks) untouched, one connection per request as before.
 */
import http from 'node:http';
import https from 'node:https';

export interface ConnectionPoolOptions {
  /**
   * How long an idle connection is kept (default 30 s). Below kube-apiserver's 90 s idle timeout, so
   * we close first; a server that announces a shorter `Keep-Alive: timeout=` hint (Node servers: 5 s)
   * is honoured by Node's agent.
   */
  idleTimeoutMs?: number;
  /**
   * Concurrent connections per API server (default unlimited, as client-node's own agents). Request
   * concurrency is bounded upstream (the action API budget, the report writer's concurrency); a cap
   * here would make the agent hand a freed socket straight to a queued request, the case where
   * node-fetch 2 reports spurious "Premature close" errors (node-fetch#1767).
   */
  maxSockets?: number;
  /**
   * Idle connections kept per API server (default 16; client-go keeps 25). Enough that a burst
   * (a report flush) finds warm connections next time, few enough not to load the API server with
   * idle sockets from every node's agent.
   */
  maxFreeSockets?: number;
}

/** The TLS fields client-node copies into its agent options; a change in any of them means a new agent. */
const TLS_FIELDS = ['ca', 'cert', 'key', 'pfx', 'passphrase', 'rejectUnauthorized', 'servername'] as const;

type TlsOptions = Pick<https.AgentOptions, (typeof TLS_FIELDS)[number]>;

export class ConnectionPool {
  private readonly agentOptions: http.AgentOptions;
  private plain: http.Agent | undefined;
  private tls: { agent: https.Agent; options: TlsOptions } | undefined;
  /** Agents handed out; the newest is in use, older ones drain (their idle sockets time out). */
  private readonly created: http.Agent[] = [];

  constructor(options: ConnectionPoolOptions = {}) {
    this.agentOptions = {
      keepAlive: true,
      // Applies to idle sockets only: Node's agent destroys a *free* socket on timeout; a socket
      // carrying a request is left alone (slow responses are bounded elsewhere).
      timeout: options.idleTimeoutMs ?? 30_000,
      maxSockets: options.maxSockets ?? Infinity,
      maxFreeSockets: options.maxFreeSockets ?? 16,
      scheduling: 'lifo', // reuse the most recently used socket: fewest sockets stay warm
    };
  }

  /**
   * The pooled agent to use instead of `fresh` (the per-request agent client-node just built), or
   * `fresh` itself when it is not a plain HTTP(S) agent (proxies).
   */
  agentFor(fresh: http.Agent | https.Agent | undefined): http.Agent | https.Agent | undefined {
    if (fresh === undefined) return undefined;
    // Exact classes only: proxy agents subclass these and must stay as client-node built them.
    if (fresh instanceof https.Agent)
      return fresh.constructor === https.Agent ? this.tlsAgent(fresh.options) : fresh;
    if (fresh.constructor === http.Agent) {
      if (this.plain === undefined) {
        this.plain = new http.Agent(this.agentOptions);
        this.created.push(this.plain);
      }
      return this.plain;
    }
    return fresh;
  }

  /** Closes every pooled connection (idle and busy). For shutdown and tests. */
  destroy(): void {
    for (const agent of this.created) agent.destroy();
    this.created.length = 0;
    this.plain = undefined;
    this.tls = undefined;
  }

  private tlsAgent(options: https.AgentOptions): https.Agent {
    if (this.tls !== undefined && sameTls(this.tls.options, options)) return this.tls.agent;
    const tlsOptions: TlsOptions = {};
    for (const field of TLS_FIELDS) {
      if (options[field] !== undefined) Object.assign(tlsOptions, { [field]: options[field] });
    }
    const agent = new https.Agent({ ...this.agentOptions, ...tlsOptions });
    this.tls = { agent, options: tlsOptions };
    this.created.push(agent);
    // Remember only the last few for destroy(): an agent replaced longer ago has had its idle
    // sockets expire, and nothing new is sent through it.
    while (this.created.length > 4) this.created.shift();
    return agent;
  }
}

function sameTls(a: TlsOptions, b: https.AgentOptions): boolean {
  return TLS_FIELDS.every((field) => sameValue(a[field], b[field]));
}

/** Equality for TLS option values: strings, booleans, Buffers, or arrays of them (CA bundles). */
function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Buffer.isBuffer(a) && Buffer.isBuffer(b)) return a.equals(b);
  if (Array.isArray(a) && Array.isArray(b))
    return a.length === b.length && a.every((x, i) => sameValue(x, b[i]));
  return false;
}
