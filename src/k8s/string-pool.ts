/**
 * Shares the strings that repeat across cached pods. JSON.parse gives every pod its own copy of each
 * value longer than a few characters, so the image of a 300-replica Deployment, its owner's name,
 * the node's IP and a rollout annotation are stored once per pod. Only fields that repeat by nature
 * are pooled (never UIDs, container IDs or pod IPs, which would fill the pool for nothing), and the
 * pool is bounded: once full, new values are kept as they are (still correct, just not shared).
 */

/** Longest value pooled: longer ones are rare and would let a few pods fill the pool's memory. */
const MAX_POOLED_LENGTH = 256;

export class StringPool {
  private readonly strings = new Map<string, string>();

  constructor(private readonly maxEntries = 4096) {}

  get size(): number {
    return this.strings.size;
  }

  intern<T>(value: T): T {
    if (typeof value !== 'string' || value.length > MAX_POOLED_LENGTH) return value;
    const hit = this.strings.get(value);
    if (hit !== undefined) return hit as T;
    if (this.strings.size < this.maxEntries) this.strings.set(value, value);
    return value;
  }

  /** Pools every string value of a string map (labels, annotations) in place. */
  internValues(map: unknown): void {
    if (map === null || typeof map !== 'object' || Array.isArray(map)) return;
    const record = map as Record<string, unknown>;
    for (const key of Object.keys(record)) {
      const v = record[key];
      if (typeof v === 'string') record[key] = this.intern(v);
    }
  }
}

type Loose = Record<string, unknown> | undefined;
const obj = (v: unknown): Loose =>
  v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
const list = (v: unknown): Record<string, unknown>[] =>
  Array.isArray(v) ? v.filter((x): x is Record<string, unknown> => obj(x) !== undefined) : [];

function pool(pool: StringPool, o: Loose, keys: readonly string[]): void {
  if (o === undefined) return;
  for (const k of keys) if (typeof o[k] === 'string') o[k] = pool.intern(o[k]);
}

const CONTAINER_LISTS = ['containers', 'initContainers', 'ephemeralContainers'] as const;
const STATUS_LISTS = ['containerStatuses', 'initContainerStatuses', 'ephemeralContainerStatuses'] as const;

/**
 * Pools a pod's repeating strings in place (the object is the reflector's own copy): labels and
 * annotations, owner references, images, and the spec/status fields that name shared things.
 */
export function poolPodStrings(p: StringPool, pod: unknown): void {
  const root = obj(pod);
  const meta = obj(root?.metadata);
  if (meta) {
    p.internValues(meta.labels);
    p.internValues(meta.annotations);
    pool(p, meta, ['generateName']);
    for (const ref of list(meta.ownerReferences)) pool(p, ref, ['apiVersion', 'kind', 'name', 'uid']);
  }
  const spec = obj(root?.spec);
  pool(p, spec, ['nodeName', 'serviceAccountName', 'serviceAccount', 'schedulerName', 'priorityClassName']);
  for (const field of CONTAINER_LISTS) for (const c of list(spec?.[field])) pool(p, c, ['name', 'image']);
  const status = obj(root?.status);
  pool(p, status, ['hostIP']);
  for (const field of STATUS_LISTS)
    for (const cs of list(status?.[field])) pool(p, cs, ['name', 'image', 'imageID']);
}
