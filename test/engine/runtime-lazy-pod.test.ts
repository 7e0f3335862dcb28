/**
 * Without a cluster the engine attributes an event to a pod synthesised from the event, built only
 * when a rule reads it. What is available before it is built — the reference reports carry and the
 * facts match reads — must equal what the general code derives from the built pod, on edge cases
 * (empty namespace, uid, non-string labels) as on a plain event.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { attributeEvent, attributionFacts } from '../../src/engine/runtime/attribution.js';
import type { KubeObject, PodLookup } from '../../src/engine/runtime/index.js';
import { resourceFacts } from '../../src/engine/match/index.js';
import type { RuntimeEvent } from '../../src/events/types.js';

function event(pod: RuntimeEvent['pod'], extra: Partial<RuntimeEvent> = {}): RuntimeEvent {
  return {
    id: 'e-1',
    time: '2026-11-26T12:00:00Z',
    source: 'tetragon',
    behavior: 'process-exec',
    process: { binary: '/bin/sh' },
    ...(pod !== undefined && { pod }),
    ...extra,
  };
}

/** A cluster that holds exactly the given pod: attribution then goes through the general path. */
function lookupOf(pod: KubeObject): PodLookup {
  return {
    byContainerId: () => ({ pod, container: 'unknown' }),
    byPodUid: () => pod,
    byName: () => pod,
    namespaceLabels: () => undefined,
    node: () => undefined,
  };
}

const cases: RuntimeEvent[] = [
  event(
    { namespace: 'shop', name: 'web-1', labels: { app: 'web' } },
    { container: { name: 'nginx', image: 'nginx:1' }, node: 'n1' },
  ),
  event({ name: 'no-namespace' }, { container: { id: 'c0ffee' } }),
  event({ namespace: '', name: 'empty-namespace', uid: 'u-1' }),
  event({ namespace: 'x', name: 'odd-labels', labels: { n: 1 as unknown as string } }),
];

test('the synthesised pod reference and match facts equal those of the built pod', () => {
  for (const e of cases) {
    const lazy = attributeEvent(e, undefined);
    assert.equal(lazy.synthetic, true);
    const facts = attributionFacts(lazy); // read before the pod exists
    const ref = structuredClone(lazy.ref);
    const general = attributeEvent(e, lookupOf(lazy.resource));
    assert.deepEqual(ref, general.ref, e.pod?.name);
    assert.deepEqual(Object.keys(ref), Object.keys(general.ref), 'same key order');
    assert.deepEqual(facts, resourceFacts(lazy.resource), e.pod?.name);
    assert.equal(lazy.container, e.container?.name ?? 'unknown');
  }
});

test('the pod is built once and then shared by every read', () => {
  const a = attributeEvent(cases[0]!, undefined);
  assert.equal(a.resource, a.resource);
  assert.deepEqual(a.resource, {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: 'web-1',
      namespace: 'shop',
      labels: { app: 'web' },
      annotations: { 'runtime.kyverno.io/synthetic': 'true' },
    },
    spec: { containers: [{ name: 'nginx', image: 'nginx:1' }], nodeName: 'n1' },
  });
});
