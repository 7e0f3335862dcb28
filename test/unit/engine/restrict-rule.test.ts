import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRuntimeEngine } from '../../../src/engine/runtime/index.js';
import { IndexedRuntimeEngine } from '../../../src/engine/runtime/engine.js';
import { loadPolicyText } from '../../../src/policy/index.js';
import type { RuntimeEvent } from '../../../src/events/types.js';

function engineFor(yaml: string) {
  const loaded = loadPolicyText(yaml, 'test.yaml');
  assert.deepEqual(loaded.errors, []);
  return createRuntimeEngine(loaded.policies, { nodeName: 'node-a' });
}

function policy(name: string, spec: string, kind = 'ClusterRuntimePolicy', namespace?: string): string {
  return `apiVersion: runtime.kyverno.io/v1alpha1
kind: ${kind}
metadata:
  name: ${name}
${namespace ? `  namespace: ${namespace}\n` : ''}spec:
${spec}`;
}

const podEvent = (extra: Partial<RuntimeEvent>): RuntimeEvent => ({
  id: 'ev-1',
  time: '2026-11-26T12:00:00Z',
  source: 'test',
  behavior: 'process-exec',
  process: { pid: 10, uid: 0, binary: '/bin/sh', args: ['-c', 'id'] },
  container: { name: 'app', image: 'registry.example.com/app:1' },
  pod: { namespace: 'prod', name: 'web-1', labels: { tier: 'web' } },
  ...extra,
});

const shellRule = `  failureAction: Enforce
  rules:
    - name: no-shell
      match:
        any:
          - resources:
              kinds: [Pod]
      restrict:
        message: "shell {{ event.process.binary }} in {{ request.object.metadata.name }}"
        behaviors: [process-exec]
        pattern:
          event:
            process:
              binary: "*/sh"
        actions:
          - kill: {}
`;

test('a pattern match on the runtime view is a violation with the rendered message and actions', () => {
  const engine = engineFor(policy('shell', shellRule));
  const [verdict, ...rest] = engine.evaluate(podEvent({}));
  assert.equal(rest.length, 0);
  assert.ok(verdict);
  assert.equal(verdict.policy, 'shell');
  assert.equal(verdict.rule, 'no-shell');
  assert.equal(verdict.message, 'shell /bin/sh in web-1');
  assert.equal(verdict.mode, 'Enforce');
  assert.deepEqual(verdict.actions, [{ kill: {} }]);
  assert.deepEqual(verdict.resource, { apiVersion: 'v1', kind: 'Pod', name: 'web-1', namespace: 'prod' });
  assert.equal(verdict.container, 'app');
  assert.equal(verdict.synthetic, true);
  assert.equal(verdict.eventId, 'ev-1');
});

test('an event the pattern does not describe is no violation', () => {
  const engine = engineFor(policy('shell', shellRule));
  assert.deepEqual(engine.evaluate(podEvent({ process: { binary: '/usr/sbin/nginx' } })), []);
});

test('rules only see the behaviors they name', () => {
  const engine = engineFor(policy('shell', shellRule));
  assert.deepEqual(engine.evaluate(podEvent({ behavior: 'file-write', file: { path: '/bin/sh' } })), []);
  assert.deepEqual([...engine.sensorHints.behaviors], ['process-exec']);
});

test('Audit reports without actions', () => {
  const engine = engineFor(policy('shell', shellRule.replace('Enforce', 'Audit')));
  const [verdict] = engine.evaluate(podEvent({}));
  assert.equal(verdict?.mode, 'Audit');
  assert.deepEqual(verdict?.actions, []);
});

test("the pattern's behavior list is a set: every listed behavior triggers the rule", () => {
  const engine = engineFor(
    policy(
      'files',
      `  rules:
    - name: etc
      match:
        any:
          - resources:
              kinds: [Pod]
      restrict:
        pattern:
          behavior: [file-read, file-write]
          event:
            file:
              path: "/etc/*"
`,
    ),
  );
  const write = engine.evaluate(
    podEvent({ behavior: 'file-write', file: { path: '/etc/passwd', operation: 'write' } }),
  );
  const read = engine.evaluate(
    podEvent({ behavior: 'file-read', file: { path: '/etc/shadow', operation: 'read' } }),
  );
  const other = engine.evaluate(
    podEvent({ behavior: 'file-write', file: { path: '/tmp/x', operation: 'write' } }),
  );
  assert.equal(write.length, 1);
  assert.equal(read.length, 1);
  assert.equal(other.length, 0);
  assert.deepEqual(engine.sensorHints.filePathPrefixes, ['/etc/']);
});

test('a namespaced RuntimePolicy governs only its own namespace', () => {
  const engine = engineFor(policy('ns-shell', shellRule, 'RuntimePolicy', 'prod'));
  assert.equal(engine.evaluate(podEvent({})).length, 1);
  assert.equal(engine.evaluate(podEvent({ pod: { namespace: 'dev', name: 'web-1' } })).length, 0);
});

