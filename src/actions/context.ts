/**
 * What every Kubernetes action handler gets: the API clients, the pod cache, the event recorder, the
 * global API budget and the resolved target. A handler returns an outcome and a detail; the
 * executor (executor.ts) does dedup, rate limits, protected namespaces, dry-run, metrics and
 * reporting around it.
 */
import { KyvernoRuntimeError } from '../contracts/errors.js';
import type { AppsV1Api, CoreV1Api, NetworkingV1Api } from '@kubernetes/client-node';
import type { KubeObject } from '../engine/runtime/index.js';
import type { Verdict } from '../contracts/verdict.js';
import type { EventRecorder } from '../k8s/events.js';
import type { WorkloadRef } from '../k8s/pod-cache.js';
import type { Logger } from '../observability/logger.js';
import type { ActionOutcome } from '../contracts/actions.js';
import type { WebhookDestinations } from './webhook-destination.js';
import type { CniProbe } from './cni.js';

export interface KubeClients {
  core: CoreV1Api;
  apps: AppsV1Api;
  networking: NetworkingV1Api;
}

export interface ActionTarget {
  /** The resource the verdict is about, from the cache when it is there (else the verdict's copy). */
  object: KubeObject;
  kind: string;
  name: string;
  namespace: string | undefined;
  uid: string | undefined;
}

export interface ActionContext {
  clients: KubeClients;
  verdict: Verdict;
  target: ActionTarget;
  /** Server-side dry run: requests are validated and authorised by the API server, not persisted. */
  dryRun: boolean;
  /** Waits for one unit of the global API budget; false when the budget queue is exhausted. */
  budget: () => Promise<boolean>;
  workloadOf: (pod: KubeObject) => Promise<WorkloadRef | undefined>;
  events: EventRecorder | undefined;
  logger: Logger | undefined;
  /** Template context for {{ }} variables: request.object (the resource) and event. */
  variables: Record<string, unknown>;
  /** Whether the network plugin enforces NetworkPolicies (isolate); absent: not checked. */
  cni?: CniProbe;
  /** Webhook-only settings. */
  webhook: { allowInsecureHttp: boolean; namespace: string; destinations?: WebhookDestinations };
}

export type HandlerResult = Pick<ActionOutcome, 'outcome' | 'detail'>;

export type ActionHandler<S> = (spec: S, ctx: ActionContext) => Promise<HandlerResult>;

export const DRY_RUN_ALL = 'All';

/** Thrown by a handler when the API budget queue is exhausted. */
export class BudgetExhausted extends KyvernoRuntimeError {
  constructor() {
    super('E_API_BUDGET', 'global API budget exhausted');
  }
}

export async function spend(ctx: ActionContext): Promise<void> {
  if (!(await ctx.budget())) throw new BudgetExhausted();
}
