/**
 * The runtime view a `restrict` rule is matched against: the resource with spec.containers narrowed to
 * the container the event happened in, plus `behavior: [<behavior>]` and `event: <the event>`.
 * Built lazily, only for rules that matched, and without copying more than the top levels.
 */
import type { RuntimeEvent } from '../../events/types.js';
import type { Attribution, KubeObject } from '../api/runtime.js';

interface Container {
  name?: string;
}

export function runtimeView(attribution: Attribution, event: RuntimeEvent): KubeObject {
  const { resource, container } = attribution;
  // `{ ...resource, behavior, event }` would be the obvious spelling, but on Node 20 (V8 11.3) adding
  // keys after an object spread builds new hidden classes every time, which costs more than the rest
  // of an event's evaluation. Leading with the added keys keeps the spread on its fast path; the
  // key order of the view is not observable (patterns look keys up, they never iterate the view).
  const behavior = [event.behavior];
  const view: KubeObject = { behavior, event, ...resource };
  // A resource that has its own `behavior` or `event` key is shadowed by the runtime's.
  if (view.behavior !== behavior) view.behavior = behavior;
  if (view.event !== event) view.event = event;
  const spec = resource.spec as { containers?: Container[] } | undefined;
  const containers = spec?.containers;
  if (containers && container !== undefined && !onlyContainer(containers, container)) {
    const narrowed = containers.filter((c) => c.name === container);
    // An unknown container name keeps the full list: better a broader view than none.
    if (narrowed.length > 0) view.spec = { ...spec, containers: narrowed };
  }
  return view;
}

/**
 * True when the list already is just the event's container (always so for a pod synthesised from the
 * event): narrowing would copy the spec into an equal one, so the view shares it instead.
 */
function onlyContainer(containers: readonly Container[], name: string): boolean {
  return containers.length === 1 && containers[0]?.name === name;
}