test('match and exclude use Kyverno semantics (namespaces wildcard, selector, exclude)', () => {
  const engine = engineFor(
    policy(
      'scoped',
      `  rules:
    - name: scoped
      match:
        any:
          - resources:
              kinds: [Pod]
              namespaces: ["pro?"]
              selector:
                matchLabels:
                  tier: web
      exclude:
        any:
          - resources:
              names: ["web-excluded-*"]
      restrict:
        behaviors: [process-exec]
`,
    ),
  );
  assert.equal(engine.evaluate(podEvent({})).length, 1);
  assert.equal(
    engine.evaluate(podEvent({ pod: { namespace: 'production', name: 'web-1', labels: { tier: 'web' } } }))
      .length,
    0,
  );
  assert.equal(
    engine.evaluate(podEvent({ pod: { namespace: 'prod', name: 'web-1', labels: { tier: 'db' } } })).length,
    0,
  );
  assert.equal(
    engine.evaluate(podEvent({ pod: { namespace: 'prod', name: 'web-excluded-1', labels: { tier: 'web' } } }))
      .length,
    0,
  );
});

test('preconditions, conditions and CEL must all hold', () => {
  const engine = engineFor(
    policy(
      'root-shell',
      `  rules:
    - name: root-shell
      match:
        any:
          - resources:
              kinds: [Pod]
      preconditions:
        all:
          - key: "{{ request.object.metadata.namespace }}"
            operator: Equals
            value: prod
      restrict:
        behaviors: [process-exec]
        conditions:
          all:
            - key: "{{ event.process.uid }}"
              operator: Equals
              value: 0
        cel:
          expressions:
            - expression: "event.container.image.startsWith('registry.example.com/')"
`,
    ),
  );
  assert.equal(engine.evaluate(podEvent({})).length, 1);
  assert.equal(engine.evaluate(podEvent({ process: { uid: 1000, binary: '/bin/sh' } })).length, 0);
  assert.equal(engine.evaluate(podEvent({ container: { name: 'app', image: 'docker.io/app:1' } })).length, 0);
  assert.equal(engine.evaluate(podEvent({ pod: { namespace: 'dev', name: 'web-1' } })).length, 0);
});

test('host events belong to the Node, so kinds: [Node] rules govern host processes', () => {
  const engine = engineFor(
    policy(
      'host-modules',
      `  rules:
    - name: no-modules
      match:
        any:
          - resources:
              kinds: [Node]
      restrict:
        behaviors: [module-load]
`,
    ),
  );
  const event: RuntimeEvent = {
    id: 'm1',
    time: '2026-11-26T12:00:00Z',
    source: 'test',
    behavior: 'module-load',
    module: { name: 'xfs' },
  };
  const [verdict] = engine.evaluate(event);
  assert.equal(verdict?.resource.kind, 'Node');
  assert.equal(verdict?.resource.name, 'node-a');
  // The same event inside a pod is not a Node event.
  assert.equal(engine.evaluate({ ...event, pod: { namespace: 'x', name: 'p' } }).length, 0);
});

test('a message variable missing on an event keeps the violation, with the message unrendered', () => {
  const engine = engineFor(
    policy(
      'mounts',
      `  rules:
    - name: mounts
      match:
        any:
          - resources:
              kinds: [Pod]
      restrict:
        message: "mount on {{ event.mount.target }}"
        behaviors: [volume-mount]
`,
    ),
  );
  const [verdict] = engine.evaluate(podEvent({ behavior: 'volume-mount' }));
  assert.equal(verdict?.message, 'mount on {{ event.mount.target }}');
});

test('a rule that errors on an event produces no verdict and is counted', () => {
  const engine = engineFor(
    policy(
      'bad-cel',
      `  rules:
    - name: bad-cel
      match:
        any:
          - resources:
              kinds: [Pod]
      restrict:
        behaviors: [process-exec]
        cel:
          expressions:
            - expression: "event.nosuchfield.value == 1"
`,
    ),
  );
  assert.equal(engine.evaluate(podEvent({})).length, 0);
  assert.ok(engine instanceof IndexedRuntimeEngine);
  const errors = engine.takeRuleErrors();
  assert.equal(errors.count, 1);
  assert.equal(errors.recent[0]?.rule, 'bad-cel');
});

test('a restrict rule that names no behavior is rejected with its position', () => {
  const loaded = loadPolicyText(
    policy(
      'nobehavior',
      `  rules:
    - name: r
      match:
        any:
          - resources:
              kinds: [Pod]
      restrict:
        pattern:
          event:
            process:
              binary: "*/sh"
`,
    ),
    'nobehavior.yaml',
  );
  assert.equal(loaded.policies.length, 0);
  assert.equal(loaded.errors.length, 1);
  assert.match(loaded.errors[0]!.message, /must name its behaviors/);
  assert.equal(loaded.errors[0]!.file, 'nobehavior.yaml');
  assert.ok(loaded.errors[0]!.line > 1);
});
