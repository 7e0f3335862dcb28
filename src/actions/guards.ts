/**
 * The guards an action passes before its handler (see runner.ts for how they compose). Each answers
 * with one documented refusal, or passes the call on. In the order the modes compose them:
 *
 * | guard                | refusal        | when                                                          |
 * | -------------------- | -------------- | ------------------------------------------------------------- |
 * | in-kernel (local)    | `succeeded`    | the sensor's probe already killed the process (kill, block)   |
 * | available            | `unavailable`  | this runner cannot run the action (no cluster; no kill hook)  |
 * | trust                | `refused`      | a `kill` from an input not trusted to name host processes     |
 * | scope                | `skipped`*     | not the leader; namespaced policy outside its namespace;      |
 * |                      |                | DaemonSet agent and a pod of another node                     |
 * | protected-namespaces | `skipped`      | target in a protected namespace, not allowed by action/policy |
 * | dedup                | `deduplicated`*| the same action on the same target already ran in the window  |
 * | rate-limit           | `rate-limited` | the policy is over its per-policy action rate                 |
 * | api-budget           | `rate-limited` | the global API budget's wait queue is full or the wait too long |
 * | dry-run              | —              | marks the call dry-run (the handler reports `dry-run`)        |
 *
 * (*) quiet: counted and logged, not written over the report's outcome (another agent or an earlier
 * event owns it).
 */
import type { LRUCache } from 'lru-cache';
import { growingLru } from '../util/growing-lru.js';
import type { ActionName } from '../contracts/actions.js';
import { dedupKey, policyKey, type DedupIdentity } from '../contracts/keys.js';
import { TokenBucket } from '../util/token-bucket.js';
import { killedInKernel, refuseUntrusted } from './kill.js';
import {
  then,
  type ActionCall,
  type ActionResult,
  type Guard,
  type MaybePromise,
  type Step,
} from './chain.js';

type Outcome = ActionResult['outcome'];

function answer(by: string, outcome: Outcome, detail: string, quiet = false): ActionResult {
  return quiet ? { outcome, detail, by, quiet } : { outcome, detail, by };
}

// ---- in-kernel -------------------------------------------------------------------------------

/**
 * `kill` (and `block`, which falls back to it) on an event whose process the sensor's probe already
 * killed: reported as done, before dedup and the rate limit, and never signalled again (the pid may
 * be recycled by now).
 */
export function inKernel(): Guard {
  return {
    name: 'in-kernel',
    run(call, next) {
      if (call.name !== 'kill' && (call.name as string) !== 'block') return next(call);
      const done = killedInKernel(call.verdict.event, call.origin);
      return done === undefined ? next(call) : answer('in-kernel', 'succeeded', done);
    },
  };
}

// ---- available -------------------------------------------------------------------------------

/** Refuses, as `unavailable` with `detail`, the actions `has` says this runner cannot run. */
export function available(has: (name: ActionName) => boolean, detail: (name: ActionName) => string): Guard {
  return {
    name: 'available',
    run: (call, next) =>
      has(call.name) ? next(call) : answer('available', 'unavailable', detail(call.name)),
  };
}

// ---- trust -----------------------------------------------------------------------------------

/**
 * `kill` acts on the word of the event: only inputs trusted to name host processes may ask for it.
 * Refused before dedup and the rate limit, so a forged flood can neither mark the process as handled
 * nor spend the policy's budget ahead of the sensor's genuine event. Counted in
 * kyverno_runtime_action_refused_total{reason="untrusted-source"}.
 */
export function trust(): Guard {
  return {
    name: 'trust',
    run(call, next) {
      if (call.name !== 'kill') return next(call);
      const refused = refuseUntrusted(call.origin);
      return refused ? { outcome: refused.outcome, detail: refused.detail, by: 'trust' } : next(call);
    },
  };
}

// ---- scope -----------------------------------------------------------------------------------

export interface ScopeOptions {
  /** Deployment mode with leader election: act only while leading. */
  isLeader?: () => boolean;
  /** DaemonSet mode: act only on pods scheduled on this node. */
  nodeName?: string;
}

