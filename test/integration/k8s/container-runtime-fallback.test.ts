/**
 * The cluster agent with the container runtime as attribution's fallback: the fake API server lists
 * one pod, the fake CRI runtime knows that pod (with other labels) and one the API server has not
 * listed yet. Sensor-like events (container id and pod uid from the cgroup, nothing else) go through
 * the enrichment the cluster assembly gives the sensor, then through the agent's engine.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClusterAgent } from '../../../src/app/cluster-agent.js';
import { RUNTIME_POD_ANNOTATION } from '../../../src/app/runtime-pods.js';
import { containerEnrichmentFor } from '../../../src/app/sources.js';
import type { RuntimeEvent } from '../../../src/events/types.js';
import { createLogger } from '../../../src/observability/logger.js';
import { containerRuntimePodFallback } from '../../../src/observability/metrics.js';
import { loadPolicies } from '../../../src/policy/index.js';
import type { ContainerEnrichment } from '../../../src/sources/sensor/index.js';
import { startFakeCri, type FakeContainer, type FakeCri } from '../sources/fake-cri.js';
import type { FakeApiServer } from './fake-apiserver/server.js';
import { containerId, seedPod, startCluster, WAIT_MS, waitFor } from './helpers.js';

/** One Pod-kind policy per `tier` label value: which fired says whose labels attribution used. */
const policyYaml = (tier: string): string => `apiVersion: runtime.kyverno.io/v1alpha1
kind: ClusterRuntimePolicy
metadata:
  name: shell-tier-${tier}
spec:
  failureAction: Audit
  rules:
    - name: no-shell
      match:
        any:
          - resources:
              kinds: [Pod]
              selector:
                matchLabels:
                  tier: ${tier}
      restrict:
        message: shell in {{ event.container.id }}
        behaviors: [process-exec]
        pattern:
          event:
            process:
              binary: '*/sh'
`;

function sensorEvent(id: string, podUid: string): RuntimeEvent {
  return {
    id: containerId().slice(0, 16),
    time: new Date().toISOString(),
    source: 'bpftrace',
    node: 'node-1',
    behavior: 'process-exec',
    process: { pid: 4321, uid: 0, binary: '/bin/sh', startTime: '1' },
    container: { id },
    pod: { uid: podUid },
  };
}

async function counter(result: string): Promise<number> {
  const { values } = await containerRuntimePodFallback.get();
  return values.find((v) => v.labels.result === result)?.value ?? 0;
}

