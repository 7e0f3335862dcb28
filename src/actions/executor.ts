/**
 * Cluster mode's action runner: the shared pipeline (runner.ts) with the cluster's guards, in this
 * order (guards.ts documents each refusal): available (kill only with the node-local hook), trust (kill
 * only from inputs trusted to name host processes), scope (DaemonSet: own node's pods; Deployment:
 * only the leader; a namespaced policy only in its namespace), protected namespaces, dedup (one run per
 * action, target and behavior in the window; an action that did not act leaves no entry), per-policy
 * rate limit, the global API budget, dry-run; then the Kubernetes handler or the kill hook.
 * Dedup and the rate limit keep inputs trusted to name host processes and the others apart, so forged
 * events on an untrusted input can neither mark a resource as handled nor spend the policy's budget
 * before the trusted input's verdict (and its `kill`) arrives.
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
import { annotate } from './annotate.js';
import { blockOutcome } from './block.js';
import {
  type ActionContext,
  type ActionHandler,
  type ActionTarget,
  type HandlerResult,
  type KubeClients,
} from './context.js';
import { cordon } from './cordon.js';
import { deletePod } from './delete-pod.js';
import { drain } from './drain.js';
import { CniProbe } from './cni.js';
import { event } from './event.js';
import { isolate } from './isolate.js';
import { label } from './label.js';
import { patch } from './patch.js';
import type { ActionCall, ActionResult } from './chain.js';
import {
  ApiBudgetGuard,
  available,
  DedupGuard,
  dryRun,
  protectedNamespaces,
  RateLimitGuard,
  scope,
  trust,
} from './guards.js';
import { OutcomeSink } from './outcome-sink.js';
import { ActionRunner } from './runner.js';
import type { EventOrigin } from '../sources/types.js';
import { scale } from './scale.js';
import type { ActionName, ActionOutcome, ActionSpecMap, KillAction } from '../contracts/actions.js';
import { webhook } from './webhook.js';
import { withRetry, type RetryOptions } from './retry.js';
import type { WebhookDestinations } from './webhook-destination.js';

type KubeActionName = Exclude<ActionName, 'kill' | 'block'>;

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
  drain,
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
  /** Retries of an action after a transient API failure (default: 4 attempts within 10 s). */
  retry?: RetryOptions;
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
  private readonly budget: ApiBudgetGuard;
  private readonly cni: CniProbe;
  private readonly runner: ActionRunner;
  private handling = 0;

  constructor(private readonly opts: ActionExecutorOptions) {
    this.clients = {
      core: apiClient(opts.kubeConfig, CoreV1Api, ACTIONS_POOL),
      apps: apiClient(opts.kubeConfig, AppsV1Api, ACTIONS_POOL),
      networking: apiClient(opts.kubeConfig, NetworkingV1Api, ACTIONS_POOL),
    };
    this.cni = new CniProbe(this.clients.apps);
    this.budget = new ApiBudgetGuard(opts.apiBudget ?? { rate: 20, burst: 40 });
    // Dedup and the bucket keep inputs trusted to name host processes apart from the others.
    const lane = (call: ActionCall): string => (call.origin.trustedForKill ? 'trusted' : 'untrusted');
    this.runner = new ActionRunner({
      guards: [
        available(
          (name) => (name !== 'kill' || opts.kill !== undefined) && name !== 'block',
          (name) =>
            name === 'block'
              ? "block is decided in the node's kernel, not by the cluster executor"
              : 'kill runs only on the node (no local runner here)',
        ),
        trust(),
        scope({ isLeader: opts.isLeader, nodeName: opts.nodeName }),
        protectedNamespaces({
          namespaces: opts.protectedNamespaces,
          policyAnnotations: opts.policyAnnotations,
        }),
        new DedupGuard({
          windowMs: opts.dedupWindowMs ?? 60_000,
          identity: (call) => ({
            lane: lane(call),
            target: call.target.uid ?? `${call.target.namespace ?? ''}/${call.target.name}`,
          }),
        }),
        new RateLimitGuard({ ...(opts.perPolicy ?? { rate: 10, burst: 50 }), lane }),
        this.budget,
        dryRun(opts.dryRun === true),
      ],
      handler: (call) => this.handle(call),
      sink: new OutcomeSink({
        logger: opts.logger,
        ...(opts.reports && { report: (v, o) => opts.reports!.recordOutcomes(v, o) }),
      }),
      resolveTarget: (v) => this.resolveTarget(v),
    });
  }

  /** Actions between the guards and their handler's answer (API requests in flight). */
  get inFlight(): number {
    return this.handling;
  }

  /** Requests waiting for the global API budget. */
  get budgetQueue(): number {
    return this.budget.waiting;
  }

  /** `origin`: the input the event arrived on; untrusted (no `kill`) when absent. */
  async execute(verdict: Verdict, origin: EventOrigin = UNKNOWN_ORIGIN): Promise<ActionOutcome[]> {
    return this.runner.run(verdict, origin);
  }

  /** The handler at the end of the guards: the kill hook or the Kubernetes action. */
  private async handle(call: ActionCall): Promise<ActionResult> {
    const { name, fields, verdict, target } = call;
    this.handling++;
    try {
      if (name === 'kill') {
        // The available guard let it through only with a hook.
        const r = await this.opts.kill!(fields, verdict, call.origin);
        return { ...result(r), by: 'handler' };
      }
      if (name === 'block') return { ...blockOutcome(verdict, call.origin), by: 'handler' };
      const ctx: ActionContext = {
        clients: this.clients,
        verdict,
        target,
        dryRun: call.dryRun === true,
        budget: call.budget ?? ((): Promise<boolean> => Promise.resolve(true)),
        workloadOf: (pod) => this.opts.lookup?.workloadOf(pod) ?? Promise.resolve(undefined),
        events: this.opts.events,
        cni: this.cni,
        logger: this.opts.logger,
        variables: { request: { object: target.object }, object: target.object, event: verdict.event },
        webhook: {
          allowInsecureHttp: this.opts.allowInsecureWebhooks === true,
          namespace: this.opts.namespace ?? 'default',
          ...(this.opts.webhookDestinations && { destinations: this.opts.webhookDestinations }),
        },
      };
      // The available guard never lets `block` through.
      const handler = HANDLERS[name] as ActionHandler<unknown>;
      // A 429/5xx/no answer from the API server is retried here, bounded; past the bound it is `failed`
      // (dedup entry given back). Not a webhook: a POST that timed out may have been delivered.
      const r =
        name === 'webhook'
          ? await handler(fields, ctx)
          : await withRetry(name, () => handler(fields, ctx), this.opts.retry);
      return { ...result(r), by: 'handler' };
    } catch (err) {
      const st = apiStatus(err);
      return {
        outcome: 'failed',
        detail: st.code > 0 ? `${st.code} ${st.reason}: ${st.message}` : st.message,
        by: 'handler',
      };
    } finally {
      this.handling--;
    }
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

function result(r: HandlerResult): HandlerResult {
  return r.detail !== undefined ? { outcome: r.outcome, detail: r.detail } : { outcome: r.outcome };
}
