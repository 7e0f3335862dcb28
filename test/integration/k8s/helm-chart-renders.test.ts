import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Command } from '@commander-js/extra-typings';
import { Ajv } from 'ajv';
import { parse } from 'yaml';
import { register } from '../../../src/cli/commands/cluster.js';
import { hasOpenApiSchema, openApiProblems } from './fake-apiserver/openapi.js';
import { renderChart, renderError, type Manifest } from './helm/render.js';

const CHART = fileURLToPath(new URL('../../../deploy/helm', import.meta.url));
const DEPLOYMENT = { mode: 'deployment', source: { http: { tokenSecret: 'falco-token' } } };

const find = (docs: Manifest[], kind: string, name?: string): Manifest | undefined =>
  docs.find((d) => d.kind === kind && (name === undefined || d.metadata.name === name));

function clusterFlags(): Set<string> {
  const program = new Command();
  register(program);
  const cmd = program.commands.find((c) => c.name() === 'cluster')!;
  const flags = new Set<string>();
  for (const o of cmd.options) if (o.long !== undefined) flags.add(o.long);
  return flags;
}

function assertArgsKnown(args: string[]): void {
  const known = clusterFlags();
  assert.equal(args[0], 'cluster');
  for (const a of args.slice(1)) {
    const flag = a.split('=')[0]!;
    assert.ok(known.has(flag), `chart passes ${flag}, which \`kyverno-runtime cluster\` does not accept`);
  }
}

/** Every object helm rendered is valid against the Kubernetes OpenAPI schema of its kind. */
function assertValidObjects(docs: Manifest[]): void {
  for (const d of docs) {
    const apiVersion = d.apiVersion as string;
    if (apiVersion === 'monitoring.coreos.com/v1') continue; // Prometheus Operator's CRD: checked by hand
    assert.ok(hasOpenApiSchema(apiVersion, d.kind as string), `no schema for ${apiVersion}/${d.kind}`);
    assert.deepEqual(openApiProblems(apiVersion, d.kind as string, d), [], `${d.kind}/${d.metadata.name}`);
  }
}

/** "group/resource verb" for every verb the rendered roles grant. */
function grants(docs: Manifest[]): string[] {
  const out: string[] = [];
  for (const d of docs.filter((x) => x.kind === 'ClusterRole' || x.kind === 'Role')) {
    for (const r of d.rules as { apiGroups: string[]; resources: string[]; verbs: string[] }[])
      for (const g of r.apiGroups)
        for (const res of r.resources) for (const v of r.verbs) out.push(`${g}/${res} ${v}`);
  }
  return out.sort();
}

/**
 * What the agent's code calls in daemonset mode with the default values — informers (list, watch),
 * report get/create/replace, events create, policy status merge patch, action verbs — and nothing
 * else: no get on informer-backed kinds, no NetworkPolicy delete (`release` is the operator's), no
 * Lease (a DaemonSet elects no leader).
 */
const DAEMONSET_GRANTS = [
  '/namespaces list',
  '/namespaces watch',
  '/nodes list',
  '/nodes watch',
  '/configmaps get',
  '/configmaps list',
  '/configmaps watch',
  '/pods delete',
  '/pods list',
  '/pods patch',
  '/pods watch',
  '/pods/eviction create',
  'apps/daemonsets get',
  'apps/daemonsets list',
  'apps/deployments/scale patch',
  'apps/replicasets get',
  'apps/replicasets/scale patch',
  'apps/statefulsets get',
  'apps/statefulsets/scale patch',
  'events.k8s.io/events create',
  'kyverno.io/globalcontextentries get',
  'kyverno.io/policyexceptions list',
  'kyverno.io/policyexceptions watch',
  'networking.k8s.io/networkpolicies create',
  'networking.k8s.io/networkpolicies list',
  'policies.kyverno.io/policyexceptions list',
  'policies.kyverno.io/policyexceptions watch',
  'runtime.kyverno.io/clusterruntimepolicies list',
  'runtime.kyverno.io/clusterruntimepolicies watch',
  'runtime.kyverno.io/clusterruntimepolicies/status patch',
  'runtime.kyverno.io/runtimepolicies list',
  'runtime.kyverno.io/runtimepolicies watch',
  'runtime.kyverno.io/runtimepolicies/status patch',
  'runtime.kyverno.io/runtimevalidatingpolicies list',
  'runtime.kyverno.io/runtimevalidatingpolicies watch',
  'runtime.kyverno.io/runtimevalidatingpolicies/status patch',
  'runtime.kyverno.io/namespacedruntimevalidatingpolicies list',
  'runtime.kyverno.io/namespacedruntimevalidatingpolicies watch',
  'runtime.kyverno.io/namespacedruntimevalidatingpolicies/status patch',
  'wgpolicyk8s.io/clusterpolicyreports create',
  'wgpolicyk8s.io/clusterpolicyreports get',
  'wgpolicyk8s.io/clusterpolicyreports update',
  'wgpolicyk8s.io/policyreports create',
  'wgpolicyk8s.io/policyreports get',
  'wgpolicyk8s.io/policyreports update',
].sort();

