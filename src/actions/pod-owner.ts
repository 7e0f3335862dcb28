/**
 * What deletePod and drain check about a pod before removing it (as Falco Talon's terminate and drain
 * actionners do): the kind of its controller (DaemonSet pods come straight back on the same node;
 * StatefulSet pods carry identity; a standalone pod is gone for good), mirror pods (the kubelet's
 * static pods: deleting the mirror does nothing), and how many ready replicas its owner keeps besides
 * it. Reads only: the owner is read from the API server, which is the truth at the moment of acting.
 */
import type { KubeObject } from '../engine/runtime/index.js';
import type { OwnerKind } from '../contracts/actions.js';
import type { KubeClients } from './context.js';

interface OwnerRef {
  apiVersion: string;
  kind: string;
  name: string;
  uid?: string;
  controller?: boolean;
}

interface PodView {
  metadata?: {
    namespace?: string;
    annotations?: Record<string, string>;
    ownerReferences?: OwnerRef[];
  };
  status?: { phase?: string; conditions?: { type: string; status: string }[] };
}

export const MIRROR_ANNOTATION = 'kubernetes.io/config.mirror';

function view(pod: KubeObject): PodView {
  return pod;
}

/** The pod's controller, if any. */
export function controllerOf(pod: KubeObject): OwnerRef | undefined {
  return view(pod).metadata?.ownerReferences?.find((o) => o.controller === true);
}

/** The controller's kind as the options name it: `Standalone` without one, `Other` for anything else. */
export function ownerKindOf(pod: KubeObject): OwnerKind | 'Other' {
  const kind = controllerOf(pod)?.kind;
  if (kind === undefined) return 'Standalone';
  return (['DaemonSet', 'StatefulSet', 'ReplicaSet', 'Job'] as const).find((k) => k === kind) ?? 'Other';
}

export function isMirrorPod(pod: KubeObject): boolean {
  return view(pod).metadata?.annotations?.[MIRROR_ANNOTATION] !== undefined;
}

export function isReady(pod: KubeObject): boolean {
  const st = view(pod).status;
  return st?.phase === 'Running' && st.conditions?.find((c) => c.type === 'Ready')?.status !== 'False';
}

/** Ready replicas of the pod's controller, read now; undefined when it has none or cannot be read. */
export async function ownerReadyReplicas(clients: KubeClients, pod: KubeObject): Promise<number | undefined> {
  const owner = controllerOf(pod);
  const namespace = view(pod).metadata?.namespace;
  if (!owner || namespace === undefined) return undefined;
  const req = { name: owner.name, namespace };
  switch (owner.kind) {
    case 'ReplicaSet':
      return (await clients.apps.readNamespacedReplicaSet(req)).status?.readyReplicas ?? 0;
    case 'StatefulSet':
      return (await clients.apps.readNamespacedStatefulSet(req)).status?.readyReplicas ?? 0;
    case 'DaemonSet':
      return (await clients.apps.readNamespacedDaemonSet(req)).status?.numberReady ?? 0;
    default:
      return undefined;
  }
}

export interface OwnerRules {
  skipOwnerKinds?: readonly OwnerKind[];
  minHealthyReplicas?: number;
}

/** Why the pod must be left alone under `rules`, or undefined. */
export async function ownerProblem(
  clients: KubeClients,
  pod: KubeObject,
  rules: OwnerRules,
): Promise<string | undefined> {
  const kind = ownerKindOf(pod);
  if (kind !== 'Other' && rules.skipOwnerKinds?.includes(kind))
    return kind === 'Standalone' ? 'standalone pod (no controller)' : `owned by a ${kind}`;
  const min = rules.minHealthyReplicas;
  if (min !== undefined && min > 0) {
    const ready = kind === 'Standalone' ? 0 : await ownerReadyReplicas(clients, pod);
    if (ready === undefined)
      return `cannot tell how many replicas its owner keeps (minHealthyReplicas ${min})`;
    const others = ready - (isReady(pod) ? 1 : 0);
    if (others < min)
      return `its owner would keep ${others} ready replicas, fewer than minHealthyReplicas ${min}`;
  }
  return undefined;
}