/** Where this agent may act at all. Quiet: the agent that may act reports the outcome. */
export function scope(opts: ScopeOptions): Guard {
  const problem = (call: ActionCall): string | undefined => {
    const { verdict, target } = call;
    if (opts.isLeader && !opts.isLeader()) return 'not the leader';
    // The engine only matches a namespaced policy in its namespace; checked again where it acts.
    if (verdict.policyNamespace !== undefined && target.namespace !== verdict.policyNamespace)
      return `policy of namespace ${verdict.policyNamespace} may not act in ${target.namespace ?? 'the cluster scope'}`;
    if (opts.nodeName !== undefined && target.kind === 'Pod') {
      const node = (target.object.spec as { nodeName?: string } | undefined)?.nodeName ?? verdict.event.node;
      if (node !== opts.nodeName) return `pod runs on node ${node ?? 'unknown'}, not ${opts.nodeName}`;
    }
    return undefined;
  };
  return {
    name: 'scope',
    run(call, next) {
      const p = problem(call);
      return p === undefined ? next(call) : answer('scope', 'skipped', p, true);
    },
  };
}

// ---- protected namespaces --------------------------------------------------------------------

/** Policy annotation that lets a policy's actions touch protected namespaces. */
export const ALLOW_PROTECTED_ANNOTATION = 'runtime.kyverno.io/allow-protected-namespaces';
export const DEFAULT_PROTECTED_NAMESPACES: readonly string[] = ['kube-system'];

export interface ProtectedNamespacesOptions {
  namespaces?: readonly string[];
  /** Policy annotations by policyKey, to honour ALLOW_PROTECTED_ANNOTATION. */
  policyAnnotations?: (policyKey: string) => Record<string, string> | undefined;
}

/**
 * Never acts in a protected namespace unless the action sets `allowProtectedNamespaces: true` or the
 * policy carries ALLOW_PROTECTED_ANNOTATION. Before dedup and the rate limit: a refusal spends neither.
 */
export function protectedNamespaces(opts: ProtectedNamespacesOptions = {}): Guard {
  const namespaces = new Set(opts.namespaces ?? DEFAULT_PROTECTED_NAMESPACES);
  return {
    name: 'protected-namespaces',
    run(call, next) {
      const ns = call.target.namespace;
      if (
        ns === undefined ||
        !namespaces.has(ns) ||
        call.fields.allowProtectedNamespaces === true ||
        opts.policyAnnotations?.(policyKey(call.verdict))?.[ALLOW_PROTECTED_ANNOTATION] === 'true'
      )
        return next(call);
      return answer('protected-namespaces', 'skipped', `namespace ${ns} is protected`);
    },
  };
}

// ---- dedup -----------------------------------------------------------------------------------

/** Outcomes after which the action did not act: the entry is dropped so the next event can retry. */
const DID_NOT_ACT: ReadonlySet<Outcome> = new Set<Outcome>(['refused', 'failed', 'rate-limited']);

export interface DedupOptions {
  /** How long one run covers its repeats. */
  windowMs: number;
  /** Most entries remembered (oldest dropped first). Default 100,000. */
  max?: number;
  /** What makes two calls "the same action": lane, target, process... */
  identity: (call: ActionCall) => Omit<DedupIdentity, 'action'>;
  /** Refusal detail. */
  detail?: string;
}

/**
 * One run per (lane, policy, rule, target, behavior, action[, process]) within the window, whatever the
 * number of identical events. The entry is taken before the action runs (so concurrent repeats are
 * deduplicated) and given back when the action did not act (refused, failed, rate-limited): a refused
 * kill must not shield the process from the next, genuine event, and a 429/5xx/timeout can be retried.
 */
export class DedupGuard implements Guard {
  readonly name = 'dedup';
  private readonly seen: LRUCache<string, true>;

  constructor(private readonly opts: DedupOptions) {
    this.seen = growingLru(opts.max ?? 100_000, { ttl: opts.windowMs, ttlAutopurge: false });
  }

