/**
 * `block` rules compile to kernel rules only where the kernel's decision is exactly the engine's;
 * anything else is a load error at file:line:col, or a warning when the rule falls back to its kill.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { loadPolicyText } from '../../../src/policy/index.js';
import { createRuntimeEngine } from '../../../src/engine/runtime/index.js';
import type { RuntimeEvent } from '../../../src/events/types.js';

function policy(opts: {
  conditions?: string;
  actions?: string;
  kinds?: string;
  behaviors?: string;
  extra?: string;
  kind?: string;
}): string {
  return `apiVersion: runtime.kyverno.io/v1alpha1
kind: ${opts.kind ?? 'ClusterRuntimePolicy'}
metadata:
  name: no-egress
spec:
  failureAction: Enforce
  rules:
    - name: deny-port
      match:
        any:
          - resources:
              kinds: ${opts.kinds ?? '[Pod, Node]'}
      restrict:
        behaviors: ${opts.behaviors ?? '[network-connect]'}
${opts.extra ?? ''}        conditions:
${
  opts.conditions ??
  `          all:
            - key: '{{ event.network.dport }}'
              operator: AnyIn
              value: [9, 8080]`
}
        actions:
${opts.actions ?? '          - block: {}'}
`;
}

describe('block rules compile to kernel rules', () => {
  test('ports, ranges, addresses and wildcards become the kernel rule the engine agrees with', () => {
    const r = loadPolicyText(
      policy({
        conditions: `          all:
            - key: '{{ event.network.dport }}'
              operator: AnyIn
              value: "8000-8100"
            - key: '{{ event.network.daddr }}'
              operator: AnyIn
              value: ['127.0.0.1', '10.1.*', '::1', 'fd00:*', '::ffff:192.168.*']
            - key: '{{ event.network.protocol }}'
              operator: Equals
              value: tcp`,
      }),
      'p.yaml',
    );
    assert.deepEqual(r.errors, []);
    const engine = createRuntimeEngine(r.policies);
    assert.deepEqual(engine.kernelBlockRules, [
      {
        policy: 'no-egress',
        rule: 'deny-port',
        scope: { kind: 'all' },
        protocols: ['tcp'],
        ports: [{ lo: 8000, hi: 8100 }],
        cidrs: ['127.0.0.1/32', '10.1.0.0/16', '::1/128', 'fd00::/16', '192.168.0.0/16'],
      },
    ]);
    assert.deepEqual(engine.policies[0]?.rules[0]?.block, { enforcement: 'kernel' });
    // The engine reports what the kernel denies: a denial event gives a verdict.
    const denial: RuntimeEvent = {
      id: 'd1',
      time: '2026-01-01T00:00:00Z',
      source: 'kernel-block',
      behavior: 'network-connect',
      enforced: true,
      network: { protocol: 'tcp', family: 'ipv4', daddr: '10.1.2.3', dport: 8050 },
    };
    assert.equal(engine.evaluate(denial).length, 1);
    assert.equal(engine.evaluate({ ...denial, network: { ...denial.network, dport: 8101 } }).length, 0);
  });

  test('each any entry is its own kernel rule; Not operators deny what is outside the list', () => {
    const r = loadPolicyText(
      policy({
        conditions: `          any:
            - key: '{{ event.network.dport }}'
              operator: AnyNotIn
              value: [53, 443]
            - key: '{{ event.network.daddr }}'
              operator: NotEquals
              value: '10.*'`,
      }),
      'p.yaml',
    );
    assert.deepEqual(r.errors, []);
    const rules = createRuntimeEngine(r.policies).kernelBlockRules;
    assert.equal(rules.length, 2);
    assert.equal(rules[0]?.portsNegated, true);
    assert.deepEqual(rules[1]?.cidrs, ['10.0.0.0/8']);
    assert.equal(rules[1]?.cidrsNegated, true);
  });

  test('a cgroup path condition scopes the kernel rule to that cgroup or the ones below it', () => {
    const r = loadPolicyText(
      policy({
        conditions: `          all:
            - key: '{{ event.cgroup.path }}'
              operator: Equals
              value: /kblock-test/*
            - key: '{{ event.network.dport }}'
              operator: Equals
              value: 9`,
      }),
      'p.yaml',
    );
    assert.deepEqual(r.errors, []);
    assert.deepEqual(createRuntimeEngine(r.policies).kernelBlockRules[0]?.scope, {
      kind: 'cgroup-path',
      path: '/kblock-test',
      below: true,
    });
  });

  test('a range inside a list is refused: Kyverno compares it as text there', () => {
    const r = loadPolicyText(
      policy({
        conditions: `          all:
            - key: '{{ event.network.dport }}'
              operator: AnyIn
              value: [9, "8000-8100"]`,
      }),
      'p.yaml',
    );
    assert.match(r.errors[0]?.message ?? '', /"8000-8100" is not a port \(/);
  });

  const refused: [string, Parameters<typeof policy>[0], RegExp, number][] = [
    [
      'a match on labels',
      { kinds: '[Pod, Node]\n              selector: {matchLabels: {a: b}}' },
      /match by selector/,
      13,
    ],
    ['a match on pods only', { kinds: '[Pod]' }, /must cover every process/, 9],
    ['another behavior', { behaviors: '[process-exec]' }, /network-connect only/, 14],
    ['a namespaced policy', { kind: 'RuntimePolicy' }, /namespaced RuntimePolicy/, 2],
    [
      'a CIDR the engine would not match',
      {
        conditions: `          all:
            - key: '{{ event.network.daddr }}'
              operator: Equals
              value: 10.0.0.0/8`,
      },
      /10\.0\.0\.0\/8 is not compiled/,
      19,
    ],
    [
      'a non-canonical IPv6 address',
      {
        conditions: `          all:
            - key: '{{ event.network.daddr }}'
              operator: Equals
              value: '0:0::1'`,
      },
      /write ::1/,
      19,
    ],
    [
      'a key the kernel does not see',
      {
        conditions: `          all:
            - key: '{{ event.process.binary }}'
              operator: Equals
              value: /usr/bin/curl`,
      },
      /only \{\{ event.network.dport/,
      17,
    ],
    [
      'a pattern',
      { extra: '        pattern: {event: {network: {dport: 9}}}\n' },
      /restrict.pattern needs the engine/,
      15,
    ],
  ];
  for (const [what, opts, message, line] of refused) {
    test(`${what} is a load error at its line`, () => {
      const r = loadPolicyText(policy(opts), 'p.yaml');
      assert.equal(r.policies.length, 0, 'the policy is not used');
      assert.equal(r.errors.length, 1, JSON.stringify(r.errors));
      assert.match(r.errors[0]!.message, message);
      assert.equal(r.errors[0]!.line, line, r.errors[0]!.message);
    });
  }

  test('a rule that cannot compile but also kills loads with a warning and falls back to the kill', () => {
    const r = loadPolicyText(
      policy({ kinds: '[Pod]', actions: '          - block: {}\n          - kill: {}' }),
      'p.yaml',
    );
    assert.deepEqual(r.errors, []);
    assert.equal(r.warnings?.length, 1);
    assert.match(r.warnings[0]!.message, /falls back to its user-space kill/);
    assert.equal(r.warnings[0]!.line, 9);
    const engine = createRuntimeEngine(r.policies);
    assert.deepEqual(engine.kernelBlockRules, []);
    assert.equal(engine.policies[0]?.rules[0]?.block?.enforcement, 'user-space-kill');
  });

  test('an Audit policy loads its kernel rules into nothing (block acts under Enforce only)', () => {
    const r = loadPolicyText(policy({}).replace('failureAction: Enforce', 'failureAction: Audit'), 'p.yaml');
    assert.deepEqual(r.errors, []);
    assert.deepEqual(createRuntimeEngine(r.policies).kernelBlockRules, []);
  });
});
