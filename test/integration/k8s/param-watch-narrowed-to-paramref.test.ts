/**
 * In cluster mode every node's agent watches parameter objects. The watch is narrowed to what the
 * policies' paramRefs can select: a namespace-scoped path for paramRef.namespace (or a namespaced
 * policy's own namespace), `metadata.name` field selector for paramRef.name, a label selector for
 * paramRef.selector. Against the fake API server with RBAC: an agent granted ConfigMaps only in the
 * namespaces its policies name (a Role, no ClusterRole) gets every parameter it needs, caches no other
 * ConfigMap, and never sends a cluster-wide list. A paramRef whose namespace is not a Kubernetes name
 * never reaches a URL path.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { loadPolicyText } from '../../../src/policy/index.js';
import {
  effectiveScopes,
  labelSelectorOf,
  MAX_SCOPES_PER_KIND,
  ParamWatcher,
  scopeOf,
} from '../../../src/k8s/params.js';
import { RbacTable } from './fake-apiserver/rbac.js';
import { FakeApiServer } from './fake-apiserver/server.js';
import { WAIT_MS, waitFor } from './helpers.js';

const policy = (kind: string, name: string, namespace: string | undefined, paramRef: string): string => `
apiVersion: runtime.kyverno.io/v1alpha1
kind: ${kind}
metadata: {name: ${name}${namespace ? `, namespace: ${namespace}` : ''}}
spec:
  behaviors: [process-exec]
  paramKind: {apiVersion: v1, kind: ConfigMap}
  paramRef: ${paramRef}
  matchConstraints:
    resourceRules:
      - {apiGroups: [''], apiVersions: [v1], resources: [pods], operations: ['*']}
  validations:
    - expression: "params.data.ok == 'true'"
`;

const POLICIES = [
  // Fixed namespace and name.
  policy('RuntimeValidatingPolicy', 'by-name', undefined, '{namespace: security, name: limits}'),
  // A namespaced policy: its own namespace, every ConfigMap with the label.
  policy(
    'NamespacedRuntimeValidatingPolicy',
    'by-label',
    'shop',
    '{selector: {matchLabels: {tier: strict}}}',
  ),
].join('---\n');

const cm = (namespace: string, name: string, labels: Record<string, string> = {}) => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, namespace, labels },
  data: { ok: 'true' },
});

describe('parameter watches narrowed to paramRef', () => {
  let server: FakeApiServer;
  let params: ParamWatcher;

  before(async () => {
    // The agent may read ConfigMaps only in the two namespaces its policies name: Roles, no ClusterRole.
    const role = (namespace: string) => ({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { name: 'kyverno-runtime-params', namespace },
      rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['list', 'watch'] }],
    });
    server = await FakeApiServer.start({
      bookmarkIntervalMs: 200,
      rbac: new RbacTable('system:serviceaccount:kyverno-runtime:agent', [role('security'), role('shop')]),
    });
    for (const ns of ['security', 'shop', 'tenant-a'])
      server.seed({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
    server.seed(cm('security', 'limits'));
    server.seed(cm('security', 'unrelated'));
    server.seed(cm('shop', 'strict-1', { tier: 'strict' }));
    server.seed(cm('shop', 'lax', { tier: 'lax' }));
    // A tenant's ConfigMaps: no policy can select them, so no node should hold them.
    for (let i = 0; i < 20; i++) server.seed(cm('tenant-a', `tenant-${i}`, { tier: 'strict' }));
    params = new ParamWatcher({ kubeConfig: server.kubeConfig() });
  });
  after(async () => {
    await params.stop();
    await server.close();
  });

  it('lists and watches only the namespaces, names and labels the paramRefs select', async () => {
    const { policies, errors } = loadPolicyText(POLICIES, 'p.yaml');
    assert.deepEqual(errors, []);
    params.setPolicies(policies);
    await waitFor(() => params.synced, WAIT_MS, 'parameter watches synced under namespace Roles');
    assert.deepEqual(server.forbidden, [], 'nothing outside the granted namespaces was asked for');
    assert.deepEqual(params.watchedScopes['v1/ConfigMap'], [
      { namespace: 'security', name: 'limits' },
      { namespace: 'shop', labelSelector: 'tier=strict' },
    ]);
    const lists = server.requestsMatching('GET', 'configmaps');
    assert.ok(lists.length > 0);
    for (const r of lists) assert.match(r.path, /^\/api\/v1\/namespaces\/(security|shop)\/configmaps$/);
    const security = lists.filter((r) => r.path.includes('/security/'));
    assert.ok(security.every((r) => r.query.get('fieldSelector') === 'metadata.name=limits'));
    const shop = lists.filter((r) => r.path.includes('/shop/'));
    assert.ok(shop.every((r) => r.query.get('labelSelector') === 'tier=strict'));

    const find = (namespace: string, name?: string) =>
      params.find({ apiVersion: 'v1', kind: 'ConfigMap', namespace, ...(name ? { name } : {}) });
    assert.deepEqual(
      find('security', 'limits')?.map((o) => o.metadata?.name),
      ['limits'],
    );
    assert.deepEqual(
      find('shop')?.map((o) => o.metadata?.name),
      ['strict-1'],
    );
    assert.deepEqual(find('security', 'unrelated'), [], 'not selected: not cached');
    assert.deepEqual(find('tenant-a'), [], "a tenant's ConfigMaps are not cached");

    // A parameter created later within the scope arrives through the narrowed watch.
    server.seed(cm('shop', 'strict-2', { tier: 'strict' }));
    await waitFor(() => find('shop')?.length === 2, WAIT_MS, 'new labelled ConfigMap seen');
  });

  it('a policy change re-scopes the watches: the old ones stop, the new one starts', async () => {
    const { policies } = loadPolicyText(
      policy('RuntimeValidatingPolicy', 'by-name', undefined, '{namespace: shop, name: lax}'),
      'p.yaml',
    );
    params.setPolicies(policies);
    await waitFor(() => params.synced, WAIT_MS, 'new scope synced');
    assert.deepEqual(params.watchedScopes['v1/ConfigMap'], [{ namespace: 'shop', name: 'lax' }]);
    assert.deepEqual(
      params.find({ apiVersion: 'v1', kind: 'ConfigMap', namespace: 'shop' })?.map((o) => o.metadata?.name),
      ['lax'],
    );
  });
});

describe('paramRef values never widen into a URL or a selector unchecked', () => {
  it('a namespace or name outside Kubernetes name syntax widens the scope instead', () => {
    const spec = { apiVersion: 'v1', kind: 'ConfigMap', notFound: 'Deny' as const };
    assert.deepEqual(
      scopeOf({ ...spec, namespace: '../../apis/x', name: 'a,metadata.name!=b' }, undefined),
      {},
    );
    assert.deepEqual(scopeOf({ ...spec, name: 'limits' }, 'shop'), { namespace: 'shop', name: 'limits' });
  });

  it('a selector that cannot be sent exactly is applied by the engine only', () => {
    assert.equal(labelSelectorOf({ matchLabels: { tier: 'str*' } }), undefined, 'Kyverno wildcard');
    assert.equal(labelSelectorOf({ matchLabels: { tier: 'a,b=c' } }), undefined, 'selector injection');
    assert.equal(labelSelectorOf({}), undefined, 'selects everything');
    assert.equal(
      labelSelectorOf({
        matchLabels: { 'example.com/tier': 'strict' },
        matchExpressions: [
          { key: 'env', operator: 'In', values: ['prod', 'stage'] },
          { key: 'legacy', operator: 'DoesNotExist' },
        ],
      }),
      'example.com/tier=strict,env in (prod,stage),!legacy',
    );
  });

  it('too many distinct scopes of one kind collapse into one cluster-wide watch; covered scopes are dropped', () => {
    const many = Array.from({ length: MAX_SCOPES_PER_KIND + 1 }, (_, i) => ({ name: `p-${i}` }));
    assert.deepEqual(effectiveScopes(many, true), [{}]);
    assert.deepEqual(
      effectiveScopes([{ namespace: 'shop' }, { namespace: 'shop', name: 'x' }, { name: 'y' }], true),
      [{ namespace: 'shop' }, { name: 'y' }],
    );
    // A cluster-scoped kind has no namespace to narrow to.
    assert.deepEqual(effectiveScopes([{ namespace: 'shop', name: 'x' }], false), [{ name: 'x' }]);
  });
});
