/**
 * Runs a verdict's actions (Enforce only) with the safety limits around them, in this order:
 * 1. scope: a DaemonSet agent acts only on pods of its own node; in Deployment mode only the leader
 *    acts (cluster-wide writers);
 * 2. protected namespaces (kube-system by default) are skipped unless the action sets
 *    `allowProtectedNamespaces: true` or the policy carries the annotation
 *    `runtime.kyverno.io/allow-protected-namespaces: "true"`;
 * 3. dedup: one run per (policy, rule, resource, behavior) within the window — 1000 identical events
 *    make one deletePod;
 * 4. per-policy token bucket: over it, the verdict's actions are `rate-limited` (not queued).
 *    Dedup and the bucket are kept apart for inputs trusted to name host processes and the others,
 *    so forged events on an untrusted input can neither mark a resource as handled nor spend the
 *    policy's budget before the trusted input's verdict (and its `kill`) arrives;
 * 5. the global API budget: every API request waits for a token (bounded wait);
 * 6. dryRun (the executor's or the action's): server-side dry run, nothing persisted.
 * Every outcome goes to metrics and, through `reports`, into the PolicyReport result.
 */
import { AppsV1Api, CoreV1Api, NetworkingV1Api, type KubeConfig } from '@kubernetes/client-node';
import { ACTIONS_POOL, apiClient } from '../k8s/api-clients.js';
import type { KubeObject } from '../engine/runtime/index.js';
import type { Verdict } from '../contracts/verdict.js';
import { apiStatus } from '../k8s/errors.js';
import type { EventRecorder } from '../k8s/events.js';
import type { WorkloadRef } from '../k8s/pod-cache.js';
import type { Logger } from '../observability/logger.js';
import { actions as actionsMetric } from '../observability/metrics.js';
import { annotate } from './annotate.js';
import {
  BudgetExhausted,
  type ActionContext,
  type ActionHandler,
  type ActionTarget,
  type HandlerResult,
  type KubeClients,
} from './context.js';
import { cordon } from './cordon.js';
import { deletePod } from './delete-pod.js';
import { event } from './event.js';
import { isolate } from './isolate.js';
import { label } from './label.js';
import { patch } from './patch.js';
import {
  ALLOW_PROTECTED_ANNOTATION,
  DedupWindow,
  DEFAULT_PROTECTED_NAMESPACES,
  TokenBucket,
} from './safety.js';
import type { EventOrigin } from '../sources/types.js';
import { scale } from './scale.js';
import {
  actionName,
  type ActionName,
  type ActionOutcome,
  type ActionSpec,
  type ActionSpecMap,
  type KillAction,
} from '../contracts/actions.js';
import { webhook } from './webhook.js';
import type { WebhookDestinations } from './webhook-destination.js';

type KubeActionName = Exclude<ActionName, 'kill'>;

/** The origin assumed when the caller gives none: nothing is trusted by default. */
const UNKNOWN_ORIGIN: EventOrigin = Object.freeze({ source: 'unknown', trustedForKill: false });

const HANDLERS: { [K in KubeActionName]: ActionHandler<ActionSpecMap[K]> } = {
  deletePod,
  label,
  annotate,
  patch,
  isolate,
  scale,
  cordon,
  event,
  webhook,
};

/** What the executor needs from the cluster view (PodCache implements it). */
export interface TargetLookup {
  byPodUid(uid: string): KubeObject | undefined;
  byName(namespace: string, name: string): KubeObject | undefined;
  node(name: string): KubeObject | undefined;
  workloadOf(pod: KubeObject): Promise<WorkloadRef | undefined>;
}

export interface RateLimit {
  /** Tokens per second. */
  rate: number;
  /** Largest burst. */
  burst: number;
}

export interface ActionExecutorOptions {
  kubeConfig: KubeConfig;
  lookup?: TargetLookup;
  events?: EventRecorder;
  /** Receives every outcome for the verdict's report result. */
  reports?: { recordOutcomes(v: Verdict, outcomes: readonly ActionOutcome[]): void };
  /** Dedup window (default 60 s). */
  dedupWindowMs?: number;
  /** Per-policy limit on verdicts acted upon (default 10/s, burst 50). */
  perPolicy?: RateLimit;
  /** Global budget of API requests made by actions (default 20/s, burst 40). */
  apiBudget?: RateLimit & { maxWaitMs?: number; maxQueue?: number };
  /** Dry-run every action. */
  dryRun?: boolean;
  protectedNamespaces?: readonly string[];
  /** Policy annotations, to honour ALLOW_PROTECTED_ANNOTATION (key: "name" or "namespace/name"). */
  policyAnnotations?: (policyKey: string) => Record<string, string> | undefined;
  /** DaemonSet mode: act only on pods scheduled on this node. */
  nodeName?: string;
  /** Deployment mode with leader election: act only while leading. */
  isLeader?: () => boolean;
  /** Node-local `kill` (killForVerdict); absent → outcome `unavailable`. It decides on the origin's trust. */
  kill?: (spec: KillAction, verdict: Verdict, origin: EventOrigin) => Promise<HandlerResult>;
  /** Namespace of webhook Secrets without one (the release namespace). */
  namespace?: string;
  /** Allow http:// webhooks (tests, loopback receivers). */
  allowInsecureWebhooks?: boolean;
  /** Webhook destinations (--webhook-allow); default: anything but loopback, link-local and metadata. */
  webhookDestinations?: WebhookDestinations;
  logger?: Logger;
}