  run(call: ActionCall, next: Step): MaybePromise<ActionResult> {
    const key = dedupKey(call.verdict, { ...this.opts.identity(call), action: `${call.index}:${call.name}` });
    if (this.seen.has(key))
      return answer(
        this.name,
        'deduplicated',
        this.opts.detail ?? 'already acted on within the dedup window',
        true,
      );
    this.seen.set(key, true);
    return then(next(call), (r) => {
      if (DID_NOT_ACT.has(r.outcome)) this.seen.delete(key);
      return r;
    });
  }
}

// ---- per-policy rate limit -------------------------------------------------------------------

export interface RateLimitOptions {
  /** Verdicts acted upon per second, per policy (and lane). */
  rate: number;
  burst: number;
  /** Which input class pays: trusted and untrusted inputs have separate buckets. */
  lane: (call: ActionCall) => string;
}

/**
 * One token per verdict acted upon (not per action); over the limit, the verdict's remaining actions are
 * `rate-limited`, not queued: a runaway policy must not eventually act on everything. One bucket per
 * policy and lane: bounded by the loaded policies, which the operator controls.
 */
export class RateLimitGuard implements Guard {
  readonly name = 'rate-limit';
  private readonly buckets = new Map<string, TokenBucket>();

  constructor(private readonly opts: RateLimitOptions) {}

  run(call: ActionCall, next: Step): MaybePromise<ActionResult> {
    let allowed = call.perVerdict.get(this.name) as boolean | undefined;
    if (allowed === undefined) {
      allowed = this.bucket(`${this.opts.lane(call)}\u0000${policyKey(call.verdict)}`).tryTake();
      call.perVerdict.set(this.name, allowed);
    }
    return allowed
      ? next(call)
      : answer(this.name, 'rate-limited', `policy ${policyKey(call.verdict)} is over its action rate limit`);
  }

  private bucket(key: string): TokenBucket {
    let b = this.buckets.get(key);
    if (!b) {
      b = new TokenBucket(this.opts.rate, this.opts.burst);
      this.buckets.set(key, b);
    }
    return b;
  }
}

// ---- API budget ------------------------------------------------------------------------------

export interface ApiBudgetOptions {
  /** API requests per second, across all actions. */
  rate: number;
  burst: number;
  /** Longest wait for a token. Default 60 s. */
  maxWaitMs?: number;
  /** Most requests waiting. Default 10,000. */
  maxQueue?: number;
}

/**
 * Every API request an action makes waits (FIFO, bounded) for a token of one global budget, so a burst
 * of violations reaches the API server at a rate it tolerates. A full queue or a too-long wait makes
 * the action `rate-limited`.
 */
export class ApiBudgetGuard implements Guard {
  readonly name = 'api-budget';
  private readonly bucket: TokenBucket;

  constructor(private readonly opts: ApiBudgetOptions) {
    this.bucket = new TokenBucket(opts.rate, opts.burst, { maxWaiters: opts.maxQueue ?? 10_000 });
  }

  /** Requests waiting for a token. */
  get waiting(): number {
    return this.bucket.waiting;
  }

  run(call: ActionCall, next: Step): MaybePromise<ActionResult> {
    // The handler sees `false` and gives up (BudgetExhausted, a failure); the outcome is this guard's.
    let exhausted = false;
    const budget = async (): Promise<boolean> => {
      const ok = await this.bucket.take(this.opts.maxWaitMs ?? 60_000);
      if (!ok) exhausted = true;
      return ok;
    };
    return then(next({ ...call, budget }), (r) =>
      exhausted ? answer(this.name, 'rate-limited', 'global API budget exhausted') : r,
    );
  }
}

// ---- dry run ---------------------------------------------------------------------------------

/** Marks the call dry-run when the runner is (`--dry-run`) or the action sets `dryRun: true`. */
export function dryRun(all: boolean): Guard {
  return {
    name: 'dry-run',
    run: (call, next) => next(all || call.fields.dryRun === true ? { ...call, dryRun: true } : call),
  };
}
