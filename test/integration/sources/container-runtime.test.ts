/**
 * The sensor's container metadata: a fake CRI runtime (and a fake Docker) on unix sockets name the
 * container and its pod; the enriched event is attributed to that Pod, so a policy on its namespace
 * and labels fires without a cluster.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRuntimeEngine } from '../../../src/engine/runtime/index.js';
import type { RuntimeEvent } from '../../../src/events/types.js';
import { loadPolicies } from '../../../src/policy/index.js';
import {
  ContainerMetadataEnricher,
  parseRuntimeSocket,
} from '../../../src/sources/sensor/container-runtime.js';
import { CriLookup } from '../../../src/sources/sensor/cri.js';
import { DockerLookup } from '../../../src/sources/sensor/docker.js';
import { startFakeCri, type FakeContainer, type FakeCri } from './fake-cri.js';

const POD_UID = '5b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d';
const WEB: FakeContainer = {
  id: 'a1'.repeat(32),
  name: 'web',
  image: 'docker.io/library/nginx:1.27',
  sandbox: {
    id: 'f0'.repeat(32),
    name: 'web-7d9f',
    namespace: 'payments',
    uid: POD_UID,
    labels: { app: 'web' },
  },
};

function event(containerId: string, podUid?: string): RuntimeEvent {
  return {
    id: `e-${Math.random()}`,
    time: '2026-11-26T12:00:00.000000000Z',
    source: 'bpftrace',
    node: 'host-1',
    behavior: 'process-exec',
    process: { pid: 4321, uid: 0, binary: '/usr/bin/dash', startTime: '1' },
    container: { id: containerId },
    ...(podUid !== undefined && { pod: { uid: podUid } }),
  };
}

function enrichOnce(enricher: ContainerMetadataEnricher, e: RuntimeEvent): Promise<RuntimeEvent> {
  return new Promise((resolve) => enricher.process(e, resolve));
}

describe('container metadata from a CRI runtime', () => {
  let cri: FakeCri;
  let enricher: ContainerMetadataEnricher;

  before(async () => {
    cri = await startFakeCri([WEB]);
    enricher = new ContainerMetadataEnricher({
      lookups: [new CriLookup({ socket: cri.socket, maxResponseBytes: 256 * 1024 })],
      timeoutMs: 5000,
    });
  });
  after(async () => {
    enricher.close();
    await cri.close();
  });

  test('an event with a container id gets container name, image, pod name, namespace and labels', async () => {
    const e = await enrichOnce(enricher, event(WEB.id, POD_UID));
    assert.deepEqual(e.container, { id: WEB.id, name: 'web', image: 'docker.io/library/nginx:1.27' });
    // The kubelet's io.kubernetes.* bookkeeping is not part of the pod's labels.
    assert.deepEqual(e.pod, {
      uid: POD_UID,
      name: 'web-7d9f',
      namespace: 'payments',
      labels: { app: 'web' },
    });
  });

  test('the enriched event is attributed to its Pod: a policy on namespace and labels fires', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kr-cri-policy-'));
    try {
      writeFileSync(
        join(dir, 'p.yaml'),
        `apiVersion: runtime.kyverno.io/v1alpha1
kind: ClusterRuntimePolicy
metadata:
  name: no-shell-in-web
spec:
  rules:
    - name: web-pods
      match:
        any:
          - resources:
              kinds: [Pod]
              namespaces: [payments]
              selector:
                matchLabels:
                  app: web
      restrict:
        message: shell in {{ event.pod.name }}
        behaviors: [process-exec]
        pattern:
          event:
            process:
              binary: '*/dash'