export class ActionExecutor {
  private readonly clients: KubeClients;
  private readonly dedup: DedupWindow;
  private readonly policyBuckets = new Map<string, TokenBucket>();
  private readonly budget: TokenBucket;
  private readonly protectedNamespaces: Set<string>;

  constructor(private readonly opts: ActionExecutorOptions) {
    this.clients = {
      core: apiClient(opts.kubeConfig, CoreV1Api, ACTIONS_POOL),
      apps: apiClient(opts.kubeConfig, AppsV1Api, ACTIONS_POOL),
      networking: apiClient(opts.kubeConfig, NetworkingV1Api, ACTIONS_POOL),
    };
    this.dedup = new DedupWindow(opts.dedupWindowMs ?? 60_000);
    const b = opts.apiBudget ?? { rate: 20, burst: 40 };
    this.budget = new TokenBucket(b.rate, b.burst, b.maxQueue ?? 10_000);
    this.protectedNamespaces = new Set(opts.protectedNamespaces ?? DEFAULT_PROTECTED_NAMESPACES);
  }

  /** Requests waiting for the global API budget. */
  get budgetQueue(): number {
    return this.budget.waiting;
  }

  /** `origin`: the input the event arrived on; untrusted (no `kill`) when absent. */
  async execute(verdict: Verdict, origin: EventOrigin = UNKNOWN_ORIGIN): Promise<ActionOutcome[]> {
    if (verdict.mode !== 'Enforce' || verdict.actions.length === 0) return [];
    const target = this.resolveTarget(verdict);
    const policyKey =
      verdict.policyNamespace !== undefined ? `${verdict.policyNamespace}/${verdict.policy}` : verdict.policy;
    const lane = origin.trustedForKill ? 'trusted' : 'untrusted';

    const scopeProblem = this.outOfScope(verdict, target);
    if (scopeProblem !== undefined)
      return this.finish(
        verdict,
        verdict.actions.map((a) => outcome(actionName(a), 'skipped', scopeProblem)),
        false,
      );

    const dedupKey = `${lane}\u0000${policyKey}\u0000${verdict.rule}\u0000${target.uid ?? `${target.namespace ?? ''}/${target.name}`}\u0000${verdict.behavior}`;
    if (!this.dedup.firstInWindow(dedupKey)) {
      return this.finish(
        verdict,
        verdict.actions.map((a) => outcome(actionName(a), 'deduplicated')),
        false,
      );
    }
    if (!this.policyBucket(`${lane}\u0000${policyKey}`).tryTake()) {
      this.dedup.forget(dedupKey); // let a later event try again once the policy is under its limit
      return this.finish(
        verdict,
        verdict.actions.map((a) =>
          outcome(actionName(a), 'rate-limited', `policy ${policyKey} over its action rate limit`),
        ),
        true,
      );
    }

    const results: ActionOutcome[] = [];
    for (const spec of verdict.actions) {
      results.push(await this.runOne(spec, verdict, target, policyKey, origin));
    }
    return this.finish(verdict, results, true);
  }

  private finish(verdict: Verdict, outcomes: ActionOutcome[], report: boolean): ActionOutcome[] {
    for (const o of outcomes) actionsMetric.inc({ action: o.action, outcome: o.outcome });
    if (report) this.opts.reports?.recordOutcomes(verdict, outcomes);
    return outcomes;
  }

  private outOfScope(verdict: Verdict, target: ActionTarget): string | undefined {
    if (this.opts.isLeader && !this.opts.isLeader()) return 'not the leader';
    // The engine only matches a namespaced policy in its namespace; checked again where it acts.
    if (verdict.policyNamespace !== undefined && target.namespace !== verdict.policyNamespace)
      return `policy of namespace ${verdict.policyNamespace} may not act in ${target.namespace ?? 'the cluster scope'}`;
    if (this.opts.nodeName !== undefined && target.kind === 'Pod') {
      const node = (target.object.spec as { nodeName?: string } | undefined)?.nodeName ?? verdict.event.node;
      if (node !== this.opts.nodeName)
        return `pod runs on node ${node ?? 'unknown'}, not ${this.opts.nodeName}`;
    }
    return undefined;
  }

