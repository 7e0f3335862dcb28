/** Builders shared by the cluster-side tests: pods with container statuses, verdicts, waiting. */
import { randomBytes } from 'node:crypto';
import type { ActionSpec } from '../../../src/contracts/actions.js';
import type { Verdict } from '../../../src/contracts/verdict.js';
import type { Behavior, RuntimeEvent } from '../../../src/events/types.js';
import { FakeApiServer, type Obj } from './fake-apiserver/server.js';

export function containerId(): string {
  return randomBytes(32).toString('hex');
}

export async function startCluster(namespaces: string[] = ['shop', 'kube-system']): Promise<FakeApiServer> {
  const server = await FakeApiServer.start({ bookmarkIntervalMs: 200 });
  for (const ns of namespaces)
    server.seed({
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: ns, labels: { 'kubernetes.io/metadata.name': ns } },
    });
  server.seed({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'node-1' }, spec: {} });
  server.seed({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'node-2' }, spec: {} });
  return server;
}

export function seedPod(
  server: FakeApiServer,
  name: string,
  opts: {
    namespace?: string;
    node?: string;
    id?: string;
    labels?: Record<string, string>;
    owner?: { kind: string; name: string; uid: string };
  } = {},
): Obj {
  const id = opts.id ?? containerId();
  return server.seed({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: opts.namespace ?? 'shop',
      labels: opts.labels ?? { app: name },
      ...(opts.owner
        ? { ownerReferences: [{ apiVersion: 'apps/v1', controller: true, ...opts.owner }] }
        : {}),
    },
    spec: { nodeName: opts.node ?? 'node-1', containers: [{ name: 'app', image: 'nginx:1.27' }] },
    status: {
      phase: 'Running',
      containerStatuses: [
        {
          name: 'app',
          containerID: `containerd://${id}`,
          ready: true,
          restartCount: 0,
          image: 'nginx:1.27',
          imageID: 'docker.io/library/nginx@sha256:' + '0'.repeat(64),
        },
      ],
    },
  });
}

export function runtimeEvent(
  pod: Obj,
  behavior: Behavior = 'process-exec',
  overrides: Partial<RuntimeEvent> = {},
): RuntimeEvent {
  return {
    id: randomBytes(8).toString('hex'),
    time: new Date().toISOString(),
    source: 'tetragon',
    node: 'node-1',
    behavior,
    process: { pid: 4242, binary: '/bin/sh', args: ['-c', 'id'] },
    pod: { namespace: pod.metadata.namespace, name: pod.metadata.name },
    container: { name: 'app' },
    ...overrides,
  };
}

export function verdictFor(pod: Obj, actions: ActionSpec[], overrides: Partial<Verdict> = {}): Verdict {
  const event = runtimeEvent(pod);
  return {
    policy: 'no-shell',
    rule: 'deny-shell',
    mode: 'Enforce',
    resource: {
      apiVersion: 'v1',
      kind: 'Pod',
      name: pod.metadata.name,
      namespace: pod.metadata.namespace,
      uid: pod.metadata.uid,
    },
    container: 'app',
    behavior: 'process-exec',
    message: 'shell spawned in a production pod',
    eventId: event.id,
    time: event.time,
    actions,
    severity: 'high',
    category: 'Runtime',
    event,
    ...overrides,
  };
}

export { WAIT_MS, waitFor } from '../../support/wait.js';
