import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  compileKindNamespaceMatch,
  compileMatch,
  matchesRule,
  parseKindSelector,
  resourceFacts,
  type MatchOptions,
} from '../../../src/engine/match/index.js';

const pod = (
  over: Record<string, unknown> = {},
  md: Record<string, unknown> = {},
): Record<string, unknown> => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: {
    name: 'web-1',
    namespace: 'prod-a',
    labels: { app: 'web' },
    annotations: { team: 'blue' },
    ...md,
  },
  ...over,
});
const rule = (
  match: unknown,
  exclude?: unknown,
): { match: ReturnType<typeof compileMatch>; exclude?: ReturnType<typeof compileMatch> } => ({
  match: compileMatch(match),
  ...(exclude !== undefined ? { exclude: compileMatch(exclude) } : {}),
});
const any = (resources: Record<string, unknown>, extra: Record<string, unknown> = {}): unknown => ({
  any: [{ resources, ...extra }],
});
const m = (
  match: unknown,
  res: Record<string, unknown>,
  opts: MatchOptions = {},
  exclude?: unknown,
): boolean => matchesRule(rule(match, exclude), res, opts);

describe('ParseKindSelector', () => {
  const cases: [string, string, string, string, string][] = [
    ['Pod', '*', '*', 'Pod', ''],
    ['v1/Pod', '*', 'v1', 'Pod', ''],
    ['apps/v1/Deployment', 'apps', 'v1', 'Deployment', ''],
    ['apps/*/Deployment', 'apps', '*', 'Deployment', ''],
    ['*', '*', '*', '*', ''],
    ['*/*', '*', '*', '*', '*'],
    ['Pod/exec', '*', '*', 'Pod', 'exec'],
    ['Pod.exec', '*', '*', 'Pod', 'exec'],
    ['*/scale', '*', '*', '*', 'scale'],
    ['v1/Pod/status', '*', 'v1', 'Pod', 'status'],
    ['apps/v1/Deployment/scale', 'apps', 'v1', 'Deployment', 'scale'],
    ['networking.k8s.io/Ingress', '*', '*', 'networking.k8s.io', 'Ingress'],
  ];
  for (const [input, group, version, kind, subresource] of cases) {
    it(input, () => assert.deepEqual(parseKindSelector(input), { group, version, kind, subresource }));
  }
});

