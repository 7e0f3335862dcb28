/**
 * The contract of the action pipeline (runner.ts): the call an action makes through the guards, the
 * result a guard or handler answers with, and compose(). A guard is a middleware in the manner of
 * undici's interceptors: it gets the call and the rest of the chain (`next`), and either answers with
 * a refusal, or calls `next` (possibly with an amended call) and may look at what came back.
 * Guards and handlers may answer synchronously: local mode's kill is synchronous end to end.
 */
import type { ActionCommon, ActionName, ActionSpec } from '../contracts/actions.js';
import type { Verdict } from '../contracts/verdict.js';
import type { EventOrigin } from '../sources/types.js';
import type { ActionTarget, HandlerResult } from './context.js';

export type MaybePromise<T> = T | Promise<T>;

/** One action of one verdict on its way through the guards. */
export interface ActionCall {
  readonly verdict: Verdict;
  /** The input the event arrived on (its trust comes from configuration, never from the event). */
  readonly origin: EventOrigin;
  readonly spec: ActionSpec;
  readonly name: ActionName;
  /** The action's own fields: `{gracePeriodSeconds: 0}` for `- deletePod: {gracePeriodSeconds: 0}`. */
  readonly fields: ActionCommon & Record<string, unknown>;
  /** Position in the verdict's action list (two actions of the same name are two actions). */
  readonly index: number;
  readonly target: ActionTarget;
  /** Set by the dry-run guard: report what would be done, do nothing. */
  readonly dryRun?: boolean;
  /** Set by the API budget guard: waits for one API request's token; false when exhausted. */
  readonly budget?: () => Promise<boolean>;
  /** State a guard keeps for the whole verdict (the rate limit takes one token per verdict). */
  readonly perVerdict: Map<string, unknown>;
}

export interface ActionResult extends HandlerResult {
  /** The guard that answered, or `handler`. */
  readonly by: string;
  /**
   * Not this verdict's result to report (another agent or an earlier event owns the outcome): counted
   * and logged, but not written over the report's outcome.
   */
  readonly quiet?: boolean;
}

export type Step = (call: ActionCall) => MaybePromise<ActionResult>;

export interface Guard {
  /** Stable name, in `ActionResult.by` and the docs. */
  readonly name: string;
  run(call: ActionCall, next: Step): MaybePromise<ActionResult>;
}

/** Applies `f` now when `value` is ready, else when it resolves (keeps synchronous chains synchronous). */
export function then<T, U>(value: MaybePromise<T>, f: (v: T) => MaybePromise<U>): MaybePromise<U> {
  return value instanceof Promise ? value.then(f) : f(value);
}

/** guards[0] runs first; the handler runs last. */
export function compose(guards: readonly Guard[], handler: Step): Step {
  return guards.reduceRight<Step>((next, guard) => (call) => guard.run(call, next), handler);
}