  private isProtected(spec: ActionSpec, target: ActionTarget, policyKey: string): boolean {
    if (target.namespace === undefined || !this.protectedNamespaces.has(target.namespace)) return false;
    const name = actionName(spec);
    const fields = (spec as Record<string, { allowProtectedNamespaces?: boolean } | undefined>)[name];
    if (fields?.allowProtectedNamespaces === true) return false;
    return this.opts.policyAnnotations?.(policyKey)?.[ALLOW_PROTECTED_ANNOTATION] !== 'true';
  }

  private async runOne(
    spec: ActionSpec,
    verdict: Verdict,
    target: ActionTarget,
    policyKey: string,
    origin: EventOrigin,
  ): Promise<ActionOutcome> {
    const name = actionName(spec);
    const fields = (spec as Record<string, unknown>)[name] ?? {};
    if (this.isProtected(spec, target, policyKey))
      return outcome(name, 'skipped', `namespace ${target.namespace ?? ''} is protected`);
    try {
      if (name === 'kill') {
        if (!this.opts.kill)
          return outcome(name, 'unavailable', 'kill runs only on the node (no local runner here)');
        const r = await this.opts.kill(fields, verdict, origin);
        return outcome(name, r.outcome, r.detail);
      }
      const ctx: ActionContext = {
        clients: this.clients,
        verdict,
        target,
        dryRun: this.opts.dryRun === true || (fields as { dryRun?: boolean }).dryRun === true,
        budget: () => this.budget.take(this.opts.apiBudget?.maxWaitMs ?? 60_000),
        workloadOf: (pod) => this.opts.lookup?.workloadOf(pod) ?? Promise.resolve(undefined),
        events: this.opts.events,
        logger: this.opts.logger,
        variables: { request: { object: target.object }, object: target.object, event: verdict.event },
        webhook: {
          allowInsecureHttp: this.opts.allowInsecureWebhooks === true,
          namespace: this.opts.namespace ?? 'default',
          ...(this.opts.webhookDestinations && { destinations: this.opts.webhookDestinations }),
        },
      };
      const handler = HANDLERS[name] as ActionHandler<unknown>;
      const r = await handler(fields, ctx);
      return outcome(name, r.outcome, r.detail);
    } catch (err) {
      if (err instanceof BudgetExhausted) return outcome(name, 'rate-limited', err.message);
      const st = apiStatus(err);
      this.opts.logger?.warn(
        {
          action: name,
          policy: policyKey,
          rule: verdict.rule,
          resource: `${target.namespace ?? ''}/${target.name}`,
          code: st.code,
          reason: st.reason,
          err: st.message,
        },
        'action failed',
      );
      return outcome(name, 'failed', st.code > 0 ? `${st.code} ${st.reason}: ${st.message}` : st.message);
    }
  }

  private policyBucket(policyKey: string): TokenBucket {
    let b = this.policyBuckets.get(policyKey);
    if (!b) {
      const l = this.opts.perPolicy ?? { rate: 10, burst: 50 };
      b = new TokenBucket(l.rate, l.burst);
      this.policyBuckets.set(policyKey, b);
    }
    return b;
  }

  private resolveTarget(v: Verdict): ActionTarget {
    const ref = v.resource;
    const lookup = this.opts.lookup;
    let object: KubeObject | undefined;
    if (ref.kind === 'Node') object = lookup?.node(ref.name);
    else if (ref.uid !== undefined) object = lookup?.byPodUid(ref.uid);
    if (!object && ref.namespace !== undefined && ref.kind === 'Pod') {
      const byName = lookup?.byName(ref.namespace, ref.name);
      // Same name, other UID: a replacement pod, not the one the event was about.
      if (byName && (ref.uid === undefined || byName.metadata?.uid === ref.uid)) object = byName;
    }
    object ??= {
      apiVersion: ref.apiVersion,
      kind: ref.kind,
      metadata: { name: ref.name, namespace: ref.namespace, uid: ref.uid },
    };
    return {
      object,
      kind: ref.kind,
      name: ref.name,
      namespace: ref.namespace,
      uid: ref.uid ?? object.metadata?.uid,
    };
  }
}

function outcome(action: ActionName, result: ActionOutcome['outcome'], detail?: string): ActionOutcome {
  const o: ActionOutcome = { action, outcome: result, time: new Date().toISOString() };
  if (detail !== undefined) o.detail = detail;
  return o;
}
