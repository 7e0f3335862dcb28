/**
 * Rule errors carry a stable `reason` classified from the error's class where the engine catches it,
 * and the policy's namespace: two namespaced RuntimePolicies of the same name keep separate counts
 * in the pipeline's RuleErrorReporter. Real policies, real engine, a real Tetragon sample.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createRuntimeEngine, ruleErrorReasonOf, type RuleError } from '../../../src/engine/runtime/index.js';
import { CelEvaluationError } from '../../../src/engine/cel/errors.js';
import { JmesPathFunctionError, JmesPathNotFoundError } from '../../../src/engine/jmespath/errors.js';
import { VariableSubstitutionError } from '../../../src/engine/variables/errors.js';
import { adaptLine } from '../../../src/events/adapters/index.js';
import { RuleErrorReporter } from '../../../src/pipeline/index.js';
import { loadPolicyText } from '../../../src/policy/index.js';

const sample = readFileSync(
  fileURLToPath(new URL('../../../../shared/samples/tetragon/testdata-events.jsonl', import.meta.url)),
  'utf8',
).split('\n')[0]!;

function namespacedPolicy(namespace: string): string {
  return `apiVersion: runtime.kyverno.io/v1alpha1
kind: RuntimePolicy
metadata:
  name: same-name
  namespace: ${namespace}
spec:
  rules:
    - name: port
      match: {any: [{resources: {kinds: [Pod]}}]}
      restrict:
        behaviors: [process-exec]
        conditions:
          all:
            - key: "{{ event.network.dport }}"
              operator: Equals
              value: 22
    - name: cel-port
      match: {any: [{resources: {kinds: [Pod]}}]}
      restrict:
        behaviors: [process-exec]
        cel:
          expressions:
            - expression: "event.network.dport == 22"
`;
}

test('the reason comes from the error class, not from its message', () => {
  const missing = new VariableSubstitutionError('event.x', '/key', new JmesPathNotFoundError('x'));
  assert.equal(ruleErrorReasonOf(missing), 'missing-key');
  const failed = new VariableSubstitutionError('f(x)', '/key', new JmesPathFunctionError('f', 'bad'));
  assert.equal(ruleErrorReasonOf(failed), 'variable');
  assert.equal(ruleErrorReasonOf(new CelEvaluationError('x', 'No such key: x')), 'cel');
  assert.equal(ruleErrorReasonOf(new JmesPathFunctionError('divide', 'division by zero')), 'jmespath');
  // A message that merely looks like a variable error is not one.
  assert.equal(ruleErrorReasonOf(new Error('failed to resolve x at path /: Unknown key "x"')), 'other');
  assert.equal(ruleErrorReasonOf('thrown string'), 'other');
});

test('namespaced policies of the same name report their namespace and keep separate counts', () => {
  const loaded = loadPolicyText(
    [namespacedPolicy('team-a'), namespacedPolicy('default')].join('---\n'),
    'policies.yaml',
  );
  assert.deepEqual(loaded.errors, []);
  const engine = createRuntimeEngine(loaded.policies);
  const outcome = adaptLine(sample, 'tetragon');
  assert.equal(outcome.kind, 'events');
  const event = outcome.events[0]!;
  // The sample's pod is in "default": only that namespace's policy applies to it.
  assert.equal(event.pod?.namespace, 'default');
  assert.deepEqual(engine.evaluate(event), []);
  const { count, recent } = engine.takeRuleErrors();
  assert.equal(count, 2);
  const byRule = new Map(recent.map((e: RuleError) => [e.rule, e]));
  assert.equal(byRule.get('port')?.reason, 'missing-key');
  assert.equal(byRule.get('port')?.policyNamespace, 'default');
  assert.match(byRule.get('port')?.message ?? '', /Unknown key "network"/);
  assert.equal(byRule.get('cel-port')?.reason, 'cel');
  assert.equal(byRule.get('cel-port')?.policyNamespace, 'default');
  assert.equal(engine.takeRuleErrors().count, 0, 'taking drains');

  const reporter = new RuleErrorReporter();
  const teamA: RuleError = { ...byRule.get('port')!, policyNamespace: 'team-a' };
  reporter.drain({ takeRuleErrors: () => ({ count: 3, recent: [...recent, teamA] }) });
  assert.equal(reporter.countFor('same-name', 'default'), 2);
  assert.equal(reporter.countFor('same-name', 'team-a'), 1);
  assert.equal(reporter.countFor('same-name'), 0, 'no cluster-wide policy of that name errored');
  assert.equal(reporter.total, 3);
});

test('each rule error names the key this event lacks, however the failures alternate', () => {
  // A repeated failure reuses its error object (built once per variable, place and missing key):
  // events lacking different keys in turn must still each get their own message.
  const loaded = loadPolicyText(namespacedPolicy('default'), 'alternating.yaml');
  assert.deepEqual(loaded.errors, []);
  const engine = createRuntimeEngine(loaded.policies);
  const base = {
    id: 'e',
    time: '2026-11-26T12:00:00Z',
    source: 'test',
    behavior: 'process-exec' as const,
    pod: { namespace: 'default', name: 'web' },
  };
  const noNetwork = base;
  const noPort = { ...base, network: { daddr: '10.0.0.1' } };
  const port22 = { ...base, network: { daddr: '10.0.0.1', dport: 22 } };
  const expected: [typeof base, string | undefined][] = [
    [noNetwork, 'network'],
    [noPort, 'dport'],
    [noNetwork, 'network'],
    [port22, undefined],
    [noPort, 'dport'],
    [noPort, 'dport'],
  ];
  for (const [event, missing] of expected) {
    const verdicts = engine.evaluate(event);
    const errors = engine.takeRuleErrors().recent.filter((e) => e.rule === 'port');
    if (missing === undefined) {
      assert.equal(errors.length, 0);
      assert.deepEqual(
        verdicts.map((v) => v.rule),
        ['port', 'cel-port'],
      );
      continue;
    }
    assert.equal(errors.length, 1);
    assert.equal(errors[0]!.reason, 'missing-key');
    assert.equal(
      errors[0]!.message,
      `failed to resolve event.network.dport at path /all/0/key: Unknown key "${missing}" in path`,
    );
  }
});