describe('match/exclude (Kyverno semantics)', () => {
  it('kinds: group/version forms and wildcards; plain kinds do not match subresources', () => {
    assert.equal(m(any({ kinds: ['Pod'] }), pod()), true);
    assert.equal(m(any({ kinds: ['v1/Pod'] }), pod()), true);
    assert.equal(m(any({ kinds: ['apps/v1/Pod'] }), pod()), false);
    assert.equal(m(any({ kinds: ['P?d'] }), pod()), true);
    assert.equal(m(any({ kinds: ['Deployment'] }), pod()), false);
    assert.equal(m(any({ kinds: ['Pod'] }), pod(), { subresource: 'exec' }), false);
    assert.equal(m(any({ kinds: ['Pod/exec'] }), pod(), { subresource: 'exec' }), true);
    assert.equal(m(any({ kinds: ['Pod'] }), pod(), { subresource: 'ephemeralcontainers' }), true);
  });

  it('names and the deprecated name use wildcards; generateName stands in for a missing name', () => {
    assert.equal(m(any({ kinds: ['Pod'], names: ['db-*', 'web-?'] }), pod()), true);
    assert.equal(m(any({ kinds: ['Pod'], names: ['web-??'] }), pod()), false);
    assert.equal(
      m(any({ kinds: ['Pod'], name: 'job-*' }), pod({}, { name: undefined, generateName: 'job-x' })),
      true,
    );
  });

  it('namespaces match the namespace, or the name for kind Namespace', () => {
    assert.equal(m(any({ kinds: ['Pod'], namespaces: ['prod-*'] }), pod()), true);
    assert.equal(m(any({ kinds: ['Pod'], namespaces: ['dev'] }), pod()), false);
    const ns = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'prod-x' } };
    assert.equal(m(any({ kinds: ['Namespace'], namespaces: ['prod-*'] }), ns), true);
  });

  it('annotations: every entry needs a matching key and value', () => {
    assert.equal(m(any({ kinds: ['Pod'], annotations: { 'te*': 'bl?e' } }), pod()), true);
    assert.equal(m(any({ kinds: ['Pod'], annotations: { team: 'blue', other: '*' } }), pod()), false);
  });

  it('selector: standard semantics plus the wildcard quirk', () => {
    assert.equal(m(any({ kinds: ['Pod'], selector: { matchLabels: { app: 'web' } } }), pod()), true);
    assert.equal(m(any({ kinds: ['Pod'], selector: { matchLabels: { 'a*': 'w*' } } }), pod()), true);
    assert.equal(
      m(any({ kinds: ['Pod'], selector: { matchLabels: { '*': '*' } } }), pod({}, { labels: {} })),
      false,
    );
    assert.equal(
      m(
        any({
          kinds: ['Pod'],
          selector: { matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['db'] }] },
        }),
        pod(),
      ),
      true,
    );
    assert.equal(
      m(any({ kinds: ['Pod'], selector: { matchExpressions: [{ key: 'app', operator: 'Exists' }] } }), pod()),
      true,
    );
    assert.equal(m(any({ kinds: ['Pod'], selector: {} }), pod()), true);
  });

  it('namespaceSelector reads caller-supplied labels and never matches a Namespace', () => {
    const sel = any({ kinds: ['Pod', 'Namespace'], namespaceSelector: { matchLabels: { env: 'prod' } } });
    assert.equal(m(sel, pod(), { namespaceLabels: { env: 'prod' } }), true);
    assert.equal(m(sel, pod(), { namespaceLabels: { env: 'dev' } }), false);
    assert.equal(m(sel, pod()), false);
    assert.equal(
      m(
        sel,
        { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'x', labels: { env: 'prod' } } },
        { namespaceLabels: { env: 'prod' } },
      ),
      false,
    );
  });

  it('operations are checked when an operation is known', () => {
    const ops = any({ kinds: ['Pod'], operations: ['CREATE'] });
    assert.equal(m(ops, pod(), { operation: 'CREATE' }), true);
    assert.equal(m(ops, pod(), { operation: 'UPDATE' }), false);
    assert.equal(m(ops, pod()), true);
  });

  it('any ORs, all ANDs, legacy is one filter; an empty filter never matches', () => {
    assert.equal(
      m({ any: [{ resources: { kinds: ['Deployment'] } }, { resources: { kinds: ['Pod'] } }] }, pod()),
      true,
    );
    assert.equal(
      m({ all: [{ resources: { kinds: ['Pod'] } }, { resources: { namespaces: ['dev'] } }] }, pod()),
      false,
    );
    assert.equal(m({ resources: { kinds: ['Pod'] } }, pod()), true);
    assert.equal(m({ any: [{ resources: {} }] }, pod()), false);
  });

  it('exclude is applied after match; exclude.all needs every filter', () => {
    assert.equal(
      m(any({ kinds: ['Pod'] }), pod(), {}, { any: [{ resources: { namespaces: ['prod-*'] } }] }),
      false,
    );
    assert.equal(
      m(
        any({ kinds: ['Pod'] }),
        pod(),
        {},
        { all: [{ resources: { namespaces: ['prod-*'] } }, { resources: { names: ['db'] } }] },
      ),
      true,
    );
    assert.equal(m(any({ kinds: ['Pod'] }), pod(), {}, {}), true);
  });

  it('user info: ignored in match without admission info; a subject exclude then never excludes', () => {
    const subj = { subjects: [{ kind: 'Group', name: 'system:serviceaccounts:ci*' }] };
    assert.equal(m(any({ kinds: ['Pod'] }, subj), pod()), true);
    assert.equal(
      m(any({ kinds: ['Pod'] }, subj), pod(), { userInfo: { username: 'alice', groups: ['dev'] } }),
      false,
    );
    assert.equal(
      m(any({ kinds: ['Pod'] }, subj), pod(), { userInfo: { groups: ['system:serviceaccounts:ci-x'] } }),
      true,
    );
    assert.equal(m(any({ kinds: ['Pod'] }), pod(), {}, { any: [subj] }), true);
    assert.equal(m(any({ kinds: ['Pod'] }), pod(), {}, { any: [{ clusterRoles: ['cluster-admin'] }] }), true);
    assert.equal(
      m(
        any({ kinds: ['Pod'] }),
        pod(),
        { userInfo: { clusterRoles: ['cluster-admin'] } },
        { any: [{ clusterRoles: ['cluster-admin'] }] },
      ),
      false,
    );
    const sa = { subjects: [{ kind: 'ServiceAccount', name: 'deployer', namespace: 'ci' }] };
    assert.equal(
      m(any({ kinds: ['Pod'] }, sa), pod(), { userInfo: { username: 'system:serviceaccount:ci:deployer' } }),
      true,
    );
  });

  it('a namespaced policy only sees its own namespace', () => {
    assert.equal(m(any({ kinds: ['Pod'] }), pod(), { policyNamespace: 'prod-a' }), true);
    assert.equal(m(any({ kinds: ['Pod'] }), pod(), { policyNamespace: 'other' }), false);
  });
});

