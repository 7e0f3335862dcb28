/** event: a Kubernetes Event on the resource (events.k8s.io/v1), message with {{ }} variables. */
import type { ActionHandler } from './context.js';
import { render } from './render.js';
import type { EventAction } from '../contracts/actions.js';

export const event: ActionHandler<EventAction> = async (spec, ctx) => {
  if (!ctx.events) return { outcome: 'unavailable', detail: 'no event recorder' };
  // The verdict's message is already rendered (it holds event data): it is used as is, never rendered again.
  const note = spec.message !== undefined ? render(spec.message, ctx.variables) : ctx.verdict.message;
  const { target } = ctx;
  if (ctx.dryRun) return { outcome: 'dry-run', detail: `would record ${spec.reason ?? 'PolicyViolation'}` };
  await ctx.events.emit({
    regarding: {
      apiVersion: target.kind === 'Node' ? 'v1' : (target.object.apiVersion ?? 'v1'),
      kind: target.kind,
      name: target.name,
      namespace: target.namespace,
      uid: target.uid,
    },
    type: spec.type ?? 'Warning',
    reason: spec.reason ?? 'PolicyViolation',
    action: 'Event',
    note: typeof note === 'string' ? note : JSON.stringify(note),
  });
  return { outcome: 'succeeded', detail: spec.reason ?? 'PolicyViolation' };
};
