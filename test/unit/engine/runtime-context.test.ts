import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRuntimeEngine, type ContextProvider } from '../../../src/engine/runtime/index.js';
import { formatPolicyError, loadPolicyText } from '../../../src/policy/index.js';
import type { RuntimeEvent } from '../../../src/events/types.js';

const policy = (context: string, key: string, value: string) => `apiVersion: runtime.kyverno.io/v1alpha1
kind: ClusterRuntimePolicy
metadata: {name: ctx}
spec:
  rules:
    - name: r
      match: {any: [{resources: {kinds: [Pod]}}]}
      context:
${context}
      restrict:
        behaviors: [process-exec]
        message: "{{ ${key} }}"
        conditions:
          all: [{key: "{{ ${key} }}", operator: Equals, value: ${value}}]
`;

const ev: RuntimeEvent = {
  id: 'e',
  time: '2026-11-26T12:00:00Z',
  source: 'test',
  behavior: 'process-exec',
  process: { pid: 1, binary: '/bin/sh', args: ['-c'] },
  pod: { namespace: 'prod', name: 'web-1' },
};

function engine(text: string, provider?: ContextProvider) {
  const r = loadPolicyText(text, 'p.yaml');
  assert.deepEqual(r.errors.map(formatPolicyError), []);
  return createRuntimeEngine(r.policies, provider ? { context: provider } : {});
}

test('a variable context entry (value, jmesPath over it, default) is loaded on the event path', () => {
  const v = policy(
    `        - name: shell
          variable:
            value: "{{ event.process.binary }}"
            jmesPath: "split(@, '/')[-1]"`,
    'shell',
    'sh',
  );
  const [verdict] = engine(v).evaluate(ev);
  assert.equal(verdict?.message, 'sh');
  const withDefault = policy(
    `        - name: owner
          variable:
            jmesPath: request.object.metadata.labels.owner
            default: nobody`,
    'owner',
    'nobody',
  );
  assert.equal(engine(withDefault).evaluate(ev).length, 1);
});

test('a globalReference reads the provider, and without one the rule is an error (not a pass)', () => {
  const g = policy(
    `        - name: blocked
          globalReference:
            name: blocked-binaries
            jmesPath: "contains(@, '/bin/sh')"`,
    'blocked',
    'true',
  );
  const provider: ContextProvider = {
    configMap: () => undefined,
    apiCall: () => undefined,
    globalReference: (name) => (name === 'blocked-binaries' ? ['/bin/sh'] : undefined),
  };
  assert.equal(engine(g, provider).evaluate(ev).length, 1);
  const none = engine(g);
  assert.equal(none.evaluate(ev).length, 0);
  const errors = none.takeRuleErrors();
  assert.equal(errors.recent[0]?.reason, 'context');
  assert.match(errors.recent[0].message, /no globalReference data/);
});

test('two rules with the same conditions but different context do not share an outcome', () => {
  const text = `apiVersion: runtime.kyverno.io/v1alpha1
kind: ClusterRuntimePolicy
metadata: {name: ctx}
spec:
  rules:
${['sh', 'bash']
  .map(
    (want, i) => `    - name: r${i}
      match: {any: [{resources: {kinds: [Pod]}}]}
      context: [{name: want, variable: {value: ${want}}}]
      restrict:
        behaviors: [process-exec]
        conditions: {all: [{key: "{{ event.process.binary }}", operator: Equals, value: "/bin/{{ want }}"}]}`,
  )
  .join('\n')}
`;
  const verdicts = engine(text).evaluate(ev);
  assert.deepEqual(
    verdicts.map((v) => v.rule),
    ['r0'],
  );
});
