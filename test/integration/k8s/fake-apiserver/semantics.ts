/**
 * Rules of the real API server beyond a body's schema, in a module of their own:
 * - Events: one about a cluster-scoped object (a Node) is accepted only in `default`, one about a
 *   namespaced object only in that object's namespace, and a note is at most 1024 *bytes*
 *   (apimachinery counts `len(note)` in Go, i.e. UTF-8 bytes);
 * - Pods: an update may only change the mutable fields of the spec (images, activeDeadlineSeconds,
 *   tolerations, terminationGracePeriodSeconds, schedulingGates); anything else is 422 Forbidden;
 * - Eviction (`POST pods/<name>/eviction`, policy/v1): refused with 429 TooManyRequests when a
 *   PodDisruptionBudget selecting the pod allows no disruption, as the eviction REST handler does.
 */

export interface EventProblem {
  code: 422;
  message: string;
}

type Json = Record<string, unknown>;

const isObj = (v: unknown): v is Json => v !== null && typeof v === 'object' && !Array.isArray(v);

export const MAX_NOTE_BYTES = 1024;

/** The 422 the API server answers for an Event created in `namespace`, if any. */
export function eventProblem(
  apiVersion: string,
  namespace: string | undefined,
  body: Json,
): string | undefined {
  const regarding = (apiVersion === 'v1' ? body.involvedObject : body.regarding) as Json | undefined;
  const text = apiVersion === 'v1' ? body.message : body.note;
  if (typeof text === 'string' && Buffer.byteLength(text) > MAX_NOTE_BYTES)
    return `${apiVersion === 'v1' ? 'message' : 'note'}: Too long: may not be more than ${MAX_NOTE_BYTES} bytes`;
  if (!isObj(regarding)) return undefined;
  const objNs = typeof regarding.namespace === 'string' ? regarding.namespace : '';
  if (objNs === '') {
    if (namespace !== 'default')
      return `regarding.namespace: Invalid value: "${namespace ?? ''}": does not match event.namespace (events about cluster-scoped objects belong in "default")`;
  } else if (objNs !== namespace) {
    return `regarding.namespace: Invalid value: "${objNs}": does not match event.namespace`;
  }
  return undefined;
}

export interface DisruptionBudget {
  metadata: { name: string; namespace?: string };
  spec?: {
    selector?: { matchLabels?: Record<string, string> };
    minAvailable?: number | string;
    maxUnavailable?: number | string;
  };
}

function selects(pdb: DisruptionBudget, labels: Record<string, string> | undefined): boolean {
  const want = pdb.spec?.selector?.matchLabels;
  if (want === undefined) return false;
  return Object.entries(want).every(([k, v]) => labels?.[k] === v);
}

function healthy(p: Json): boolean {
  const st = p.status as { phase?: string; conditions?: { type: string; status: string }[] } | undefined;
  if (st?.phase !== 'Running') return false;
  const ready = st.conditions?.find((c) => c.type === 'Ready');
  return ready === undefined || ready.status === 'True';
}

function resolve(value: number | string, total: number, roundUp: boolean): number {
  if (typeof value === 'number') return value;
  const pct = Number(value.replace('%', '')) / 100;
  return roundUp ? Math.ceil(pct * total) : Math.floor(pct * total);
}

/**
 * Whether evicting `pod` now is allowed by the namespace's budgets, given the pods that currently
 * exist. Returns the blocking budget's name, or undefined. Computed on every request from the live
 * pods (the real server reads the budget's status.disruptionsAllowed, which its controller keeps).
 */
export function blockingBudget(pod: Json, budgets: DisruptionBudget[], pods: Json[]): string | undefined {
  const labels = (pod.metadata as { labels?: Record<string, string> }).labels;
  for (const pdb of budgets) {
    if (!selects(pdb, labels)) continue;
    const members = pods.filter((p) =>
      selects(pdb, (p.metadata as { labels?: Record<string, string> }).labels),
    );
    const up = members.filter(healthy).length;
    const total = members.length;
    let allowed: number;
    if (pdb.spec?.minAvailable !== undefined) allowed = up - resolve(pdb.spec.minAvailable, total, true);
    else if (pdb.spec?.maxUnavailable !== undefined)
      allowed = resolve(pdb.spec.maxUnavailable, total, true) - (total - up);
    else allowed = 1;
    // An unhealthy pod may always be evicted (unhealthyPodEvictionPolicy AlwaysAllow).
    if (allowed <= 0 && healthy(pod)) return pdb.metadata.name;
  }
  return undefined;
}
