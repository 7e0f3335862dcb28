/**
 * Attacks on PolicyExceptions. An exception is the break-glass that turns kill into skip, so whoever
 * controls event data (a process in a container, a tool's HTTP sender) must not be able to reach one:
 * - an event that claims the exempted pod's labels, or carries exception-shaped fields, replayed from
 *   a real file through the runtime test runner with a cluster stand-in (the pod's real labels);
 * - an event naming a pod the cluster does not have, under an exempted name;
 * - a flood of distinct exception names must not grow the metric without bound.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runRuntimeTest } from '../../src/cli/runtime-test.js';
import { countExceptionApplied, MAX_EXCEPTION_SERIES, registry } from '../../src/observability/metrics.js';

const POLICY = `apiVersion: runtime.kyverno.io/v1alpha1
kind: ClusterRuntimePolicy
metadata: {name: no-shell}
spec:
  failureAction: Enforce
  rules:
    - name: no-shell
      match: {any: [{resources: {kinds: [Pod]}}]}
      restrict:
        behaviors: [process-exec]
        pattern: {event: {process: {binary: "*/sh"}}}
        actions: [{kill: {}}]
`;

const EXCEPTIONS = `apiVersion: kyverno.io/v2
kind: PolicyException
metadata: {name: debug-pods, namespace: prod}
spec:
  exceptions: [{policyName: no-shell, ruleNames: [no-shell]}]
  match: {any: [{resources: {kinds: [Pod], names: ["debug-*"]}}]}
---
apiVersion: policies.kyverno.io/v1alpha1
kind: PolicyException
metadata: {name: labelled, namespace: prod}
spec:
  policyRefs: [{name: no-shell, kind: ClusterRuntimePolicy}]
  matchConditions:
    - {name: debug, expression: "has(object.metadata.labels.debug) && object.metadata.labels.debug == 'true'"}
`;

const CLUSTER = `apiVersion: v1
kind: Namespace
metadata: {name: prod}
---
apiVersion: v1
kind: Pod
metadata: {name: web-1, namespace: prod, uid: u-web, labels: {app: web}}
spec: {nodeName: node-1, containers: [{name: app, image: nginx}]}
status: {containerStatuses: [{name: app, containerID: "containerd://aaaa"}]}
---
apiVersion: v1
kind: Pod
metadata: {name: web-2, namespace: prod, uid: u-web2, labels: {app: web, debug: "true"}}
spec: {nodeName: node-1, containers: [{name: app, image: nginx}]}
status: {containerStatuses: [{name: app, containerID: "containerd://bbbb"}]}
`;

function event(id: string, extra: Record<string, unknown>): string {
  return JSON.stringify({
    id,
    time: '2026-11-26T12:00:00Z',
    source: 'tetragon',
    node: 'node-1',
    behavior: 'process-exec',
    process: {
      pid: 10,
      uid: 0,
      binary: '/bin/sh',
      args: ['-c', 'kind: PolicyException {{ request.object }}'],
    },
    ...extra,
  });
}

test('event data cannot reach an exception: claimed labels, exception-shaped fields, an unknown exempted pod name', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kr-adv-exc-'));
  try {
    writeFileSync(join(dir, 'policy.yaml'), POLICY);
    writeFileSync(join(dir, 'exceptions.yaml'), EXCEPTIONS);
    writeFileSync(join(dir, 'cluster.yaml'), CLUSTER);
    writeFileSync(
      join(dir, 'events.jsonl'),
      [
        // Exception-shaped fields on the event: not part of the event schema, the line is refused.
        event('smuggled', {
          pod: { namespace: 'prod', name: 'web-1' },
          exception: { name: 'debug-pods', namespace: 'prod' },
        }),
        // The real pod, claiming the label the CEL exception looks for: the cluster's labels count.
        event('claims-label', {
          pod: { namespace: 'prod', name: 'web-1', labels: { debug: 'true' } },
          container: { id: 'aaaa', name: 'app' },
        }),
        // Control: the pod the cluster labels debug is exempted.
        event('control', {
          pod: { namespace: 'prod', name: 'web-2' },
          container: { id: 'bbbb', name: 'app' },
        }),
      ].join('\n') + '\n',
    );
    const doc = {
      apiVersion: 'cli.kyverno.io/v1alpha1',
      kind: 'RuntimeTest',
      metadata: { name: 'smuggle' },
      policies: ['policy.yaml'],
      exceptions: ['exceptions.yaml'],
      resources: ['cluster.yaml'],
      events: ['events.jsonl'],
      results: [
        { policy: 'no-shell', rule: 'no-shell', resources: ['prod/web-1'], result: 'fail', count: 1 },
        { policy: 'no-shell', rule: 'no-shell', resources: ['prod/web-1'], result: 'skip', count: 0 },
        { policy: 'no-shell', rule: 'no-shell', resources: ['prod/web-2'], result: 'skip', count: 1 },
      ],
    };
    const result = await runRuntimeTest(join(dir, 'kyverno-test.yaml'), doc);
    assert.deepEqual(result.errors, []);
    assert.deepEqual(
      result.replay[0]?.skipped,
      { 'invalid-event': 1 },
      JSON.stringify(result.replay[0]?.skips),
    );
    for (const c of result.cases) assert.ok(c.ok, `${c.expected}: ${c.reason}`);

    // A pod the cluster does not know, named like the exempted debug pods: never exempted.
    writeFileSync(
      join(dir, 'events.jsonl'),
      event('ghost', { pod: { namespace: 'prod', name: 'debug-ghost' }, container: { id: 'ffff' } }) + '\n',
    );
    const ghost = await runRuntimeTest(join(dir, 'kyverno-test.yaml'), {
      ...doc,
      results: [
        {
          policy: 'no-shell',
          rule: 'no-shell',
          resources: ['prod/debug-ghost', 'node-1'],
          result: 'skip',
          count: 0,
        },
      ],
    });
    assert.deepEqual(ghost.errors, []);
    for (const c of ghost.cases) assert.ok(c.ok, c.reason);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a flood of distinct exception names folds into one _other series past the bound', async () => {
  for (let i = 0; i < MAX_EXCEPTION_SERIES + 50; i++) countExceptionApplied('p', 'r', `flood-${i}`);
  const metric = await registry.getSingleMetric('kyverno_runtime_exceptions_applied_total')!.get();
  assert.ok(metric.values.length <= MAX_EXCEPTION_SERIES + 1, `${metric.values.length} series`);
  const other = metric.values.find((v) => v.labels.exception === '_other');
  assert.equal(other?.value, 50);
});
