import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRuntimeEngine } from '../../../src/engine/runtime/index.js';
import { ExceptionSet } from '../../../src/engine/exceptions/index.js';
import { staticPodLookup } from '../../../src/engine/runtime/static-lookup.js';
import { formatPolicyError, loadPolicyText } from '../../../src/policy/index.js';
import type { RuntimeEvent } from '../../../src/events/types.js';

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
    - name: no-bash
      match: {any: [{resources: {kinds: [Pod]}}]}
      restrict:
        behaviors: [process-exec]
        pattern: {event: {process: {binary: "*/bash"}}}
        actions: [{kill: {}}]
`;

const V2 = (extra = '', ns = 'prod') => `apiVersion: kyverno.io/v2
kind: PolicyException
metadata: {name: debug-shell, namespace: ${ns}}
spec:
  exceptions:
    - policyName: no-shell
      ruleNames: [no-shell]
  match:
    any:
      - resources:
          kinds: [Pod]
          names: ["debug-*"]
${extra}`;

const CEL = `apiVersion: policies.kyverno.io/v1alpha1
kind: PolicyException
metadata: {name: cel-debug, namespace: prod}
spec:
  policyRefs: [{name: no-shell, kind: ClusterRuntimePolicy}]
  matchConditions:
    - name: debug-label
      expression: "object.metadata.labels.debug == 'true' && event.process.binary == '/bin/sh'"
`;

function load(text: string) {
  const r = loadPolicyText(text, 'x.yaml');
  assert.deepEqual(r.errors.map(formatPolicyError), []);
  return r;
}

function engine(exceptionYaml: string, clusterWide: string[] = []) {
  const policies = load(POLICY).policies;
  const exceptions = new ExceptionSet(load(exceptionYaml).exceptions ?? [], {
    clusterWideNamespaces: clusterWide,
  });
  return createRuntimeEngine(policies, { exceptions });
}

const ev = (
  pod: string,
  binary = '/bin/sh',
  namespace = 'prod',
  labels: Record<string, string> = {},
): RuntimeEvent => ({
  id: `ev-${pod}`,
  time: '2026-11-26T12:00:00Z',
  source: 'test',
  behavior: 'process-exec',
  process: { pid: 10, uid: 0, binary, args: [] },
  pod: { namespace, name: pod, labels },
});

test('a v2 exception turns the named rule into skip for the pods it matches, with no actions', () => {
  const e = engine(V2());
  const [exempt] = e.evaluate(ev('debug-1'));
  assert.deepEqual(exempt?.exception, { name: 'debug-shell', namespace: 'prod' });
  assert.deepEqual(exempt?.actions, []);
  assert.match(exempt.message, /policy exception prod\/debug-shell/);
  const [kept] = e.evaluate(ev('web-1'));
  assert.equal(kept?.exception, undefined);
  assert.equal(kept?.actions.length, 1);
});

test('a v2 exception exempts only the rules it names', () => {
  const [bash] = engine(V2()).evaluate(ev('debug-1', '/bin/bash'));
  assert.equal(bash?.rule, 'no-bash');
  assert.equal(bash?.exception, undefined);
  const [wild] = engine(V2().replace('ruleNames: [no-shell]', 'ruleNames: ["no-*"]')).evaluate(
    ev('debug-1', '/bin/bash'),
  );
  assert.equal(wild?.exception?.name, 'debug-shell');
});

test('a v2 exception whose conditions do not hold leaves the violation and its actions', () => {
  const conditions = `  conditions:
    any:
      - key: "{{ event.process.uid }}"
        operator: NotEquals
        value: 0