`,
      );
      const loaded = await loadPolicies([dir]);
      assert.deepEqual(loaded.errors, []);
      const engine = createRuntimeEngine(loaded.policies, { nodeName: 'host-1' });
      const enriched = await enrichOnce(enricher, event(WEB.id, POD_UID));
      const verdicts = engine.evaluate(enriched);
      assert.deepEqual(
        verdicts.map((v) => `${v.policy}/${v.rule}`),
        ['no-shell-in-web/web-pods'],
      );
      assert.equal(verdicts[0]?.resource.name, 'web-7d9f');
      assert.equal(verdicts[0]?.resource.namespace, 'payments');
      // Without the runtime's names the same event is a pod in "default" with no labels: no match.
      assert.deepEqual(engine.evaluate(event(WEB.id, POD_UID)), []);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('answers are cached by container id: a second event of the container costs no call', async () => {
    await enrichOnce(enricher, event(WEB.id, POD_UID));
    const before = cri.calls.length;
    const e = await enrichOnce(enricher, event(WEB.id, POD_UID));
    assert.equal(e.pod?.name, 'web-7d9f');
    assert.equal(cri.calls.length, before);
  });

  test('events of one container queued behind its lookup keep their order', async () => {
    const other = { ...WEB, id: 'b2'.repeat(32), sandbox: { ...WEB.sandbox, id: 'e1'.repeat(32) } };
    const cri2 = await startFakeCri([other], { delayMs: 50 });
    const en = new ContainerMetadataEnricher({
      lookups: [new CriLookup({ socket: cri2.socket, maxResponseBytes: 256 * 1024 })],
      timeoutMs: 5000,
    });
    try {
      const seen: string[] = [];
      await new Promise<void>((resolve) => {
        for (let i = 0; i < 5; i++) {
          const e = { ...event(other.id, POD_UID), id: `n${i}` };
          en.process(e, (x) => {
            seen.push(`${x.id}:${x.pod?.name ?? '-'}`);
            if (seen.length === 5) resolve();
          });
        }
      });
      assert.deepEqual(
        seen,
        [0, 1, 2, 3, 4].map((i) => `n${i}:web-7d9f`),
      );
      assert.equal(cri2.calls.filter((c) => c === 'ContainerStatus').length, 1);
    } finally {
      en.close();
      await cri2.close();
    }
  });

  test('a container no runtime knows passes unchanged and is not asked again at once', async () => {
    const id = 'c3'.repeat(32);
    const e = await enrichOnce(enricher, event(id));
    assert.equal(e.container?.name, undefined);
    assert.equal(e.pod, undefined);
    const before = cri.calls.length;
    await enrichOnce(enricher, event(id));
    assert.equal(cri.calls.length, before);
  });

  test('an event without a container, or with an id that is not hex, is passed on at once, never looked up', async () => {
    const before = cri.calls.length;
    const host = { ...event('x'), container: undefined };
    assert.equal(await enrichOnce(enricher, host), host);
    await enrichOnce(enricher, event('../../containers/json'));
    assert.equal(cri.calls.length, before);
  });
});

describe('container metadata from Docker', () => {
  let server: Server;
  let dir: string;
  let socket: string;
  const replies = new Map<string, unknown>();

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kr-fake-docker-'));
    socket = join(dir, 'docker.sock');
    server = createServer((req, res) => {
      const m = /^\/containers\/([0-9a-f]+)\/json$/.exec(req.url ?? '');
      const body = m ? replies.get(m[1] ?? '') : undefined;
      if (body === undefined) {
        res.writeHead(404).end('{"message":"No such container"}');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    });
    await new Promise<void>((r) => server.listen(socket, r));
  });
  after(() => {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('a plain Docker container gets its name and image, and no pod', async () => {
    const id = 'd4'.repeat(32);
    replies.set(id, { Id: id, Name: '/happy_turing', Config: { Image: 'alpine:3.20', Labels: {} } });
    const en = new ContainerMetadataEnricher({
      lookups: [new DockerLookup({ socket, maxResponseBytes: 256 * 1024 })],
    });
    const e = await enrichOnce(en, event(id));
    assert.deepEqual(e.container, { id, name: 'happy_turing', image: 'alpine:3.20' });
    assert.equal(e.pod, undefined);
  });

  test("pod labels on a Docker container are used only when the cgroup's pod uid agrees", async () => {
    const id = 'e5'.repeat(32);
    replies.set(id, {
      Id: id,
      Name: '/k8s_web_web-7d9f_payments',
      Config: {
        Image: 'nginx:1.27',
        Labels: {
          'io.kubernetes.container.name': 'web',
          'io.kubernetes.pod.name': 'web-7d9f',
          'io.kubernetes.pod.namespace': 'payments',
          'io.kubernetes.pod.uid': POD_UID,
        },
      },
    });
    const en = new ContainerMetadataEnricher({
      lookups: [new DockerLookup({ socket, maxResponseBytes: 256 * 1024 })],
    });
    const agreed = await enrichOnce(en, event(id, POD_UID));
    assert.deepEqual(agreed.pod, { uid: POD_UID, name: 'web-7d9f', namespace: 'payments' });
    assert.equal(agreed.container?.name, 'web');
    // No pod uid from the kernel: labels alone (an image can carry them) name no pod.
    const alone = await enrichOnce(en, event(id));
    assert.equal(alone.pod, undefined);
  });
});

test('--container-runtime-socket values: none, a prefix, or the kind from the file name', () => {
  assert.equal(parseRuntimeSocket('none'), 'none');
  assert.deepEqual(parseRuntimeSocket('/var/run/docker.sock'), {
    kind: 'docker',
    path: '/var/run/docker.sock',
  });
  assert.deepEqual(parseRuntimeSocket('/run/containerd/containerd.sock'), {
    kind: 'cri',
    path: '/run/containerd/containerd.sock',
  });
  assert.deepEqual(parseRuntimeSocket('docker:/run/d.sock'), { kind: 'docker', path: '/run/d.sock' });
  assert.deepEqual(parseRuntimeSocket('cri:/run/docker-cri.sock'), {
    kind: 'cri',
    path: '/run/docker-cri.sock',
  });
  assert.throws(() => parseRuntimeSocket('relative.sock'), /absolute/);
});
