/** A fake CRI RuntimeService (containerd / CRI-O) on a unix socket, for the sensor's container metadata. */
import * as grpc from '@grpc/grpc-js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { criRuntimeService } from '../../../src/sources/sensor/cri.js';

export interface FakeContainer {
  id: string;
  name: string;
  image: string;
  sandbox: { id: string; name: string; namespace: string; uid: string; labels: Record<string, string> };
}

export interface FakeCriBehaviour {
  /** Wait this long before every reply. */
  delayMs?: number;
  /** Replace a ContainerStatus reply (huge or odd replies). */
  containerStatus?: (id: string) => object;
}

export interface FakeCri {
  socket: string;
  calls: string[];
  behaviour: FakeCriBehaviour;
  close(): Promise<void>;
}

type Call = grpc.ServerUnaryCall<Record<string, unknown>, unknown>;
type Callback = grpc.sendUnaryData<unknown>;

export async function startFakeCri(
  containers: FakeContainer[],
  behaviour: FakeCriBehaviour = {},
): Promise<FakeCri> {
  const dir = mkdtempSync(join(tmpdir(), 'kr-fake-cri-'));
  const socket = join(dir, 'cri.sock');
  const server = new grpc.Server();
  const calls: string[] = [];
  const fake: FakeCri = { socket, calls, behaviour, close: () => Promise.resolve() };
  const reply = (cb: Callback, fn: () => unknown): void => {
    const go = (): void => {
      try {
        cb(null, fn());
      } catch (err) {
        cb({ code: grpc.status.NOT_FOUND, details: (err as Error).message });
      }
    };
    if (fake.behaviour.delayMs) setTimeout(go, fake.behaviour.delayMs).unref();
    else go();
  };
  const byId = (id: unknown): FakeContainer => {
    const c = containers.find((x) => typeof id === 'string' && id.length > 0 && x.id.startsWith(id));
    if (!c) throw new Error(`container "${String(id)}" not found`);
    return c;
  };
  server.addService(criRuntimeService().service, {
    ContainerStatus: (call: Call, cb: Callback) => {
      calls.push('ContainerStatus');
      reply(cb, () => {
        const id = call.request.container_id as string;
        if (fake.behaviour.containerStatus) return fake.behaviour.containerStatus(id);
        const c = byId(id);
        return {
          status: {
            id: c.id,
            metadata: { name: c.name, attempt: 0 },
            image: { image: c.image },
            image_ref: `${c.image}@sha256:${'0'.repeat(64)}`,
            labels: {
              'io.kubernetes.container.name': c.name,
              'io.kubernetes.pod.name': c.sandbox.name,
              'io.kubernetes.pod.namespace': c.sandbox.namespace,
              'io.kubernetes.pod.uid': c.sandbox.uid,
            },
          },
        };
      });
    },
    ListContainers: (call: Call, cb: Callback) => {
      calls.push('ListContainers');
      reply(cb, () => {
        const id = (call.request.filter as { id?: string } | undefined)?.id ?? '';
        const found = containers.filter((x) => id === '' || x.id.startsWith(id));
        return { containers: found.map((c) => ({ id: c.id, pod_sandbox_id: c.sandbox.id })) };
      });
    },
    PodSandboxStatus: (call: Call, cb: Callback) => {
      calls.push('PodSandboxStatus');
      reply(cb, () => {
        const c = containers.find((x) => x.sandbox.id === call.request.pod_sandbox_id);
        if (!c) throw new Error('sandbox not found');
        const s = c.sandbox;
        return {
          status: {
            id: s.id,
            metadata: { name: s.name, namespace: s.namespace, uid: s.uid, attempt: 0 },
            labels: {
              ...s.labels,
              'io.kubernetes.pod.name': s.name,
              'io.kubernetes.pod.namespace': s.namespace,
              'io.kubernetes.pod.uid': s.uid,
            },
          },
        };
      });
    },
  });
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(`unix://${socket}`, grpc.ServerCredentials.createInsecure(), (err) =>
      err ? reject(err) : resolve(),
    ),
  );
  fake.close = () =>
    new Promise<void>((resolve) => {
      server.forceShutdown();
      rmSync(dir, { recursive: true, force: true });
      resolve();
    });
  return fake;
}
