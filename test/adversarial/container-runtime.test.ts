/**
 * A hostile or broken container runtime cannot stall the sensor's event path, blow up its memory or
 * plant pod identities: a server that never answers, one that answers gigantic replies, one that
 * drips its reply, label floods and `__proto__` keys, image labels claiming kube-system, and a flood
 * of new containers. Every case is a real server on a unix socket.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RuntimeEvent } from '../../src/events/types.js';
import { containerRuntimeLookups, containerRuntimeUnenriched } from '../../src/observability/metrics.js';
import { ContainerMetadataEnricher } from '../../src/sources/sensor/container-runtime.js';
import { CriLookup } from '../../src/sources/sensor/cri.js';
import { DockerLookup } from '../../src/sources/sensor/docker.js';
import { startFakeCri, type FakeContainer } from '../integration/sources/fake-cri.js';

const POD_UID = '6c2d3e4f-5061-4b7c-9d8e-0f1a2b3c4d5e';
const C: FakeContainer = {
  id: '7a'.repeat(32),
  name: 'app',
  image: 'registry.example/app:1',
  sandbox: { id: '8b'.repeat(32), name: 'app-1', namespace: 'team-a', uid: POD_UID, labels: { app: 'a' } },
};

async function count(
  metric: typeof containerRuntimeLookups | typeof containerRuntimeUnenriched,
  labels: Record<string, string>,
): Promise<number> {
  const { values } = await metric.get();
  return values
    .filter((v) => Object.entries(labels).every(([k, x]) => (v.labels as Record<string, unknown>)[k] === x))
    .reduce((s, v) => s + v.value, 0);
}

function event(containerId: string, podUid?: string): RuntimeEvent {
  return {
    id: `e-${Math.random()}`,
    time: '2026-11-26T12:00:00.000000000Z',
    source: 'bpftrace',
    behavior: 'process-exec',
    process: { pid: 1234, binary: '/bin/sh', startTime: '1' },
    container: { id: containerId },
    ...(podUid !== undefined && { pod: { uid: podUid } }),
  };
}

const enrichOnce = (en: ContainerMetadataEnricher, e: RuntimeEvent): Promise<RuntimeEvent> =>
  new Promise((resolve) => en.process(e, resolve));

describe('a hostile CRI runtime', () => {
  test(
    'a runtime that never answers in time: the event goes on at the deadline, unenriched, counted',
    {
      timeout: 30_000,
    },
    async () => {
      const cri = await startFakeCri([C], { delayMs: 60_000 });
      const en = new ContainerMetadataEnricher({
        lookups: [new CriLookup({ socket: cri.socket, maxResponseBytes: 256 * 1024 })],
        timeoutMs: 200,
      });
      try {
        const timeouts = await count(containerRuntimeLookups, { runtime: 'cri', result: 'timeout' });
        const e = await enrichOnce(en, event(C.id, POD_UID));
        assert.equal(e.pod?.name, undefined);
        assert.equal(e.container?.name, undefined);
        assert.equal(
          await count(containerRuntimeLookups, { runtime: 'cri', result: 'timeout' }),
          timeouts + 1,
        );
        assert.equal(en.heldCount, 0);
      } finally {
        en.close();
        await cri.close();
      }
    },
  );

  test('a gigantic reply is refused by size before it is decoded; the event goes on unenriched', async () => {
    const huge = 'x'.repeat(1024 * 1024);
    const cri = await startFakeCri([C], {
      containerStatus: () => ({ status: { id: C.id, metadata: { name: huge }, labels: { big: huge } } }),
    });
    const en = new ContainerMetadataEnricher({
      lookups: [new CriLookup({ socket: cri.socket, maxResponseBytes: 256 * 1024 })],
      timeoutMs: 5000,
    });
    try {
      const before = await count(containerRuntimeLookups, { runtime: 'cri', result: 'too-large' });
      const e = await enrichOnce(en, event(C.id, POD_UID));
      assert.equal(e.container?.name, undefined);
      assert.equal(await count(containerRuntimeLookups, { runtime: 'cri', result: 'too-large' }), before + 1);
    } finally {
      en.close();
      await cri.close();
    }
  });

  test('a label flood and oversized names are capped', async () => {
    const labels: Record<string, string> = {};
    for (let i = 0; i < 5000; i++) labels[`k${i}`] = 'v';
    const cri = await startFakeCri([C], {
      containerStatus: () => ({
        status: { id: C.id, metadata: { name: 'n'.repeat(10_000) }, image: { image: 'img' }, labels },
      }),
    });
    const en = new ContainerMetadataEnricher({
      lookups: [new CriLookup({ socket: cri.socket, maxResponseBytes: 256 * 1024 })],
      timeoutMs: 5000,
    });
    try {
      const e = await enrichOnce(en, event(C.id, POD_UID));
      assert.equal(e.container?.name, undefined, 'a 10 000-character name is not taken');
      assert.equal(e.container?.image, 'img');
      // The sandbox's labels are the pod's labels (the flood was on the container).
      assert.deepEqual(e.pod?.labels, { app: 'a' });
    } finally {
      en.close();
      await cri.close();
    }
  });

  test(
    'a flood of new containers: held events and concurrent lookups are bounded, the rest go on counted',
    {
      timeout: 30_000,
    },
    async () => {
      const cri = await startFakeCri([], { delayMs: 300 });
      const en = new ContainerMetadataEnricher({
        lookups: [new CriLookup({ socket: cri.socket, maxResponseBytes: 256 * 1024 })],
        timeoutMs: 2000,
        maxConcurrentLookups: 4,
        maxHeldEvents: 8,
      });
      try {
        const full = await count(containerRuntimeUnenriched, { reason: 'hold-full' });
        let emitted = 0;
        const all = new Promise<void>((resolve) => {
          for (let i = 0; i < 100; i++) {
            const id = i.toString(16).padStart(2, '0').repeat(32);
            en.process(event(id), () => {
              if (++emitted === 100) resolve();
            });
          }
        });
        assert.ok(en.heldCount <= 8, `held ${en.heldCount}`);
        // Everything past the 4 lookups went on at once.
        assert.equal(emitted, 96);
        assert.equal(await count(containerRuntimeUnenriched, { reason: 'hold-full' }), full + 96);
        await all;
        assert.equal(en.heldCount, 0);
      } finally {
        en.close();
        await cri.close();
      }
    },
  );
});

describe('a hostile Docker socket', () => {
  let server: Server;
  let dir: string;
  let socket: string;
  let handler: (res: ServerResponse) => void = (res) => res.end('{}');
  const open = new Set<ServerResponse>();

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kr-hostile-docker-'));
    socket = join(dir, 'docker.sock');
    server = createServer((_req, res) => {
      open.add(res);
      res.on('close', () => open.delete(res));
      handler(res);
    });
    await new Promise<void>((r) => server.listen(socket, r));
  });
  after(() => {
    for (const r of open) r.destroy();
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const docker = (timeoutMs: number): ContainerMetadataEnricher =>
    new ContainerMetadataEnricher({
      lookups: [new DockerLookup({ socket, maxResponseBytes: 64 * 1024 })],
      timeoutMs,
    });

  test('an endless reply is cut at the byte cap', async () => {
    handler = (res) => {
      res.writeHead(200);
      const chunk = Buffer.alloc(16 * 1024, 0x20);
      const pump = (): void => {
        while (!res.destroyed && res.write(chunk));
        if (!res.destroyed) res.once('drain', pump);
      };
      pump();
    };
    const before = await count(containerRuntimeLookups, { runtime: 'docker', result: 'too-large' });
    const e = await enrichOnce(docker(5000), event('9c'.repeat(32)));
    assert.equal(e.container?.name, undefined);
    assert.equal(
      await count(containerRuntimeLookups, { runtime: 'docker', result: 'too-large' }),
      before + 1,
    );
  });

  test('a reply dripped byte by byte ends at the deadline', { timeout: 30_000 }, async () => {
    handler = (res) => {
      res.writeHead(200);
      const t = setInterval(() => (res.destroyed ? clearInterval(t) : res.write(' ')), 50);
    };
    const before = await count(containerRuntimeLookups, { runtime: 'docker', result: 'timeout' });
    const e = await enrichOnce(docker(300), event('ad'.repeat(32)));
    assert.equal(e.container?.name, undefined);
    assert.equal(await count(containerRuntimeLookups, { runtime: 'docker', result: 'timeout' }), before + 1);
  });

  test('image labels claiming a kube-system pod name no pod; "__proto__" labels stay data', async () => {
    const id = 'be'.repeat(32);
    handler = (res) =>
      res.end(
        '{"Id":"' +
          id +
          '","Name":"/evil","Config":{"Image":"evil:1","Labels":{"__proto__":{"polluted":"yes"},' +
          '"io.kubernetes.pod.name":"kube-proxy-x","io.kubernetes.pod.namespace":"kube-system",' +
          '"io.kubernetes.pod.uid":"00000000-0000-0000-0000-000000000000"}}}',
      );
    const mismatches = await count(containerRuntimeUnenriched, { reason: 'pod-uid-mismatch' });
    // The kernel says which pod (its cgroup): the image's labels disagree and are not taken.
    const withPod = await enrichOnce(docker(5000), event(id, POD_UID));
    assert.deepEqual(withPod.pod, { uid: POD_UID });
    assert.equal(withPod.container?.image, 'evil:1');
    // No pod in the cgroup (plain Docker): labels alone are not a pod.
    const plain = await enrichOnce(docker(5000), event(id));
    assert.equal(plain.pod, undefined);
    assert.equal(await count(containerRuntimeUnenriched, { reason: 'pod-uid-mismatch' }), mismatches + 2);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });
});
