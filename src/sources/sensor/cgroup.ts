/**
 * Container ID and pod UID from a cgroup path. Pure functions: the layouts are those of the kubelet
 * (cgroupfs and systemd drivers), containerd, CRI-O and Docker, under cgroup v1 and v2:
 *
 *   /kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod<uid_with_underscores>.slice/cri-containerd-<id>.scope
 *   /kubepods.slice/kubepods-pod<uid>.slice/crio-<id>.scope           (CRI-O, systemd driver)
 *   /kubepods/burstable/pod<uid>/<id>                                 (cgroupfs driver, any runtime)
 *   /system.slice/docker-<id>.scope    /docker/<id>                   (plain Docker)
 *   /system.slice/containerd.service/kubepods-…-pod<uid>.slice:cri-containerd:<id>   (containerd cgroup v1 systemd)
 */

export type ContainerRuntime = 'containerd' | 'cri-o' | 'docker' | 'unknown';

export interface CgroupIdentity {
  containerId?: string;
  podUid?: string;
  runtime?: ContainerRuntime;
}

const CONTAINER_ID = '[0-9a-f]{64}';
const UID = '[0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12}';

const CONTAINER_PATTERNS: { re: RegExp; runtime: ContainerRuntime }[] = [
  { re: new RegExp(`(?:^|[/:])cri-containerd[-:](${CONTAINER_ID})(?:\\.scope)?$`), runtime: 'containerd' },
  // crio-conmon-<id> is the monitor process next to the container, not the container itself.
  { re: new RegExp(`(?:^|/)crio-(${CONTAINER_ID})(?:\\.scope)?$`), runtime: 'cri-o' },
  { re: new RegExp(`(?:^|/)docker-(${CONTAINER_ID})\\.scope$`), runtime: 'docker' },
  { re: new RegExp(`^/docker/(${CONTAINER_ID})$`), runtime: 'docker' },
  { re: new RegExp(`/(${CONTAINER_ID})$`), runtime: 'unknown' },
];

/** Cgroup levels above a process searched for its container's cgroup. */
const MAX_ANCESTORS = 16;

const POD_UID = new RegExp(`pod(${UID})(?:\\.slice)?(?:/|:|$)`);

/** Parses one cgroup path (the part after "hierarchy-id:controllers:"). */
export function parseCgroupPath(path: string): CgroupIdentity {
  const out: CgroupIdentity = {};
  // A process may sit in a sub-cgroup of its container (systemd in a container, "init.scope").
  let end = path.length;
  while (end > 0 && path.charCodeAt(end - 1) === 0x2f) end--; // trailing '/' (a loop: `\/+$` is quadratic)
  const trimmed = path.slice(0, end);
  // Ancestors deepest first, at most MAX_ANCESTORS of them: a container's cgroup is its process's or a few
  // levels up, and a delegated subtree can be thousands of levels deep (each level rescanned per pattern).
  // As before: never the first segment alone, nothing for a path without '/'.
  const ancestors: string[] = [];
  const first = trimmed.indexOf('/');
  for (let cut = first < 0 ? -1 : trimmed.length; cut > first && ancestors.length < MAX_ANCESTORS;) {
    ancestors.push(trimmed.slice(0, cut));
    cut = trimmed.lastIndexOf('/', cut - 1);
  }
  for (const { re, runtime } of CONTAINER_PATTERNS) {
    for (const candidate of ancestors) {
      const m = re.exec(candidate);
      if (m?.[1]) {
        out.containerId = m[1];
        out.runtime = runtime;
        break;
      }
    }
    if (out.containerId) break;
  }
  const pod = POD_UID.exec(trimmed);
  if (pod?.[1]) out.podUid = pod[1].replace(/_/g, '-');
  return out;
}

/**
 * Parses /proc/<pid>/cgroup content (v1 "N:controllers:/path" lines, v2 "0::/path") and returns the
 * most specific identity: the first line that names a container, else the first naming a pod.
 */
export function parseProcCgroup(content: string): CgroupIdentity & { path?: string } {
  let best: (CgroupIdentity & { path?: string }) | undefined;
  let fallbackPath: string | undefined;
  for (const line of content.split('\n')) {
    const first = line.indexOf(':');
    const second = first < 0 ? -1 : line.indexOf(':', first + 1);
    if (second < 0) continue;
    const path = line.slice(second + 1);
    if (path !== '/' && fallbackPath === undefined) fallbackPath = path;
    const id = parseCgroupPath(path);
    if (id.containerId) return { ...id, path };
    if (id.podUid && !best) best = { ...id, path };
  }
  if (best) return best;
  const zero = /^0::(.*)$/m.exec(content)?.[1];
  return { path: zero && zero !== '/' ? zero : (fallbackPath ?? zero) };
}
