/**
 * The one parser of listen-address flags (`run --listen/--source-listen`, `cluster
 * --health-probe-bind-address/--metrics-bind-address/--http`): "host:port", "[v6]:port", ":port"
 * and, where the flag allows it, a bare "port". An empty host means `defaultHost`, which differs by
 * command: local mode stays on loopback, the cluster agent's probes must be reachable by the kubelet.
 */
export interface ListenAddressOptions {
  /** Host used for ":port" (and a bare port). */
  defaultHost: string;
  /** Accept "8080" alone (run's flags do; the cluster flags follow controller-runtime's ":8081" form). */
  allowBarePort: boolean;
}

export function parseListenAddress(
  value: string,
  { defaultHost, allowBarePort }: ListenAddressOptions,
): { host: string; port: number } {
  // Surrounding blanks (a quoted " :8080" in a manifest) are dropped; blanks inside a host are not an
  // address and would reach listen() as a name to resolve.
  const m =
    /^(?:\[([^\]\s]+)\]|([^:\s]*)):(\d+)$/.exec(value.trim()) ??
    (allowBarePort ? /^()()(\d+)$/.exec(value.trim()) : null);
  const form = allowBarePort ? 'host:port, :port or port' : 'host:port or :port';
  if (!m) throw new Error(`invalid address ${JSON.stringify(value)} (want ${form})`);
  const port = Number(m[3]);
  if (port > 65535) throw new Error(`port out of range in ${JSON.stringify(value)}: ${port}`);
  return { host: m[1] || m[2] || defaultHost, port };
}
