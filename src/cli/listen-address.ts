/**
 * The one parser of listen-address flags (`run --listen/--source-listen`, `cluster
 * --health-probe-bind-address/--metrics-bind-address/--http`): "host:port", "[v6]:port", ":port"
 * and, where the flag allows it, a bare "port". An empty host means `defaultHost`, which differs by
 * command: local mode stays on loopback, the cluster agent's probes must be reachable by the kubelet.
 */
import type { SourceAddress } from '../app/sources.js';

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

/** An input's address: "unix:/path" (a unix socket) or a TCP address as `parseListenAddress` reads it. */
export type { SourceAddress };

export function parseSourceAddress(value: string, options: ListenAddressOptions): SourceAddress {
  const v = value.trim();
  if (v.startsWith('unix:')) {
    // "unix:/run/x.sock" and gRPC's "unix:///run/x.sock" name the same file.
    const path = v.slice('unix:'.length).replace(/^\/\/(?=\/)/, '');
    if (!path.startsWith('/'))
      throw new Error(`invalid address ${JSON.stringify(value)} (want unix:/absolute/path)`);
    return { kind: 'unix', path };
  }
  return { kind: 'tcp', ...parseListenAddress(v, options) };
}

/** "0600" / "600" / "0o660" → 0o600 / 0o660; only permission bits, never setuid/sticky. */
export function parseSocketMode(value: string): number {
  const m = /^(?:0o?)?([0-7]{3})$/.exec(value.trim());
  if (!m) throw new Error(`invalid socket mode ${JSON.stringify(value)} (want octal, e.g. 0600 or 0660)`);
  return parseInt(m[1]!, 8);
}
