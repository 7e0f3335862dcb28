/**
 * Container IDs arrive in several spellings: `containerd://<64 hex>` in pod status, bare 64-hex from
 * Tetragon, 12-hex short IDs from Falco and docker, `cri-o://…`, and cgroup paths ending in
 * `cri-containerd-<id>.scope` or `crio-<id>.scope`. One normal form: lower-case hex without prefix.
 */
const RUNTIME_PREFIX = /^[a-z-]+:\/\//;
const SCOPE = /(?:cri-containerd-|crio-|docker-|containerd-)?([0-9a-f]{12,64})(?:\.scope)?$/;

export const SHORT_ID_LENGTH = 12;

export function normalizeContainerId(raw: string): string | undefined {
  const trimmed = raw.trim().toLowerCase().replace(RUNTIME_PREFIX, '');
  const last = trimmed.split('/').pop() ?? '';
  const m = SCOPE.exec(last);
  return m ? m[1] : undefined;
}
