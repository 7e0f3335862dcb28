/**
 * RuntimeValidatingPolicy against hostile events: the event's strings are data inside CEL (never
 * parsed as CEL, {{ }} or $()), messages built from them are capped, a namespaced policy governs
 * only the namespace the event is attributed to, and the per-event conversion that keeps only the
 * event paths the policies read cannot change a verdict.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createRuntimeEngine } from '../../src/engine/runtime/index.js';
import { staticPodLookup } from '../../src/engine/runtime/static-lookup.js';
import { loadPolicyText, formatPolicyError } from '../../src/policy/index.js';
import { MAX_MESSAGE_LENGTH, renderTruncations } from '../../src/engine/variables/index.js';
import { adaptLine } from '../../src/events/adapters/index.js';
import {
  annotationProperties,
  newResultState,
  observe,
  toResult,
} from '../../src/reports/policyreport/result.js';
import type { RuntimeEvent } from '../../src/events/types.js';
import type { KubeObject } from '../../src/engine/api/runtime.js';

function engineOf(yaml: string, objects?: KubeObject[]) {
  const loaded = loadPolicyText(yaml, 'p.yaml');
  assert.deepEqual(loaded.errors.map(formatPolicyError), []);
  return createRuntimeEngine(loaded.policies, objects ? { lookup: staticPodLookup(objects) } : {});
}

function policy(spec: string, kind = 'RuntimeValidatingPolicy', namespace?: string): string {
  return `apiVersion: runtime.kyverno.io/v1alpha1
kind: ${kind}
metadata: {name: p${namespace ? `, namespace: ${namespace}` : ''}}
spec:
  validationActions: [Audit]
  matchConstraints:
    resourceRules:
      - {apiGroups: [''], apiVersions: [v1], resources: [pods], operations: ['*']}
${spec}`;
}

const exec = (binary: string, extra: Partial<RuntimeEvent> = {}): RuntimeEvent => ({
  id: `ev-${binary.slice(0, 40)}`,
  time: '2026-11-26T12:00:00Z',
  source: 'test',
  behavior: 'process-exec',
  process: { pid: 7, uid: 0, binary, args: ['-c', 'id'] },
  container: { id: 'containerd://aaaaaaaaaaaa', name: 'app' },
  pod: { namespace: 'team-a', name: 'web-1' },
  ...extra,
});

describe('RuntimeValidatingPolicy: hostile event data', () => {
  const messagePolicy = policy(`  behaviors: [process-exec]
  variables:
    - {name: bin, expression: "event.process.binary"}
  validations:
    - expression: "false"
      messageExpression: "'ran ' + variables.bin + ' as ' + string(event.process.uid)"
  auditAnnotations:
    - {key: binary, valueExpression: "variables.bin"}
`);

  it('CEL, {{ }} and $() text in an event string reaches the message verbatim, unevaluated', () => {
    const engine = engineOf(messagePolicy);
    for (const hostile of [
      `' + string(1 + 1) + '`,
      `{{ request.object.metadata.name }}`,
      `$(process.binary)`,
      `"); event.process.uid == 0 || ("`,
    ]) {
      const [v] = engine.evaluate(exec(hostile));
      assert.ok(v, hostile);
      assert.equal(v.message, `ran ${hostile} as 0`);
      assert.deepEqual(v.annotations, { binary: hostile });
    }
  });

  it('a huge binary name gives a message and annotation capped at the message limit, the cut counted', () => {
    const engine = engineOf(messagePolicy);
    const before = renderTruncations().message;
    const [v] = engine.evaluate(exec(`/tmp/${'A'.repeat(200_000)}`));
    assert.ok(v);
    assert.ok(v.message.length <= MAX_MESSAGE_LENGTH, `${v.message.length}`);
    assert.match(v.message, /…\[truncated from \d+ chars\]$/);
    assert.ok(v.annotations!.binary!.length <= MAX_MESSAGE_LENGTH);
    assert.equal(renderTruncations().message - before, 2);
  });

  it('an annotation value cannot overwrite report fields and is cut to the property length', () => {
    const v = engineOf(messagePolicy).evaluate(exec(`/bin/${'x'.repeat(5000)}`))[0]!;
    const state = newResultState(v);
    observe(state, v);
    const result = toResult(state, 41, undefined);
    assert.equal(result.properties.count, '42');
    assert.ok(result.properties['auditAnnotation.binary']!.length <= 200);
    assert.deepEqual(annotationProperties({ count: '999999' }), { 'auditAnnotation.count': '999999' });
  });

  it('the raw tool payload is CEL data too: a payload claiming to be CEL is never evaluated', () => {
    const line = JSON.stringify({
      process_exec: {
        process: {
          exec_id: 'x1',
          pid: 1,
          binary: "' + event.process.binary + '",
          arguments: '{{ event.id }}',
          pod: { namespace: 'team-a', name: 'web-1', container: { id: 'containerd://ab', name: 'app' } },
        },
      },
      time: '2026-11-26T12:00:00Z',
    });
    const outcome = adaptLine(line, 'auto');
    assert.equal(outcome.kind, 'events');
    if (outcome.kind !== 'events') return;
    const engine = engineOf(
      policy(`  behaviors: [process-exec]
  validations:
    - expression: "!has(event.raw.process_exec)"
      messageExpression: "event.raw.process_exec.process.binary + '|' + event.process.args.join(' ')"
`),
    );
    const [v] = engine.evaluate(outcome.events[0]!);
    assert.equal(v?.message, "' + event.process.binary + '|{{ event.id }}");
  });
});

describe('RuntimeValidatingPolicy: a namespaced policy and the namespace an event claims', () => {
  const teamA = policy(
    `  behaviors: [process-exec]
  validations:
    - expression: "false"
      message: in team-a
`,
    'NamespacedRuntimeValidatingPolicy',
    'team-a',
  );
  const podB: KubeObject = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'worker', namespace: 'team-b', uid: 'uid-b' },
    status: { containerStatuses: [{ name: 'app', containerID: 'containerd://bbbbbbbbbbbb' }] },
  };

  it('with a cluster, an event claiming team-a but coming from a team-b container is judged as team-b', () => {
    const engine = engineOf(teamA, [podB]);
    const claimed = exec('/bin/sh', {
      container: { id: 'bbbbbbbbbbbb', name: 'app' },
      pod: { namespace: 'team-a', name: 'no-such-pod' },
    });
    assert.deepEqual(engine.evaluate(claimed), []);
    // The same event does meet the policy of the namespace it really comes from.
    const teamB = engineOf(teamA.replace('namespace: team-a', 'namespace: team-b'), [podB]);
    assert.deepEqual(
      teamB.evaluate(claimed).map((v) => [v.policyNamespace, v.resource.namespace, v.resource.name]),
      [['team-b', 'team-b', 'worker']],
    );
  });

  it('with a cluster, an event naming a team-a pod that does not exist is a host event, not team-a', () => {
    const engine = engineOf(teamA, [podB]);
    const claimed = exec('/bin/sh', {
      container: { id: 'cccccccccccc', name: 'app' },
      pod: { namespace: 'team-a', name: 'ghost' },
    });
    assert.deepEqual(engine.evaluate(claimed), []);
    // Without a cluster the event's own metadata is all there is: the synthesised pod is in team-a.
    assert.equal(engineOf(teamA).evaluate(claimed)[0]?.resource.namespace, 'team-a');
  });

  it('namespaceObject is the attributed namespace, whatever event.pod.namespace says', () => {
    const engine = engineOf(
      policy(`  behaviors: [process-exec]
  validations:
    - expression: "false"
      messageExpression: "namespaceObject.metadata.name + '/' + object.metadata.name + ' claimed ' + event.pod.namespace"
`),
      [podB],
    );
    const [v] = engine.evaluate(
      exec('/bin/sh', {
        container: { id: 'bbbbbbbbbbbb', name: 'app' },
        pod: { namespace: 'team-a', name: 'no-such-pod' },
      }),
    );
    assert.equal(v?.message, 'team-b/worker claimed team-a');
    assert.equal(v?.resource.namespace, 'team-b');
  });
});

describe('RuntimeValidatingPolicy: converting only the event paths the policies read', () => {
  it('two policies reading different paths each see their own, and has() sees absent fields as absent', () => {
    const engine = engineOf(
      [
        policy(`  behaviors: [process-exec, network-connect]
  validations:
    - expression: "!has(event.network) || event.network.dport != 4444"
      message: port
`).replace('name: p', 'name: port'),
        policy(`  behaviors: [process-exec, network-connect]
  validations:
    - expression: "!has(event.process.args) || !('-c' in event.process.args)"
      message: args
`).replace('name: p', 'name: args'),
      ].join('---\n'),
    );
    assert.deepEqual(
      engine.evaluate(exec('/bin/sh')).map((v) => v.message),
      ['args'],
    );
    const connect: RuntimeEvent = {
      ...exec('/usr/bin/nc'),
      behavior: 'network-connect',
      process: { pid: 9, binary: '/usr/bin/nc' },
      network: { daddr: '203.0.113.9', dport: 4444 },
    };
    assert.deepEqual(
      engine.evaluate(connect).map((v) => v.message),
      ['port'],
    );
  });

  it('an expression reading event whole sees every field (size, string, comprehension)', () => {
    const engine = engineOf(
      policy(`  behaviors: [process-exec]
  validations:
    - expression: "!event.exists(k, k == 'container') || event.process.binary != '/bin/sh'"
      messageExpression: "string(size(event.process))"
`),
    );
    const [v] = engine.evaluate(exec('/bin/sh'));
    assert.equal(v?.message, '4');
  });

  it('a macro variable named event hides the binding: the whole event is kept', () => {
    const engine = engineOf(
      policy(`  behaviors: [process-exec]
  validations:
    - expression: "[1].all(event, event == 1) && event.process.binary != '/bin/sh'"
      messageExpression: "event.container.name"
`),
    );
    assert.equal(engine.evaluate(exec('/bin/sh'))[0]?.message, 'app');
  });

  it('an event field of the wrong type is a rule error, not a pass', () => {
    const engine = engineOf(
      policy(`  behaviors: [process-exec]
  validations:
    - expression: "!event.process.binary.endsWith('/sh')"
`),
    );
    const bad = exec('/bin/sh');
    (bad.process as unknown as Record<string, unknown>).binary = { nested: '/bin/sh' };
    assert.deepEqual(engine.evaluate(bad), []);
    const errors = (engine as unknown as { takeRuleErrors(): { count: number } }).takeRuleErrors();
    assert.equal(errors.count, 1);
  });
});
