/**
 * The per-event shortcuts of the runtime engine change its cost, never its verdicts: the rule index
 * only drops rules that cannot match, the view and match facts equal what the general code builds,
 * and event ids are the ones earlier releases computed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { attributeEvent, attributionFacts } from '../../../src/engine/runtime/attribution.js';
import { compileRuntimePolicies } from '../../../src/engine/runtime/compile.js';
import { createRuntimeEngine } from '../../../src/engine/runtime/index.js';
import { RuleIndex } from '../../../src/engine/runtime/rule-index.js';
import { runtimeView } from '../../../src/engine/runtime/view.js';
import { matchesRule, resourceFacts, type ResourceFacts } from '../../../src/engine/match/index.js';
import { stableId } from '../../../src/events/adapters/common.js';
import { loadPolicyText } from '../../../src/policy/index.js';
import type { RuntimeEvent } from '../../../src/events/types.js';

const NAMESPACES = ['ns-1', 'ns-2', 'ns-3'];

interface FilterSpec {
  kinds: readonly string[] | undefined;
  namespaces: readonly string[] | undefined;
}
interface RuleSpec {
  namespacedIn: string | undefined;
  mode: 'any' | 'all' | 'legacy';
  filters: FilterSpec[];
  excludeNamespaces: readonly string[] | undefined;
}

const filterArb: fc.Arbitrary<FilterSpec> = fc.record({
  kinds: fc.constantFrom<readonly string[] | undefined>(
    undefined,
    ['Pod'],
    ['Node'],
    ['Namespace'],
    ['*'],
    ['Pod', 'Namespace'],
  ),
  namespaces: fc.constantFrom<readonly string[] | undefined>(
    undefined,
    ['ns-1'],
    ['ns-1', 'ns-2'],
    ['ns-*'],
    ['n?-3'],
    ['ns-2', 'other'],
  ),
});
const ruleArb: fc.Arbitrary<RuleSpec> = fc.record({
  namespacedIn: fc.constantFrom<string | undefined>(undefined, 'ns-1', 'ns-2'),
  mode: fc.constantFrom<RuleSpec['mode']>('any', 'all', 'legacy'),
  filters: fc.array(filterArb, { minLength: 1, maxLength: 3 }),
  excludeNamespaces: fc.constantFrom<readonly string[] | undefined>(undefined, ['ns-2'], ['ns-*']),
});

function resourcesYaml(filter: FilterSpec): string {
  const parts: string[] = [];
  // A filter needs something to check; `kinds` is required by Kyverno's schema.
  parts.push(`kinds: ${JSON.stringify(filter.kinds ?? ['Pod'])}`);
  if (filter.namespaces) parts.push(`namespaces: ${JSON.stringify(filter.namespaces)}`);
  return `{ ${parts.join(', ')} }`;
}

function policyYaml(spec: RuleSpec, i: number): string {
  const match =
    spec.mode === 'legacy'
      ? `resources: ${resourcesYaml(spec.filters[0]!)}`
      : `${spec.mode}: [${spec.filters.map((f) => `{ resources: ${resourcesYaml(f)} }`).join(', ')}]`;
  const exclude = spec.excludeNamespaces
    ? `\n      exclude:\n        any: [{ resources: { namespaces: ${JSON.stringify(spec.excludeNamespaces)} } }]`
    : '';
  const kind = spec.namespacedIn ? 'RuntimePolicy' : 'ClusterRuntimePolicy';
  const ns = spec.namespacedIn ? `\n  namespace: ${spec.namespacedIn}` : '';
  return `apiVersion: runtime.kyverno.io/v1alpha1
kind: ${kind}
metadata:
  name: p${i}${ns}
spec:
  rules:
    - name: r${i}
      match:
        ${match}${exclude}
      restrict:
        behaviors: [process-exec]
        pattern: { event: { process: { binary: "*" } } }
`;
}

function facts(kind: string, name: string, namespace: string): ResourceFacts {
  return { group: '', version: 'v1', kind, name, namespace, labels: {}, annotations: {} };
}

const RESOURCES: ResourceFacts[] = [
  ...[...NAMESPACES, 'other', 'default'].map((ns) => facts('Pod', 'web', ns)),
  facts('Node', 'worker-1', ''),
  ...NAMESPACES.map((ns) => facts('Namespace', ns, '')),
];

test('the rule index keeps every rule that matches, in policy order', () => {
  fc.assert(
    fc.property(fc.array(ruleArb, { minLength: 1, maxLength: 6 }), (specs) => {
      const loaded = loadPolicyText(specs.map(policyYaml).join('---\n'), 'generated.yaml');
      assert.deepEqual(loaded.errors, []);
      const { rules } = compileRuntimePolicies(loaded.policies);
      assert.equal(rules.length, specs.length);
      const index = new RuleIndex(rules);
      for (const resource of RESOURCES) {
        const candidates = index.candidates('process-exec', resource.kind, resource.namespace);
        // Candidates are a subsequence of the rules, in their order...
        let at = 0;
        for (const candidate of candidates) {
          while (at < rules.length && rules[at] !== candidate) at++;
          assert.ok(at < rules.length, 'candidate out of policy order');
          at++;
        }
        // ...and contain every rule that applies to the resource.
        for (const rule of rules) {
          const inNamespace =
            rule.policyNamespace === undefined || rule.policyNamespace === resource.namespace;
          if (inNamespace && matchesRule(rule.compiled, resource))
            assert.ok(
              candidates.includes(rule),
              `${rule.policy} matches ${resource.kind} ${resource.namespace}`,
            );
        }
      }
      assert.deepEqual(index.candidates('file-read', 'Pod', 'ns-1'), []);
    }),
    { numRuns: 60 },
  );
});

test('with many namespaced policies an event meets only the rules of its namespace', () => {
  const docs = Array.from({ length: 40 }, (_, i) =>
    policyYaml(
      {
        namespacedIn: undefined,
        mode: 'any',
        filters: [{ kinds: ['Pod'], namespaces: [`ns-${i % 10}`] }],
        excludeNamespaces: undefined,
      },
      i,
    ),
  );
  const { rules } = compileRuntimePolicies(loadPolicyText(docs.join('---\n'), 'many.yaml').policies);
  const candidates = new RuleIndex(rules).candidates('process-exec', 'Pod', 'ns-3');
  assert.deepEqual(
    candidates.map((r) => r.policy),
    ['p3', 'p13', 'p23', 'p33'],
  );
  assert.deepEqual(new RuleIndex(rules).candidates('process-exec', 'Pod', 'elsewhere'), []);
});

function event(extra: Partial<RuntimeEvent>): RuntimeEvent {
  return { id: 'e1', time: '2026-11-26T12:00:00Z', source: 'test', behavior: 'process-exec', ...extra };
}

test('match facts of a synthesised pod equal the general resourceFacts', () => {
  const cases: RuntimeEvent[] = [
    event({ pod: { namespace: 'prod', name: 'web-1', labels: { app: 'web' } }, container: { name: 'c' } }),
    event({ pod: { name: 'no-namespace' } }),
    // A label value that is not a string (RuntimeEvent JSON from a custom tool) takes the general path.
    event({ pod: { name: 'odd', labels: { n: 1 } as unknown as Record<string, string> } }),
    event({ node: 'worker-2' }),
  ];
  for (const e of cases) {
    const attribution = attributeEvent(e, undefined, 'fallback');
    assert.deepEqual(attributionFacts(attribution), resourceFacts(attribution.resource));
  }
});

test('the runtime view equals the resource plus behavior and event, and shadows those keys', () => {
  const e = event({ pod: { namespace: 'prod', name: 'web-1' }, container: { name: 'c', image: 'i:1' } });
  const attribution = attributeEvent(e, undefined);
  const view = runtimeView(attribution, e);
  assert.deepEqual(view, { ...attribution.resource, behavior: ['process-exec'], event: e });

  const odd = { ...attribution, resource: { ...attribution.resource, behavior: 'x', event: 'y' } };
  const shadowed = runtimeView(odd, e);
  assert.deepEqual(shadowed.behavior, ['process-exec']);
  assert.equal(shadowed.event, e);
});

test('the engine reports the same verdicts with the namespace index as rule by rule', () => {
  const docs = Array.from({ length: 12 }, (_, i) =>
    policyYaml(
      {
        namespacedIn: i % 5 === 0 ? 'ns-1' : undefined,
        mode: i % 3 === 0 ? 'all' : 'any',
        filters: [{ kinds: ['Pod'], namespaces: i % 4 === 0 ? undefined : [`ns-${(i % 3) + 1}`] }],
        excludeNamespaces: i % 7 === 0 ? ['ns-2'] : undefined,
      },
      i,
    ),
  );
  const all = loadPolicyText(docs.join('---\n'), 'all.yaml').policies;
  const engine = createRuntimeEngine(all);
  const single = all.map((p) => createRuntimeEngine([p]));
  for (const ns of [...NAMESPACES, 'other']) {
    const e = event({ pod: { namespace: ns, name: 'web' }, process: { binary: '/bin/sh' } });
    const expected = single.flatMap((s) => s.evaluate(e)).map((v) => v.policy);
    assert.deepEqual(
      engine.evaluate(e).map((v) => v.policy),
      expected,
    );
  }
});

test('event ids are unchanged (stable across releases for deduplication)', () => {
  assert.equal(
    stableId('tetragon', [
      'worker-1',
      '2026-11-26T12:00:00.000000000Z',
      'Y29ubmVjdC5',
      'process_kprobe',
      'tcp_connect',
    ]),
    'tetragon-0b151cbee47a0055',
  );
  // Long parts hash their length, head and tail; undefined and numbers have fixed encodings.
  assert.equal(stableId('falco', ['a', undefined, 'x'.repeat(1000), 5]), 'falco-218813a1f12c8012');
});

test('rules written alike share their work per event but each reports its own verdict or error', () => {
  const policy = (name: string, conditionKey: string) => `apiVersion: runtime.kyverno.io/v1alpha1
kind: ClusterRuntimePolicy
metadata:
  name: ${name}
spec:
  rules:
    - name: r
      match:
        any: [{ resources: { kinds: [Pod] } }]
      restrict:
        behaviors: [network-connect]
        message: "to {{ event.network.daddr }}"
        conditions:
          any:
            - key: "${conditionKey}"
              operator: AnyNotIn
              value: [443]
`;
  const text = [
    policy('a', '{{ event.network.dport }}'),
    policy('b', '{{ event.network.dport }}'),
    policy('c', '{{ to_string(event.network.dport) }}'),
  ].join('---\n');
  const loaded = loadPolicyText(text, 'alike.yaml');
  assert.deepEqual(loaded.errors, []);
  const { rules } = compileRuntimePolicies(loaded.policies);
  assert.equal(rules[0]!.shared.conditions, rules[1]!.shared.conditions);
  assert.notEqual(rules[0]!.shared.conditions, -1);
  // A JMESPath function call is never shared (a function could read a clock or a random source).
  assert.equal(rules[2]!.shared.conditions, -1);
  assert.equal(rules[0]!.shared.message, rules[2]!.shared.message);

  const engine = createRuntimeEngine(loaded.policies);
  const connect = (dport?: number) =>
    event({
      behavior: 'network-connect',
      pod: { namespace: 'prod', name: 'web' },
      network: dport === undefined ? {} : { daddr: '203.0.113.7', dport },
    });
  const violated = engine.evaluate(connect(80));
  assert.deepEqual(
    violated.map((v) => [v.policy, v.message]),
    [
      ['a', 'to 203.0.113.7'],
      ['b', 'to 203.0.113.7'],
      ['c', 'to 203.0.113.7'],
    ],
  );
  assert.deepEqual(engine.evaluate(connect(443)), []);
  // No dport: the plain variable does not resolve, a rule error for each rule that reads it (the
  // function form reads null instead and stringifies it).
  assert.deepEqual(
    engine.evaluate(connect()).map((v) => v.policy),
    ['c'],
  );
  const errors = (
    engine as unknown as { takeRuleErrors(): { recent: { policy: string; message: string }[] } }
  )
    .takeRuleErrors()
    .recent.map((e) => e.policy);
  assert.deepEqual(errors, ['a', 'b']);
});
