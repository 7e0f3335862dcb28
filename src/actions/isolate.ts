/**
 * isolate: cut a pod off the network without killing it (so it can be investigated):
 * 1. create a NetworkPolicy `kyverno-runtime-isolate-<pod>` selecting `<label>=<pod uid>` (default label
 *    runtime.kyverno.io/quarantine) with policyTypes [Ingress, Egress]: no ingress rule (all ingress
 *    denied) and only the egress the action allows (`allowEgress`: DNS, CIDRs, namespaces; none by
 *    default). It is owned by the pod, so it is garbage-collected with it. Selecting the UID, not the
 *    name, means a replacement pod of the same name never inherits the isolation; a policy of that
 *    name left by a predecessor (awaiting garbage collection) is taken over, not trusted;
 * 2. label the pod `<label>=<pod uid>` (under a UID precondition) and annotate it with the reason.
 * Then it checks what the API server cannot: whether the network plugin enforces NetworkPolicies at
 * all (cni.ts) and which other NetworkPolicies still allow traffic to or from the pod (policies are
 * additive: any of them that selects the pod and has rules keeps that traffic open). Both are named
 * in the outcome's detail as a warning.
 * `kyverno-runtime release <ns>/<pod>` (release.ts) undoes 1 and 2.
 */
import type { V1NetworkPolicy } from '@kubernetes/client-node';
import { model } from '../k8s/model.js';
import { selectorMatches, type LabelSelector } from '../engine/match/selector.js';
import { apiStatus } from '../k8s/errors.js';
import { DRY_RUN_ALL, spend, type ActionContext, type ActionHandler } from './context.js';
import { patchTarget } from './kube-patch.js';
import type { IsolateAction } from '../contracts/actions.js';
import {
  ISOLATION_POLICY_LABEL,
  isolationPolicyName,
  QUARANTINE_LABEL,
  QUARANTINE_REASON_ANNOTATION,
} from './quarantine.js';

/** The egress rules `allowEgress` asks for (none: all egress denied). */
/** Plain JSON (the API's shape), not client-node's classes. */
type EgressRule = Record<string, unknown>;

export function egressRules(allow: IsolateAction['allowEgress']): EgressRule[] {
  const rules: EgressRule[] = [];
  if (allow?.dns === true)
    rules.push({
      to: [
        {
          namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } },
          podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } },
        },
      ],
      ports: [
        { protocol: 'UDP', port: 53 },
        { protocol: 'TCP', port: 53 },
      ],
    });
  if (allow?.cidrs !== undefined && allow.cidrs.length > 0)
    rules.push({ to: allow.cidrs.map((cidr) => ({ ipBlock: { cidr } })) });
  if (allow?.namespaces !== undefined && allow.namespaces.length > 0)
    rules.push({
      to: allow.namespaces.map((ns) => ({
        namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': ns } },
      })),
    });
  return rules;
}

export interface IsolationPolicy {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; resourceVersion?: string; [k: string]: unknown };
  spec: Record<string, unknown>;
}

export function isolationPolicy(
  ctx: Pick<ActionContext, 'target'>,
  label: string,
  allow?: IsolateAction['allowEgress'],
): IsolationPolicy {
  const { target } = ctx;
  const egress = egressRules(allow);
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: {
      name: isolationPolicyName(target.name),
      namespace: target.namespace,
      labels: { 'app.kubernetes.io/managed-by': 'kyverno-runtime', [ISOLATION_POLICY_LABEL]: 'true' },
      ownerReferences: [{ apiVersion: 'v1', kind: 'Pod', name: target.name, uid: target.uid! }],
    },
    spec: {
      podSelector: { matchLabels: { [label]: target.uid! } },
      policyTypes: ['Ingress', 'Egress'],
      ...(egress.length > 0 && { egress }),
    },
  };
}