describe('cluster agent: the container runtime names pods the API server has not listed', () => {
  let server: FakeApiServer;
  let cri: FakeCri;
  let agent: ClusterAgent;
  let enrichment: ContainerEnrichment;
  const dir = mkdtempSync(join(tmpdir(), 'kr-rt-fallback-'));
  const listedId = containerId();
  const freshId = containerId();
  const freshUid = '7f3e0a4b-1c2d-4e5f-8a9b-0c1d2e3f4a5b';
  let listedUid = '';

  before(async () => {
    server = await startCluster();
    const listed = seedPod(server, 'listed', { id: listedId, labels: { tier: 'api' } });
    listedUid = listed.metadata.uid!;
    const sandbox = (name: string, uid: string) => ({
      id: containerId(),
      name,
      namespace: 'shop',
      uid,
      labels: { tier: 'runtime' },
    });
    const containers: FakeContainer[] = [
      // The runtime's labels for the listed pod differ from the API server's.
      { id: listedId, name: 'app', image: 'nginx:1.27', sandbox: sandbox('listed', listedUid) },
      { id: freshId, name: 'app', image: 'busybox:1.36', sandbox: sandbox('fresh', freshUid) },
    ];
    cri = await startFakeCri(containers);
    for (const tier of ['api', 'runtime']) writeFileSync(join(dir, `${tier}.yaml`), policyYaml(tier));
    const { policies, errors } = await loadPolicies([dir]);
    assert.deepEqual(errors, []);
    agent = new ClusterAgent({
      kubeConfig: server.kubeConfig(),
      mode: 'daemonset',
      nodeName: 'node-1',
      policies,
      exceptions: [],
      reports: false,
    });
    await agent.start(WAIT_MS);
    await waitFor(() => agent.pods.byName('shop', 'listed') !== undefined, WAIT_MS, 'listed pod cached');
    // What the cluster assembly gives the sensor (src/app/cluster.ts): the agent's fallback.
    const logger = createLogger({ level: 'error' });
    enrichment = (await containerEnrichmentFor(
      {
        kind: 'sensor',
        install: false,
        hints: agent.engine.sensorHints,
        containerRuntimeSockets: [{ kind: 'cri', path: cri.socket }],
        containerRuntimeTimeoutMs: 5000,
        clusterPods: agent.attributionPods,
      },
      { logger },
    ))!;
    assert.ok(enrichment, 'a runtime socket was given');
  });
  after(async () => {
    enrichment?.close();
    await agent.stop();
    await cri.close();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const through = (e: RuntimeEvent): Promise<RuntimeEvent> =>
    new Promise((resolve) => enrichment.process(e, resolve));

  it('a container whose pod the API server has not listed is attributed to the Pod the CRI names', async () => {
    const before = await counter('attributed');
    const e = await through(sensorEvent(freshId, freshUid));
    assert.deepEqual(e.pod, { uid: freshUid, name: 'fresh', namespace: 'shop', labels: { tier: 'runtime' } });
    const { verdicts } = await agent.handleEvent(e);
    assert.deepEqual(
      verdicts.map((v) => v.policy),
      ['shell-tier-runtime'],
    );
    const v = verdicts[0]!;
    assert.deepEqual(v.resource, {
      apiVersion: 'v1',
      kind: 'Pod',
      name: 'fresh',
      namespace: 'shop',
      uid: freshUid,
    });
    assert.equal(v.container, 'app');
    const pod = agent.attributionPods.byContainerId(freshId)?.pod;
    assert.equal(
      (pod?.metadata as { annotations?: Record<string, string> } | undefined)?.annotations?.[
        RUNTIME_POD_ANNOTATION
      ],
      'container-runtime',
    );
    assert.ok((await counter('attributed')) > before, 'counted');
  });

  it('a container of a pod the API server lists keeps its labels, and the runtime is not asked', async () => {
    const calls = cri.calls.length;
    const e = await through(sensorEvent(listedId, listedUid));
    assert.equal(cri.calls.length, calls, 'no CRI call for a pod the API server lists');
    assert.deepEqual(e.pod, { uid: listedUid }, 'no runtime labels on the event');
    const { verdicts } = await agent.handleEvent(e);
    assert.deepEqual(
      verdicts.map((v) => [v.policy, v.resource.name, v.resource.uid]),
      [['shell-tier-api', 'listed', listedUid]],
    );
  });

  it('once the API server lists the pod, its labels win over the runtime pod learnt before', async () => {
    assert.ok(agent.attributionPods.byContainerId(freshId), 'the runtime pod is still remembered');
    // Same uid as the runtime's sandbox, as a real kubelet's pod has.
    server.seed({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'fresh', namespace: 'shop', uid: freshUid, labels: { tier: 'api' } },
      spec: { nodeName: 'node-1', containers: [{ name: 'app', image: 'busybox:1.36' }] },
      status: {
        phase: 'Running',
        containerStatuses: [
          {
            name: 'app',
            containerID: `containerd://${freshId}`,
            ready: true,
            restartCount: 0,
            image: 'busybox:1.36',
            imageID: 'docker.io/library/busybox@sha256:' + '0'.repeat(64),
          },
        ],
      },
    });
    await waitFor(() => agent.pods.byPodUid(freshUid) !== undefined, WAIT_MS, 'fresh pod cached');
    const calls = cri.calls.length;
    const e = await through(sensorEvent(freshId, freshUid));
    assert.equal(cri.calls.length, calls);
    assert.deepEqual(e.pod, { uid: freshUid });
    const { verdicts } = await agent.handleEvent(e);
    assert.deepEqual(
      verdicts.map((v) => [v.policy, v.resource.uid]),
      [['shell-tier-api', freshUid]],
    );
  });

  it('a container no one knows stays on the Node, and events from other inputs teach nothing', async () => {
    const stranger = containerId();
    const e = await through(sensorEvent(stranger, '00000000-0000-4000-8000-000000000000'));
    assert.equal(e.pod?.name, undefined);
    const { verdicts } = await agent.handleEvent(e);
    assert.deepEqual(verdicts, [], 'no Pod to match kinds: [Pod]');
    // An input other than the sensor naming a pod is never learnt (only the enrichment learns).
    const forged: RuntimeEvent = {
      ...sensorEvent(stranger, '11111111-0000-4000-8000-000000000000'),
      source: 'http',
      pod: { uid: '11111111-0000-4000-8000-000000000000', name: 'ghost', namespace: 'shop' },
    };
    assert.deepEqual((await agent.handleEvent(forged)).verdicts, []);
    assert.equal(agent.attributionPods.byContainerId(stranger), undefined);
  });
});
