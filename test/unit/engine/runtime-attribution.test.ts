import { test } from 'node:test';
import assert from 'node:assert/strict';
import { attributeEvent, SYNTHETIC_ANNOTATION } from '../../../src/engine/runtime/attribution.js';
import { staticPodLookup } from '../../../src/engine/runtime/static-lookup.js';
import { runtimeView } from '../../../src/engine/runtime/view.js';
import type { KubeObject } from '../../../src/engine/runtime/index.js';
import type { RuntimeEvent } from '../../../src/events/types.js';

const pod: KubeObject = {
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'app', namespace: 'shop', uid: 'uid-app', labels: { app: 'shop' } },
  spec: {
    containers: [
      { name: 'A', image: 'a:1' },
      { name: 'B', image: 'b:1' },
    ],
  },
  status: {
    containerStatuses: [
      { name: 'A', containerID: 'containerd://aaaa1111' },
      { name: 'B', containerID: 'cri-o://bbbb2222' },
    ],
  },
};
const namespace: KubeObject = {
  apiVersion: 'v1',
  kind: 'Namespace',
  metadata: { name: 'shop', labels: { env: 'prod' } },
};

function event(extra: Partial<RuntimeEvent>): RuntimeEvent {
  return { id: 'e1', time: '2026-11-26T12:00:00Z', source: 'test', behavior: 'volume-mount', ...extra };
}

test('an event carrying a container ID is attributed to the cached pod and its container', () => {
  const lookup = staticPodLookup([pod, namespace]);
  const a = attributeEvent(event({ container: { id: 'bbbb2222' } }), lookup, 'n1');
  assert.equal(a.ref.kind, 'Pod');
  assert.equal(a.ref.name, 'app');
  assert.equal(a.ref.namespace, 'shop');
  assert.equal(a.ref.uid, 'uid-app');
  assert.equal(a.container, 'B');
  assert.equal(a.synthetic, false);
  assert.deepEqual(lookup.namespaceLabels('shop'), { env: 'prod' });
});

test('a short container ID (as tools print it) still finds the pod', () => {
  const lookup = staticPodLookup([pod]);
  assert.equal(lookup.byContainerId('aaaa')?.container, 'A');
});

test('the pod named in the event wins, and its container is found by ID', () => {
  const lookup = staticPodLookup([pod]);
  const a = attributeEvent(
    event({ pod: { namespace: 'shop', name: 'app' }, container: { id: 'aaaa1111' } }),
    lookup,
  );
  assert.equal(a.resource, pod);
  assert.equal(a.container, 'A');
});

test('with a cluster, an event of an unknown pod belongs to the node', () => {
  const lookup = staticPodLookup([pod]);
  const a = attributeEvent(event({ pod: { namespace: 'x', name: 'gone' }, node: 'worker-9' }), lookup);
  assert.equal(a.ref.kind, 'Node');
  assert.equal(a.ref.name, 'worker-9');
  assert.equal(a.ref.namespace, undefined);
});

test('without a cluster, a pod is synthesised from the event and flagged', () => {
  const a = attributeEvent(
    event({
      pod: { namespace: 'prod', name: 'web-1', labels: { app: 'web' }, uid: 'u1' },
      container: { name: 'nginx', image: 'nginx:1.27' },
    }),
    undefined,
  );
  assert.equal(a.synthetic, true);
  assert.equal(a.ref.kind, 'Pod');
  assert.equal(a.ref.uid, 'u1');
  const meta = a.resource.metadata as { annotations: Record<string, string>; labels: Record<string, string> };
  assert.equal(meta.annotations[SYNTHETIC_ANNOTATION], 'true');
  assert.deepEqual(meta.labels, { app: 'web' });
  assert.deepEqual((a.resource.spec as { containers: unknown[] }).containers, [
    { name: 'nginx', image: 'nginx:1.27' },
  ]);
});

test('a host event without pod metadata belongs to the node given by the event or the options', () => {
  assert.equal(attributeEvent(event({ node: 'n7' }), undefined, 'fallback').ref.name, 'n7');
  assert.equal(attributeEvent(event({}), undefined, 'fallback').ref.name, 'fallback');
});

test('the runtime view narrows spec.containers to the event container and adds behavior and event', () => {
  const lookup = staticPodLookup([pod]);
  const e = event({ container: { id: 'aaaa1111' } });
  const view = runtimeView(attributeEvent(e, lookup), e);
  assert.deepEqual(view.spec, { containers: [{ name: 'A', image: 'a:1' }] });
  assert.deepEqual(view.behavior, ['volume-mount']);
  assert.equal(view.event, e);
  // The cached pod itself is untouched.
  assert.equal((pod.spec as { containers: unknown[] }).containers.length, 2);
});