describe(`Helm chart rendered by the real helm binary`, () => {
  it('values.yaml satisfies values.schema.json, and bad values do not', () => {
    const ajv = new Ajv({ strict: false });
    const validate = ajv.compile(JSON.parse(readFileSync(`${CHART}/values.schema.json`, 'utf8')));
    const values = parse(readFileSync(`${CHART}/values.yaml`, 'utf8')) as Record<string, unknown>;
    assert.ok(validate(values), JSON.stringify(validate.errors));
    assert.equal(validate({ ...values, mode: 'sidecar' }), false);
    assert.equal(validate({ ...values, unknownKey: 1 }), false);
    assert.match(renderError(CHART, { mode: 'sidecar' }) ?? '', /values don't meet the specifications/);
  });

  it('every rendered object of every mode is valid against the Kubernetes OpenAPI schemas', () => {
    for (const values of [
      {},
      { source: { type: 'sensor' } },
      { source: { type: 'tetragon-grpc' } },
      { ...DEPLOYMENT, metrics: { serviceMonitor: { enabled: true } } },
      {
        mode: 'deployment',
        replicaCount: 1,
        source: { http: { tls: { secret: 'rx-tls', clientCASecret: 'rx-ca' } } },
        actions: { webhookSecrets: ['slack'] },
        reports: { api: 'openreports' },
      },
    ]) {
      const docs = renderChart(CHART, values);
      assert.ok(docs.length >= 6, JSON.stringify(values));
      assertValidObjects(docs);
    }
  });

  it('the CRDs in crds/ are valid CustomResourceDefinitions (apiextensions.k8s.io/v1 schema)', () => {
    const files = readdirSync(`${CHART}/crds`).filter((f) => f.endsWith('.yaml'));
    assert.equal(files.length, 4);
    for (const f of files) {
      const crd = parse(readFileSync(`${CHART}/crds/${f}`, 'utf8')) as Manifest;
      assert.equal(crd.kind, 'CustomResourceDefinition');
      assert.deepEqual(openApiProblems('apiextensions.k8s.io/v1', 'CustomResourceDefinition', crd), [], f);
    }
    const broken = parse(readFileSync(`${CHART}/crds/${files[0]!}`, 'utf8')) as Manifest;
    broken.spec.scope = 7;
    assert.notDeepEqual(openApiProblems('apiextensions.k8s.io/v1', 'CustomResourceDefinition', broken), []);
  });

  it('DaemonSet next to Tetragon (defaults): export directory mounted, every node tolerated, no Lease', () => {
    const docs = renderChart(CHART);
    assert.deepEqual(docs.map((d): string => d.kind as string).sort(), [
      'ClusterRole',
      'ClusterRoleBinding',
      'DaemonSet',
      'Namespace',
      'Service',
      'ServiceAccount',
      // Pod updates/deletes, and pod evictions (which do not pass the pod DELETE admission).
      'ValidatingAdmissionPolicy',
      'ValidatingAdmissionPolicy',
      'ValidatingAdmissionPolicyBinding',
      'ValidatingAdmissionPolicyBinding',
    ]);
    const ns = find(docs, 'Namespace')!;
    assert.equal(ns.metadata.name, 'kyverno-runtime');
    assert.equal(ns.metadata.labels['pod-security.kubernetes.io/enforce'], 'privileged');
    const ds = find(docs, 'DaemonSet')!;
    const pod = ds.spec.template.spec;
    assert.equal(pod.hostPID, undefined);
    assert.deepEqual(pod.tolerations, [{ operator: 'Exists' }]);
    assert.equal(pod.priorityClassName, 'system-node-critical');
    const c = pod.containers[0];
    assertArgsKnown(c.args);
    assert.ok(c.args.includes('--mode=daemonset'));
    assert.ok(c.args.includes('--tetragon-file=/var/run/cilium/tetragon/tetragon.log'));
    assert.ok(c.args.includes('--source-stale-after=10'));
    assert.ok(!c.args.includes('--leader-elect'), 'a DaemonSet never polls a Lease');
    assert.ok(c.args.includes('--protected-namespaces=kube-system,kyverno-runtime'));
    const mount = c.volumeMounts.find((m: Manifest) => m.name === 'tetragon-export');
    assert.deepEqual(mount, {
      name: 'tetragon-export',
      mountPath: '/var/run/cilium/tetragon',
      readOnly: true,
    });
    const vol = pod.volumes.find((v: Manifest) => v.name === 'tetragon-export');
    assert.deepEqual(vol.hostPath, { path: '/var/run/cilium/tetragon', type: 'DirectoryOrCreate' });
    assert.deepEqual(c.env.find((e: Manifest) => e.name === 'NODE_NAME').valueFrom, {
      fieldRef: { fieldPath: 'spec.nodeName' },
    });
    // The memory the sizing figures assume: Node and V8 flags, two glibc malloc arenas.
    assert.equal(c.env.find((e: Manifest) => e.name === 'NODE_OPTIONS').value, '--max-semi-space-size=1');
    assert.equal(
      c.env.find((e: Manifest) => e.name === 'KYVERNO_RUNTIME_V8_FLAGS').value,
      '--optimize-for-size',
    );
    assert.equal(c.env.find((e: Manifest) => e.name === 'MALLOC_ARENA_MAX').value, '2');
    assert.equal(c.env.find((e: Manifest) => e.name === 'MALLOC_TRIM_THRESHOLD_').value, '131072');
    assert.equal(c.env.find((e: Manifest) => e.name === 'MALLOC_MMAP_THRESHOLD_').value, '131072');
    assert.deepEqual(c.securityContext.capabilities, { drop: ['ALL'], add: ['DAC_READ_SEARCH'] });
    assert.equal(c.securityContext.readOnlyRootFilesystem, true);
    assert.equal(c.securityContext.allowPrivilegeEscalation, false);
    assert.equal(find(docs, 'Role'), undefined, 'no Lease, no Secret: no Role');
  });

  it('the agent starts under the environment the chart renders (Node refuses some flags in NODE_OPTIONS)', () => {
    const c = find(renderChart(CHART), 'DaemonSet')!.spec.template.spec.containers[0];
    const env: Record<string, string> = {};
    for (const e of c.env as Manifest[]) if (typeof e.value === 'string') env[e.name as string] = e.value;
    const cli = fileURLToPath(new URL('../../../src/cli/main.ts', import.meta.url));
    const run = spawnSync(process.execPath, ['--import', 'tsx', cli, '--version'], {
      env: { ...process.env, ...env },
      encoding: 'utf8',
    });
    assert.equal(run.status, 0, `exit ${run.status}: ${run.stderr}`);
    assert.match(run.stdout, /^\d+\.\d+\.\d+/);
    // What the chart shipped before: Node exits at once, before any of the agent's code.
    const refused = spawnSync(process.execPath, ['-e', '0'], {
      env: { ...process.env, NODE_OPTIONS: '--max-semi-space-size=1 --optimize-for-size' },
      encoding: 'utf8',
    });
    assert.notEqual(refused.status, 0);
    assert.match(refused.stderr, /not allowed in NODE_OPTIONS/);
  });

  it('refuses V8 flags in nodeOptions and anything but the sizing flags in v8Flags, at install', () => {
    assert.match(
      renderError(CHART, { nodeOptions: '--max-semi-space-size=1 --optimize-for-size' }) ?? '',
      /values don't meet the specifications/,
    );
    for (const bad of ['--allow-natives-syntax', '--optimize-for-size --expose-gc', '--max-old-space-size=x'])
      assert.match(renderError(CHART, { v8Flags: bad }) ?? '', /values don't meet the specifications/, bad);
    assert.equal(renderError(CHART, { v8Flags: '--optimize-for-size --max-old-space-size=256' }), undefined);
  });

  it('mallocArenaMax and mallocThresholdBytes 0 leave glibc its defaults', () => {
    const c = find(renderChart(CHART, { mallocArenaMax: 0, mallocThresholdBytes: 0 }), 'DaemonSet')!.spec
      .template.spec.containers[0];
    for (const name of ['MALLOC_ARENA_MAX', 'MALLOC_TRIM_THRESHOLD_', 'MALLOC_MMAP_THRESHOLD_'])
      assert.equal(
        c.env.find((e: Manifest) => e.name === name),
        undefined,
        name,
      );
  });

  it('RBAC grants exactly the verbs the agent calls, without wildcards', () => {
    const docs = renderChart(CHART);
    assert.deepEqual(grants(docs), DAEMONSET_GRANTS);
    assert.ok(!grants(docs).some((g) => g.includes('*')));
    // Switches drop their verbs; cordon adds node patch.
    const narrow = grants(
      renderChart(CHART, {
        rbac: {
          actions: {
            deletePods: false,
            patchPods: false,
            networkPolicies: false,
            scale: false,
            cordonNodes: true,
          },
        },
      }),
    );
    assert.ok(!narrow.includes('/pods delete') && !narrow.includes('/pods patch'));
    assert.ok(!narrow.some((g) => g.startsWith('networking.k8s.io/') || g.endsWith('/scale patch')));
    assert.ok(narrow.includes('/nodes patch'));
    // Without the params switch, ConfigMaps are read by name only (context entries).
    const noParams = grants(renderChart(CHART, { rbac: { params: { configMaps: false } } }));
    assert.ok(noParams.includes('/configmaps get'));
    assert.ok(!noParams.includes('/configmaps list') && !noParams.includes('/configmaps watch'));
    const open = grants(renderChart(CHART, { reports: { api: 'openreports' } }));
    assert.ok(open.includes('openreports.io/reports update') && !open.some((g) => g.startsWith('wgpolicy')));
  });

  it('DaemonSet with the built-in sensor: hostPID and only BPF-related capabilities', () => {
    const docs = renderChart(CHART, { source: { type: 'sensor' } });
    const pod = find(docs, 'DaemonSet')!.spec.template.spec;
    assert.equal(pod.hostPID, true);
    const c = pod.containers[0];
    assertArgsKnown(c.args);
    assert.ok(c.args.includes('--sensor'));
    assert.equal(c.securityContext.privileged, undefined);
    assert.deepEqual(c.securityContext.capabilities.add, [
      'BPF',
      'PERFMON',
      'SYS_RESOURCE',
      'SYS_PTRACE',
      'DAC_READ_SEARCH',
      'KILL',
    ]);
    assert.ok(pod.volumes.find((v: Manifest) => v.hostPath?.path === '/sys/kernel/tracing'));
  });

  it('the container runtime socket is not mounted unless set, then its directory read-only', () => {
    const off = find(renderChart(CHART, { source: { type: 'sensor' } }), 'DaemonSet')!.spec.template.spec;
    assert.ok(off.containers[0].args.includes('--container-runtime-socket=none'));
    assert.ok(!off.volumes.some((v: Manifest) => v.name === 'container-runtime'));
    const on = find(
      renderChart(CHART, {
        source: { type: 'sensor' },
        sensor: { containerRuntimeSocket: '/run/containerd/containerd.sock' },
      }),
      'DaemonSet',
    )!.spec.template.spec;
    const c = on.containers[0];
    assertArgsKnown(c.args);
    assert.ok(c.args.includes('--container-runtime-socket=/run/containerd/containerd.sock'));
    assert.deepEqual(
      c.volumeMounts.find((m: Manifest) => m.name === 'container-runtime'),
      { name: 'container-runtime', mountPath: '/run/containerd', readOnly: true },
    );
    assert.deepEqual(on.volumes.find((v: Manifest) => v.name === 'container-runtime').hostPath, {
      path: '/run/containerd',
      type: 'DirectoryOrCreate',
    });
    // A socket at the root would mount the node's "/"; ".." would leave the runtime's directory.
    for (const bad of ['/docker.sock', '/run/../etc/x.sock', 'tcp://10.0.0.1:2375'])
      assert.match(
        renderError(CHART, { source: { type: 'sensor' }, sensor: { containerRuntimeSocket: bad } }) ?? '',
        /containerRuntimeSocket/,
        bad,
      );
  });

  it('DaemonSet on Tetragon gRPC: socket directory mounted', () => {
    const docs = renderChart(CHART, { source: { type: 'tetragon-grpc' } });
    const c = find(docs, 'DaemonSet')!.spec.template.spec.containers[0];
    assertArgsKnown(c.args);
    assert.ok(c.args.includes('--tetragon-grpc=unix:///var/run/tetragon/tetragon.sock'));
    assert.ok(c.volumeMounts.find((m: Manifest) => m.mountPath === '/var/run/tetragon'));
  });

  it('a Deployment without receiver authentication fails at install with a clear message', () => {
    const err = renderError(CHART, { mode: 'deployment' });
    assert.match(err ?? '', /set source\.http\.tokenSecret .* or source\.http\.tls\.clientCASecret/);
    assert.match(
      renderError(CHART, { mode: 'deployment', source: { http: { tls: { clientCASecret: 'ca' } } } }) ?? '',
      /needs source\.http\.tls\.secret/,
    );
  });

  it('Deployment: restricted namespace, leader election and a PDB that lets drains through', () => {
    const docs = renderChart(CHART, {
      ...DEPLOYMENT,
      actions: { webhookSecrets: ['slack-token'] },
    });
    assert.equal(find(docs, 'DaemonSet'), undefined);
    assert.equal(
      find(docs, 'Namespace')!.metadata.labels['pod-security.kubernetes.io/enforce'],
      'restricted',
    );
    const dep = find(docs, 'Deployment')!;
    assert.equal(dep.spec.replicas, 2);
    const pod = dep.spec.template.spec;
    assert.equal(pod.securityContext.runAsNonRoot, true);
    assert.equal(pod.tolerations, undefined, 'the DaemonSet tolerations are not the replicas');
    assert.equal(pod.priorityClassName, undefined);
    const c = pod.containers[0];
    assertArgsKnown(c.args);
    assert.ok(c.args.includes('--http=0.0.0.0:2801'));
    assert.ok(c.args.includes('--http-token-file=/etc/kyverno-runtime/http/token'));
    assert.ok(c.args.includes('--leader-elect'));
    assert.deepEqual(find(docs, 'PodDisruptionBudget')!.spec.maxUnavailable, 1);
    assert.equal(find(docs, 'PodDisruptionBudget')!.spec.minAvailable, undefined);
    const role = find(docs, 'Role')!;
    assert.deepEqual(role.rules, [
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'create', 'update'] },
      { apiGroups: [''], resources: ['secrets'], verbs: ['get'], resourceNames: ['slack-token'] },
    ]);
    // One replica: no PDB (it would block every drain) and no Lease.
    const single = renderChart(CHART, { ...DEPLOYMENT, replicaCount: 1 });
    assert.equal(find(single, 'PodDisruptionBudget'), undefined);
    assert.ok(!find(single, 'Deployment')!.spec.template.spec.containers[0].args.includes('--leader-elect'));
    assert.equal(find(single, 'Role'), undefined);
  });

  it('the Falco receiver serves TLS and mTLS from Secrets', () => {
    const docs = renderChart(CHART, {
      mode: 'deployment',
      source: { http: { tls: { secret: 'rx-tls', clientCASecret: 'rx-ca' } } },
    });
    const pod = find(docs, 'Deployment')!.spec.template.spec;
    const c = pod.containers[0];
    assertArgsKnown(c.args);
    for (const a of [
      '--http-tls-cert=/etc/kyverno-runtime/http-tls/tls.crt',
      '--http-tls-key=/etc/kyverno-runtime/http-tls/tls.key',
      '--http-tls-client-ca=/etc/kyverno-runtime/http-client-ca/ca.crt',
    ])
      assert.ok(c.args.includes(a), a);
    assert.ok(!c.args.some((a: string) => a.startsWith('--http-token-file')));
    const secrets = (pod.volumes as Manifest[])
      .filter((v) => v.secret !== undefined)
      .map((v): string => v.secret.secretName as string);
    assert.deepEqual(secrets.sort(), ['rx-ca', 'rx-tls']);
    for (const m of (c.volumeMounts as Manifest[]).filter((x) => (x.name as string).startsWith('http-')))
      assert.equal(m.readOnly, true);
  });

  it('the ServiceMonitor selects exactly one Service: the metrics one', () => {
    const docs = renderChart(CHART, { ...DEPLOYMENT, metrics: { serviceMonitor: { enabled: true } } });
    const sm = find(docs, 'ServiceMonitor')!;
    const services = docs.filter((d) => d.kind === 'Service');
    assert.equal(services.length, 2, 'the receiver Service and the metrics Service');
    const selected = services.filter((s) =>
      Object.entries(sm.spec.selector.matchLabels as Record<string, string>).every(
        ([k, v]) => s.metadata.labels?.[k] === v,
      ),
    );
    assert.deepEqual(
      selected.map((s): string => s.metadata.name as string),
      ['kyverno-runtime-metrics'],
    );
    assert.deepEqual(sm.spec.namespaceSelector, { matchNames: ['kyverno-runtime'] });
    assert.ok(selected[0]!.spec.ports.some((p: Manifest) => p.name === sm.spec.endpoints[0].port));
    assert.match(
      renderError(CHART, { metrics: { service: { enabled: false }, serviceMonitor: { enabled: true } } }) ??
        '',
      /needs metrics\.service\.enabled/,
    );
  });

  it('keeps the tail position on the node and passes the webhook allow-list', () => {
    const c = find(renderChart(CHART), 'DaemonSet')!.spec.template.spec.containers[0];
    assert.ok(c.args.includes('--tail-state=/var/lib/kyverno-runtime/kyverno-runtime-tail.json'));
    assert.ok(!c.args.some((a: string) => a.startsWith('--webhook-allow')), 'no allow-list by default');
    const allowed = find(
      renderChart(CHART, { actions: { webhookAllow: ['https://hooks.example.com/ci/', '10.0.0.0/8'] } }),
      'DaemonSet',
    )!.spec.template.spec.containers[0];
    assertArgsKnown(allowed.args);
    assert.ok(allowed.args.includes('--webhook-allow=https://hooks.example.com/ci/,10.0.0.0/8'));
  });

  it('namespace rendering and own-namespace protection can be switched off', () => {
    const docs = renderChart(CHART, {
      namespace: { create: false },
      actions: { protectOwnNamespace: false },
    });
    assert.equal(find(docs, 'Namespace'), undefined);
    const c = find(docs, 'DaemonSet')!.spec.template.spec.containers[0];
    assert.ok(c.args.includes('--protected-namespaces=kube-system'));
  });

  it('ships the CRDs in crds/', () => {
    for (const f of [
      'runtime.kyverno.io_clusterruntimepolicies.yaml',
      'runtime.kyverno.io_runtimepolicies.yaml',
      'runtime.kyverno.io_runtimevalidatingpolicies.yaml',
      'runtime.kyverno.io_namespacedruntimevalidatingpolicies.yaml',
    ]) {
      assert.equal(parse(readFileSync(`${CHART}/crds/${f}`, 'utf8')).kind, 'CustomResourceDefinition');
    }
  });
});
