/**
 * The one action pipeline of both modes. A verdict's actions go one by one through an ordered list of
 * guards, then the mode's handler; every outcome goes to one OutcomeSink (metrics, log, reports/store).
 *
 * The contract (call, result, guard, compose) is in chain.ts, the guards in guards.ts; which guards
 * run, in which order, is the mode's choice (local-runner.ts, executor.ts). When nothing on the way is
 * asynchronous (local mode's kill), a verdict resolves in the same tick.
 */
import type { KubeObject } from '../engine/runtime/index.js';
import { actionName, type ActionCommon, type ActionOutcome, type ActionSpec } from '../contracts/actions.js';
import type { Verdict } from '../contracts/verdict.js';
import type { EventOrigin } from '../sources/types.js';
import {
  compose,
  type ActionCall,
  type ActionResult,
  type Guard,
  type MaybePromise,
  type Step,
} from './chain.js';
import type { ActionTarget } from './context.js';
import type { OutcomeSink } from './outcome-sink.js';

/** The action's fields (`spec[name]`), an empty object when the YAML gave none. */
export function actionFields(spec: ActionSpec): ActionCommon & Record<string, unknown> {
  const value = (spec as Record<string, unknown>)[actionName(spec)];
  return value !== null && typeof value === 'object' ? (value as ActionCommon & Record<string, unknown>) : {};
}

/** The verdict's own copy of its resource, for runners without a cluster view. */
export function verdictTarget(v: Verdict): ActionTarget {
  const ref = v.resource;
  const object: KubeObject = {
    apiVersion: ref.apiVersion,
    kind: ref.kind,
    metadata: { name: ref.name, namespace: ref.namespace, uid: ref.uid },
  };
  return { object, kind: ref.kind, name: ref.name, namespace: ref.namespace, uid: ref.uid };
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export interface ActionRunnerOptions {
  /** In order: the first refuses first. */
  guards: readonly Guard[];
  handler: Step;
  sink: OutcomeSink;
  /** The object the verdict's actions act upon; default: the verdict's own copy of its resource. */
  resolveTarget?: (v: Verdict) => ActionTarget;
}

export class ActionRunner {
  private readonly step: Step;

  constructor(private readonly opts: ActionRunnerOptions) {
    // A handler that throws has failed: the guards see `failed` (dedup gives its entry back).
    this.step = compose(opts.guards, (call) => this.guarded(call, opts.handler));
  }

  /** Runs an Enforce verdict's actions in the policy's order; their outcomes, as recorded by the sink. */
  run(verdict: Verdict, origin: EventOrigin): MaybePromise<ActionOutcome[]> {
    if (verdict.mode !== 'Enforce' || verdict.actions.length === 0) return [];
    const target = (this.opts.resolveTarget ?? verdictTarget)(verdict);
    const perVerdict = new Map<string, unknown>();
    const results: ActionResult[] = [];
    const from = (index: number): MaybePromise<ActionOutcome[]> => {
      for (let i = index; i < verdict.actions.length; i++) {
        const spec = verdict.actions[i]!;
        const call: ActionCall = {
          verdict,
          origin,
          spec,
          name: actionName(spec),
          fields: actionFields(spec),
          index: i,
          target,
          perVerdict,
        };
        const result = this.guarded(call);
        if (result instanceof Promise) {
          return result.then((r) => {
            results.push(r);
            return from(i + 1);
          });
        }
        results.push(result);
      }
      return this.opts.sink.record(verdict, verdict.actions.map(actionName), results);
    };
    return from(0);
  }

  /** A guard or handler that throws is a failed action, never a crashed agent. */
  private guarded(call: ActionCall, step: Step = this.step): MaybePromise<ActionResult> {
    const failed = (err: unknown): ActionResult => ({
      outcome: 'failed',
      detail: errorMessage(err),
      by: 'handler',
    });
    try {
      const r = step(call);
      return r instanceof Promise ? r.catch(failed) : r;
    } catch (err) {
      return failed(err);
    }
  }
}