`;
  const [v] = engine(V2(conditions)).evaluate(ev('debug-1'));
  assert.equal(v?.exception, undefined);
  assert.equal(v?.actions.length, 1);
  const held = conditions.replace('NotEquals', 'Equals');
  assert.equal(engine(V2(held)).evaluate(ev('debug-1'))[0]?.exception?.name, 'debug-shell');
});

test('a namespaced exception does not reach pods of another namespace unless its namespace is cluster-wide', () => {
  const [other] = engine(V2()).evaluate(ev('debug-1', '/bin/sh', 'staging'));
  assert.equal(other?.exception, undefined);
  const [wide] = engine(V2(), ['prod']).evaluate(ev('debug-1', '/bin/sh', 'staging'));
  assert.equal(wide?.exception?.name, 'debug-shell');
});

test('a CEL exception applies when its matchConditions over object and event hold', () => {
  const e = engine(CEL);
  assert.equal(
    e.evaluate(ev('web-1', '/bin/sh', 'prod', { debug: 'true' }))[0]?.exception?.name,
    'cel-debug',
  );
  assert.equal(e.evaluate(ev('web-1', '/bin/sh', 'prod', { debug: 'false' }))[0]?.exception, undefined);
  // Every rule of the referenced policy.
  const bash = e.evaluate(ev('web-1', '/bin/bash', 'prod', { debug: 'true' }))[0];
  assert.equal(bash?.exception, undefined, 'the CEL condition also checks the binary');
});

test('a CEL exception naming another kind does not apply', () => {
  const e = engine(CEL.replace('kind: ClusterRuntimePolicy', 'kind: ValidatingPolicy'));
  assert.equal(e.evaluate(ev('web-1', '/bin/sh', 'prod', { debug: 'true' }))[0]?.exception, undefined);
});

test('a CEL exception sees namespaceObject from the cluster', () => {
  const text = CEL.replace(
    `"object.metadata.labels.debug == 'true' && event.process.binary == '/bin/sh'"`,
    `"namespaceObject.metadata.labels.tier == 'debug'"`,
  );
  const policies = load(POLICY).policies;
  const exceptions = new ExceptionSet(load(text).exceptions ?? []);
  const lookup = staticPodLookup([
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'prod', labels: { tier: 'debug' } } },
    { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web-1', namespace: 'prod', uid: 'u1' } },
  ]);
  const e = createRuntimeEngine(policies, { exceptions, lookup });
  assert.equal(e.evaluate(ev('web-1'))[0]?.exception?.name, 'cel-debug');
});

test('an exception whose CEL fails at evaluation does not apply and is a rule error', () => {
  const text = CEL.replace(
    `"object.metadata.labels.debug == 'true' && event.process.binary == '/bin/sh'"`,
    `"object.metadata.labels.missing == 'x'"`,
  );
  const e = engine(text);
  const [v] = e.evaluate(ev('web-1'));
  assert.equal(v?.exception, undefined);
  const errors = e.takeRuleErrors();
  assert.equal(errors.count, 1);
  assert.equal(errors.recent[0]?.reason, 'exception');
});

test('replacing the exception set takes effect on the next event without a new engine', () => {
  const set = new ExceptionSet();
  const e = createRuntimeEngine(load(POLICY).policies, { exceptions: set });
  assert.equal(e.evaluate(ev('debug-1'))[0]?.exception, undefined);
  set.replace(load(V2()).exceptions ?? []);
  assert.equal(e.evaluate(ev('debug-1'))[0]?.exception?.name, 'debug-shell');
});

test('bad exceptions fail to load with file:line:col', () => {
  const cases: [string, RegExp][] = [
    [
      V2().replace('policyName: no-shell', 'polcyName: no-shell'),
      /x\.yaml:6:\d+: unknown field `polcyName`, did you mean `policyName`\?/,
    ],
    [V2().replace('ruleNames: [no-shell]', 'ruleNames: []'), /x\.yaml:7:\d+: ruleNames must list/],
    [
      V2().replace('      - resources:', '      - subjects: [{kind: User, name: bob}]\n        resources:'),
      /x\.yaml:10:\d+: subjects cannot be checked/,
    ],
    [CEL.replace('expression: "object', 'expression: "object.(('), /x\.yaml:8:\d+: invalid CEL expression/],
    [
      CEL.replace('policyRefs: [{name: no-shell, kind: ClusterRuntimePolicy}]', 'policyRefs: []'),
      /x\.yaml:5:\d+: spec.policyRefs needs/,
    ],
  ];
  for (const [text, want] of cases) {
    const r = loadPolicyText(text, 'x.yaml');
    assert.equal(r.exceptions?.length ?? 0, 0, text);
    assert.match(r.errors.map(formatPolicyError).join('\n'), want);
  }
});