/** Other NetworkPolicies that select the pod and still allow some traffic, e.g. `web (ingress)`. */
export function openingPolicies(
  policies: readonly V1NetworkPolicy[],
  labels: Readonly<Record<string, string>>,
  ours: string,
): string[] {
  const out: string[] = [];
  for (const np of policies) {
    const name = np.metadata?.name ?? '';
    if (name === ours || np.spec === undefined) continue;
    let selected: boolean;
    try {
      selected = selectorMatches(np.spec.podSelector as LabelSelector, labels);
    } catch {
      selected = true; // a selector we cannot read: assume the worst
    }
    if (!selected) continue;
    const types = np.spec.policyTypes ?? (np.spec.egress !== undefined ? ['Ingress', 'Egress'] : ['Ingress']);
    const open: string[] = [];
    if (types.includes('Ingress') && (np.spec.ingress?.length ?? 0) > 0) open.push('ingress');
    if (types.includes('Egress') && (np.spec.egress?.length ?? 0) > 0) open.push('egress');
    if (open.length > 0) out.push(`${name} (${open.join(', ')})`);
  }
  return out;
}

export const isolate: ActionHandler<IsolateAction> = async (spec, ctx) => {
  const { target } = ctx;
  if (target.kind !== 'Pod' || target.namespace === undefined || target.uid === undefined) {
    return { outcome: 'skipped', detail: 'isolate needs a pod with a known UID' };
  }
  const label = spec.label ?? QUARANTINE_LABEL;
  const policy = isolationPolicy(ctx, label, spec.allowEgress);
  const dryRun = ctx.dryRun ? { dryRun: DRY_RUN_ALL } : {};
  // NetworkPolicy first: if the label went on first and the policy failed, the pod would be marked
  // quarantined while still connected.
  await spend(ctx);
  try {
    await ctx.clients.networking.createNamespacedNetworkPolicy({
      namespace: target.namespace,
      body: model<V1NetworkPolicy>(policy),
      ...dryRun,
    });
  } catch (err) {
    if (apiStatus(err).code !== 409) throw err;
    // AlreadyExists: ours from an earlier run on this pod (keep it), or a predecessor's of the same
    // name selecting another UID (take it over: it isolates nobody that exists).
    const existing = await ctx.clients.networking.readNamespacedNetworkPolicy({
      name: policy.metadata.name,
      namespace: target.namespace,
    });
    if (existing.spec?.podSelector?.matchLabels?.[label] !== target.uid) {
      await spend(ctx);
      await ctx.clients.networking.replaceNamespacedNetworkPolicy({
        name: policy.metadata.name,
        namespace: target.namespace,
        body: model<V1NetworkPolicy>({
          ...policy,
          metadata: { ...policy.metadata, resourceVersion: existing.metadata?.resourceVersion },
        }),
        ...dryRun,
      });
    }
  }
  const reason = `${ctx.verdict.policy}/${ctx.verdict.rule}: ${ctx.verdict.message}`.slice(0, 1024);
  const skipped = await patchTarget(
    ctx,
    {
      metadata: { labels: { [label]: target.uid }, annotations: { [QUARANTINE_REASON_ANNOTATION]: reason } },
    },
    'merge',
  );
  if (skipped) return skipped;
  const warnings: string[] = [];
  const cni = await ctx.cni?.enforcement();
  if (cni?.enforcement === 'not-enforced')
    warnings.push(`the network plugin (${cni.plugin ?? 'unknown'}) does not enforce NetworkPolicies`);
  else if (cni?.enforcement === 'unknown')
    warnings.push('cannot tell whether the network plugin enforces NetworkPolicies');
  try {
    const others = await ctx.clients.networking.listNamespacedNetworkPolicy({ namespace: target.namespace });
    const labels = { ...(target.object.metadata?.labels ?? {}), [label]: target.uid };
    const open = openingPolicies(others.items, labels, policy.metadata.name);
    if (open.length > 0) warnings.push(`other NetworkPolicies still allow traffic: ${open.join('; ')}`);
  } catch (err) {
    warnings.push(`could not list other NetworkPolicies (${apiStatus(err).code})`);
  }
  const allowed = egressRules(spec.allowEgress).length > 0 ? 'all ingress and egress but the allowed' : 'all';
  return {
    outcome: ctx.dryRun ? 'dry-run' : 'succeeded',
    detail:
      `NetworkPolicy ${policy.metadata.name} denies ${allowed} traffic` +
      (warnings.length > 0 ? `; WARNING: ${warnings.join('; ')}` : ''),
  };
};
