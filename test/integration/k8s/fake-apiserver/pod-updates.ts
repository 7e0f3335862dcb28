/**
 * The API server's pod update validation (ValidatePodUpdate): a running pod's spec is immutable
 * except container/init container images, activeDeadlineSeconds, added tolerations and
 * terminationGracePeriodSeconds (to a positive value when it was negative); metadata.name and
 * namespace never change. The answer is the real server's 422 text.
 */
type Json = Record<string, unknown>;

function stripMutable(spec: Json | undefined, keepTolerations: unknown): Json {
  const s = structuredClone(spec ?? {});
  for (const field of ['containers', 'initContainers'] as const) {
    const list = s[field];
    if (Array.isArray(list)) for (const c of list as Json[]) delete c.image;
  }
  delete s.activeDeadlineSeconds;
  delete s.terminationGracePeriodSeconds;
  // Gates can be removed until the pod is scheduled (Kubernetes 1.27+).
  delete s.schedulingGates;
  s.tolerations = keepTolerations;
  return s;
}

/** The 422 message when `next` changes an immutable pod field, else undefined. */
export function podUpdateProblem(old: Json, next: Json): string | undefined {
  const oldSpec = old.spec as Json | undefined;
  const nextSpec = next.spec as Json | undefined;
  // Tolerations may only be added to: compare the old ones against the new list's prefix.
  const oldTol = (oldSpec?.tolerations ?? []) as unknown[];
  const nextTol = (nextSpec?.tolerations ?? []) as unknown[];
  const tolerationsOk = JSON.stringify(nextTol.slice(0, oldTol.length)) === JSON.stringify(oldTol);
  const same = JSON.stringify(stripMutable(oldSpec, null)) === JSON.stringify(stripMutable(nextSpec, null));
  if (same && tolerationsOk) return undefined;
  const name = (old.metadata as { name?: string } | undefined)?.name ?? '';
  return (
    `Pod "${name}" is invalid: spec: Forbidden: pod updates may not change fields other than ` +
    '`spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,' +
    '`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` ' +
    '(allow it to be set to 1 if it was previously negative)'
  );
}
