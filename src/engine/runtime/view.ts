/**
 * The runtime view (DESIGN.md "Semantics of restrict"): the resource with spec.containers narrowed to
 * the container the event happened in, plus `behavior: [<behavior>]` and `event: <the event>`.
 * Built lazily, only for rules that matched, and without copying more than the top levels.
 */
import type { RuntimeEvent } from '../../events/types.js';
import type { Attribution, KubeObject } from './index.js';

export function runtimeView(attribution: Attribution, event: RuntimeEvent): KubeObject {
  const { resource, container } = attribution;
  const view: KubeObject = { ...resource, behavior: [event.behavior], event };
  const spec = resource.spec as { containers?: { name?: string }[] } | undefined;
  if (spec?.containers && container !== undefined) {
    const narrowed = spec.containers.filter((c) => c.name === container);
    // An unknown container name keeps the full list: better a broader view than none.
    if (narrowed.length > 0) view.spec = { ...spec, containers: narrowed };
  }
  return view;
}
