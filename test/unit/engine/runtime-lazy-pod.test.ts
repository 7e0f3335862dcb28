/**
 * Without a cluster the engine attributes an event to a pod synthesised from the event, built only
 * when a rule reads it. What is available before it is built — the reference reports carry and the
 * facts match reads — must equal what the general code derives from the built pod, on edge cases
 * (empty namespace, uid, non-string labels) as on a plain event.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { attributeEvent, attributionFacts } from '../../../src/engine/runtime/attribution.js';
import type { KubeObject, PodLookup } from '../../../src/engine/runtime/index.js';
import { resourceFacts } from '../../../src/engine/match/index.js';
import { createRuntimeEngine } from '../../../src/engine/runtime/index.js';
import type { Verdict } from '../../../src/contracts/verdict.js';
import { loadPolicyText } from '../../../src/policy/index.js';
import type { RuntimeEvent } from '../../../src/events/types.js';

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

test('verdicts without a cluster equal those of a cluster that holds the synthesised pod', () => {
  // Without a cluster the engine decides kinds-and-namespaces matches from the event alone and
  // builds the pod only for a rule or a verdict that reads it; other match shapes read its facts.
  const rule = (match: string, exclude = '') => `
  rules:
    - name: r
      match:
        any:
          - resources:
              ${match}
${exclude}
      restrict:
        behaviors: [process-exec]
        message: "{{ request.object.metadata.name }} ran {{ event.process.binary }}"
        pattern:
          event:
            process:
              binary: /bin/sh`;
  const cluster = (name: string, body: string) =>
    `apiVersion: runtime.kyverno.io/v1alpha1\nkind: ClusterRuntimePolicy\nmetadata:\n  name: ${name}\nspec:${body}\n`;
  const text = [
    cluster('kinds-and-namespaces', rule('kinds: [Pod]\n              namespaces: [shop, default]')),
    cluster('any-namespace', rule('kinds: [Pod]')),
    cluster('empty-namespace-listed', rule('kinds: [Pod]\n              namespaces: [""]')),
    cluster('nodes-only', rule('kinds: [Node]')),
    cluster('by-label', rule('kinds: [Pod]\n              selector: { matchLabels: { app: web } }')),
    cluster(
      'with-exclude',
      rule('kinds: [Pod]', '      exclude:\n        any:\n          - resources: { namespaces: [x] }'),
    ),
    `apiVersion: runtime.kyverno.io/v1alpha1\nkind: RuntimePolicy\nmetadata:\n  name: shop-only\n  namespace: shop\nspec:${rule('kinds: [Pod]')}\n`,
  ].join('---\n');
  const loaded = loadPolicyText(text, 'lazy.yaml');
  assert.deepEqual(loaded.errors, []);
  const local = createRuntimeEngine(loaded.policies);
  // (The container name differs on purpose: a synthesised pod names an unnamed container "unknown".)
  const summary = (v: Verdict) => [v.policy, v.resource, v.message];
  let compared = 0;
  for (const e of cases) {
    const pod = attributeEvent(e, undefined).resource;
    const withCluster = createRuntimeEngine(loaded.policies, { lookup: lookupOf(pod) });
    const expected = withCluster.evaluate(e).map(summary);
    const actual = local.evaluate(e);
    assert.deepEqual(actual.map(summary), expected, e.pod?.name);
    assert.ok(actual.every((v) => v.synthetic === true));
    compared += expected.length;
  }
  assert.ok(compared >= 10, `only ${compared} verdicts compared`);
});
