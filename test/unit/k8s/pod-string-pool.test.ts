/**
 * Cached pods share the strings that repeat across pods (images, owners, labels, the node) instead
 * of holding one copy each, and the pool never grows with values that are unique per pod.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { poolPodStrings, StringPool } from '../../../src/k8s/string-pool.js';

function podJson(i: number): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: `web-7d9c-${i}`,
      namespace: 'shop',
      uid: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
      labels: { app: 'web', 'pod-template-hash': '7d9c5b6f4d' },
      annotations: { 'kubectl.kubernetes.io/restartedAt': '2026-01-01T00:00:00Z' },
      ownerReferences: [
        {
          apiVersion: 'apps/v1',
          kind: 'ReplicaSet',
          name: 'web-7d9c5b6f4d',
          uid: 'rs-uid-0001',
          controller: true,
        },
      ],
    },
    spec: {
      nodeName: 'worker-node-0001',
      serviceAccountName: 'web-service-account',
      containers: [{ name: 'app', image: 'registry.example.com/team/web:1.2.3' }],
    },
    status: {
      hostIP: '10.0.0.17',
      podIP: `10.1.0.${i}`,
      containerStatuses: [
        {
          name: 'app',
          containerID: `containerd://${String(i).repeat(64).slice(0, 64)}`,
          image: 'registry.example.com/team/web:1.2.3',
          imageID: `registry.example.com/team/web@sha256:${'ab'.repeat(32)}`,
        },
      ],
    },
  });
}

test('two pods parsed apart share one copy of each repeating string once pooled', () => {
  // JavaScript cannot tell two equal strings apart; a heap snapshot of a child counts the copies.
  const values = [
    'registry.example.com/team/web:1.2.3',
    `registry.example.com/team/web@sha256:${'ab'.repeat(32)}`,
    'web-7d9c5b6f4d',
    '2026-01-01T00:00:00Z',
    'web-service-account',
    'worker-node-0001',
  ];
  const script = `
    import { getHeapSnapshot } from 'node:v8';
    const { poolPodStrings, StringPool } = await import(${JSON.stringify(new URL('../../../src/k8s/string-pool.ts', import.meta.url).href)});
    const mode = process.argv.at(-1);
    const pods = mode === 'none' ? [] : ${JSON.stringify([podJson(1), podJson(2)])}.map((t) => JSON.parse(t));
    const pool = new StringPool();
    if (mode === 'pooled') for (const p of pods) poolPodStrings(pool, p);
    let text = '';
    for await (const chunk of getHeapSnapshot()) text += chunk;
    const snap = JSON.parse(text);
    const fields = snap.snapshot.meta.node_fields.length;
    const stringType = snap.snapshot.meta.node_types[0].indexOf('string');
    const wanted = new Set(${JSON.stringify(values)});
    const copies = {};
    for (let i = 0; i < snap.nodes.length; i += fields) {
      const name = snap.strings[snap.nodes[i + 1]];
      if (snap.nodes[i] === stringType && wanted.has(name)) copies[name] = (copies[name] ?? 0) + 1;
    }
    globalThis.keep = pods;
    console.log(JSON.stringify(copies));
  `;
  const copies = (mode: string): Record<string, number> => {
    const child = spawnSync(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '--eval', script, mode],
      { encoding: 'utf8', maxBuffer: 64 * 2 ** 20 },
    );
    assert.equal(child.status, 0, child.stderr);
    return JSON.parse(child.stdout.trim().split('\n').pop()!) as Record<string, number>;
  };
  // The child's own source holds each value once (the set it searches for): counted apart.
  const none = copies('none');
  const pooled = copies('pooled');
  const plain = copies('plain');
  for (const v of values) {
    const base = none[v] ?? 0;
    assert.equal((pooled[v] ?? 0) - base, 1, `${v}: ${(pooled[v] ?? 0) - base} copies for two pooled pods`);
    // Without the pool each pod holds its own copy: what the pool is for.
    assert.ok((plain[v] ?? 0) - base >= 2, `${v}: ${(plain[v] ?? 0) - base} copies for two pods`);
  }
});

test('values unique to a pod (UID, container ID, pod IP) never enter the pool', () => {
  const pool = new StringPool();
  for (let i = 0; i < 500; i++) poolPodStrings(pool, JSON.parse(podJson(i)));
  // app label, template hash, restartedAt, owner (apiVersion, kind, name, uid), node, service
  // account, container name, image, imageID, hostIP: the same few strings for 500 pods.
  assert.ok(pool.size <= 16, `pool holds ${pool.size} strings for 500 replicas`);
});

test('the pool is bounded and a pod past the bound keeps its values unchanged', () => {
  const pool = new StringPool(8);
  const pods = Array.from({ length: 50 }, (_, i) => {
    const p = JSON.parse(podJson(i)) as { spec: { containers: { image: string }[] } };
    p.spec.containers[0]!.image = `registry.example.com/team/image-${i}:1`;
    return p;
  });
  for (const p of pods) poolPodStrings(pool, p);
  assert.equal(pool.size, 8);
  pods.forEach((p, i) => assert.equal(p.spec.containers[0]!.image, `registry.example.com/team/image-${i}:1`));
  assert.deepEqual(JSON.parse(podJson(3)), JSON.parse(podJson(3)));
});

test('hostile shapes (wrong types, arrays for maps, huge values) are left as they are', () => {
  const pool = new StringPool();
  const huge = 'x'.repeat(10_000);
  const pod = {
    metadata: { labels: ['not', 'a', 'map'], annotations: { big: huge, n: 7 }, ownerReferences: 'nope' },
    spec: { containers: [null, 5, { image: 42 }], nodeName: { nested: true } },
    status: { containerStatuses: { not: 'a list' } },
  };
  const before = JSON.stringify(pod);
  poolPodStrings(pool, pod);
  poolPodStrings(pool, null);
  poolPodStrings(pool, 'pod');
  assert.equal(JSON.stringify(pod), before);
  assert.equal(pool.size, 0, 'a 10,000-character annotation is not pooled');
});