describe('kind-and-namespace shortcut', () => {
  const KINDS = ['Pod', 'v1/Pod', 'Node', 'Namespace', 'apps/v1/Deployment', '*', 'Pod/exec'];
  const NAMESPACES = ['a', 'b', 'default'];
  const resource = fc.record({
    kind: fc.constantFrom('Pod', 'Node', 'Namespace', 'Deployment'),
    name: fc.constantFrom('a', 'web'),
    namespace: fc.constantFrom('a', 'b', 'default', ''),
  });

  it('answers as matchesRule for every kinds/namespaces filter', () => {
    fc.assert(
      fc.property(
        fc.subarray(KINDS),
        fc.subarray(NAMESPACES),
        fc.constantFrom('any', 'all', 'legacy'),
        resource,
        (kinds, namespaces, mode, r) => {
          const resources: Record<string, unknown> = {};
          if (kinds.length > 0) resources.kinds = kinds;
          if (namespaces.length > 0) resources.namespaces = namespaces;
          const raw = mode === 'legacy' ? { resources } : { [mode]: [{ resources }] };
          const compiled = rule(raw);
          const shortcut = compileKindNamespaceMatch(compiled);
          if (kinds.length === 0 && namespaces.length === 0) return assert.equal(shortcut, undefined);
          assert.ok(shortcut);
          const object = {
            apiVersion: r.kind === 'Deployment' ? 'apps/v1' : 'v1',
            kind: r.kind,
            metadata: {
              name: r.name,
              ...(r.kind === 'Pod' || r.kind === 'Deployment' ? { namespace: r.namespace } : {}),
            },
          };
          const facts = resourceFacts(object);
          const expected = matchesRule(compiled, facts);
          assert.equal(shortcut.test(facts), expected, JSON.stringify({ raw, object }));
          // A core v1 Pod's answer is also available from its namespace alone.
          if (r.kind === 'Pod') assert.equal(shortcut.testPod(r.namespace), expected, JSON.stringify(raw));
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('is not offered for filters that read anything else', () => {
    for (const [match, exclude] of [
      [any({ kinds: ['Pod'], namespaces: ['prod-*'] })],
      [any({ kinds: ['Pod'], selector: { matchLabels: { app: 'web' } } })],
      [any({ kinds: ['Pod'], names: ['web-*'] })],
      [any({ kinds: ['Pod'] }, { subjects: [{ kind: 'User', name: 'alice' }] })],
      [{ any: [{ resources: { kinds: ['Pod'] } }, { resources: { kinds: ['Node'] } }] }],
      [any({ kinds: ['Pod'] }), any({ namespaces: ['kube-system'] })],
    ] as [unknown, unknown?][])
      assert.equal(compileKindNamespaceMatch(rule(match, exclude)), undefined, JSON.stringify(match));
  });
});
