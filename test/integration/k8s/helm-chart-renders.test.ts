import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Command } from '@commander-js/extra-typings';
import { Ajv } from 'ajv';
import { parse } from 'yaml';
import { register } from '../../../src/cli/commands/cluster.js';
import { renderChart } from './helm/render.js';

const CHART = fileURLToPath(new URL('../../../deploy/helm', import.meta.url));

const find = (docs: Record<string, any>[], kind: string, name?: string): Record<string, any> | undefined =>
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

interface Rule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
}

function rulesOf(docs: Record<string, any>[]): Rule[] {
  const rules: Rule[] = [
    ...((find(docs, 'ClusterRole')?.rules ?? []) as Rule[]),
    ...((find(docs, 'Role')?.rules ?? []) as Rule[]),
  ];
  return rules;
}

describe('Helm chart (rendered without helm: test/integration/k8s/helm/render.ts)', () => {
  it('values.yaml satisfies values.schema.json, and bad values do not', () => {
    const ajv = new Ajv({ strict: false });
    const validate = ajv.compile(JSON.parse(readFileSync(`${CHART}/values.schema.json`, 'utf8')));
    const values = parse(readFileSync(`${CHART}/values.yaml`, 'utf8')) as Record<string, unknown>;
    assert.ok(validate(values), JSON.stringify(validate.errors));
    assert.equal(validate({ ...values, mode: 'sidecar' }), false);
    assert.equal(validate({ ...values, unknownKey: 1 }), false);
  });

  it('DaemonSet next to Tetragon (defaults): export file mounted read-only, no hostPID, minimal RBAC', () => {
    const docs = renderChart(CHART);
    assert.deepEqual(docs.map((d): string => d.kind as string).sort(), [
      'ClusterRole',
      'ClusterRoleBinding',
      'DaemonSet',
      'Role',
      'RoleBinding',
      'Service',
      'ServiceAccount',
    ]);
    const ds = find(docs, 'DaemonSet')!;
    const pod = ds.spec.template.spec;
    assert.equal(pod.hostPID, undefined);
    const c = pod.containers[0];
    assertArgsKnown(c.args);
    assert.ok(c.args.includes('--mode=daemonset'));
    assert.ok(c.args.includes('--tetragon-file=/var/run/cilium/tetragon/tetragon.log'));
    assert.ok(c.args.includes('--leader-elect'));
    assert.ok(c.args.includes('--protected-namespaces=kube-system'));
    assert.deepEqual(c.env.find((e: any) => e.name === 'NODE_NAME').valueFrom, {
      fieldRef: { fieldPath: 'spec.nodeName' },
    });
    assert.equal(c.livenessProbe.httpGet.path, '/healthz');
    assert.equal(c.readinessProbe.httpGet.path, '/readyz');
    assert.deepEqual(c.securityContext.capabilities, { drop: ['ALL'], add: ['DAC_READ_SEARCH'] });
    assert.equal(c.securityContext.readOnlyRootFilesystem, true);
    assert.equal(c.securityContext.allowPrivilegeEscalation, false);
    assert.ok(
      c.volumeMounts.find(
        (m: any) => m.mountPath === '/var/run/cilium/tetragon/tetragon.log' && m.readOnly === true,
      ),
    );
    assert.deepEqual(ds.spec.selector.matchLabels, {
      'app.kubernetes.io/name': 'kyverno-runtime',
      'app.kubernetes.io/instance': 'kyverno-runtime',
    });
    assert.equal(ds.metadata.labels['app.kubernetes.io/version'], '0.1.0');

    const metrics = find(docs, 'Service', 'kyverno-runtime-metrics')!;
    assert.equal(metrics.spec.ports[0].port, 8080);

    const rules = rulesOf(docs);
    for (const r of rules) {
      for (const f of [r.apiGroups, r.resources, r.verbs])
        assert.ok(!f.includes('*'), `wildcard in ${JSON.stringify(r)}`);
    }
    assert.ok(
      !rules.some((r) => r.resources.includes('secrets')),
      'no Secret access unless webhookSecrets are named',
    );
    assert.ok(
      rules.some((r) => r.apiGroups.includes('wgpolicyk8s.io') && r.resources.includes('policyreports')),
    );
    assert.ok(rules.some((r) => r.resources.includes('pods') && r.verbs.includes('delete')));
    assert.ok(
      !rules.some((r) => r.resources.includes('nodes') && r.verbs.includes('patch')),
      'cordon is off by default',
    );
    const lease = rules.find((r) => r.resources.includes('leases'))!;
    assert.deepEqual(lease.verbs, ['get', 'create', 'update']);
    assert.equal(find(docs, 'Role')!.metadata.namespace, 'kyverno-runtime');
  });

  it('DaemonSet with the built-in sensor: hostPID and only BPF-related capabilities', () => {
    const docs = renderChart(CHART, { source: { type: 'sensor' } });
    const pod = find(docs, 'DaemonSet')!.spec.template.spec;
    assert.equal(pod.hostPID, true);
    const c = pod.containers[0];
    assertArgsKnown(c.args);
    assert.ok(c.args.includes('--sensor'));
    assert.equal(c.securityContext.privileged, undefined);
    assert.deepEqual(c.securityContext.capabilities.drop, ['ALL']);
    assert.deepEqual(c.securityContext.capabilities.add, [
      'BPF',
      'PERFMON',
      'SYS_RESOURCE',
      'SYS_PTRACE',
      'DAC_READ_SEARCH',
      'KILL',
    ]);
    assert.ok(pod.volumes.find((v: any) => v.hostPath?.path === '/sys/kernel/tracing'));
    const older = renderChart(CHART, {
      source: { type: 'sensor' },
      sensor: { extraCapabilities: ['SYS_ADMIN'] },
    });
    assert.ok(
      find(older, 'DaemonSet')!.spec.template.spec.containers[0].securityContext.capabilities.add.includes(
        'SYS_ADMIN',
      ),
    );
  });

  it('DaemonSet on Tetragon gRPC: socket directory mounted', () => {
    const docs = renderChart(CHART, { source: { type: 'tetragon-grpc' } });
    const c = find(docs, 'DaemonSet')!.spec.template.spec.containers[0];
    assert.ok(c.args.includes('--tetragon-grpc=unix:///var/run/tetragon/tetragon.sock'));
    assert.ok(c.volumeMounts.find((m: any) => m.mountPath === '/var/run/tetragon'));
  });

  it('Deployment receiving Falco / Falcosidekick: restricted pod security, Service, PDB, token', () => {
    const docs = renderChart(CHART, {
      mode: 'deployment',
      source: { http: { tokenSecret: 'falco-token' } },
      actions: { webhookSecrets: ['slack-token'] },
      reports: { api: 'openreports' },
    });
    assert.equal(find(docs, 'DaemonSet'), undefined);
    const dep = find(docs, 'Deployment')!;
    assert.equal(dep.spec.replicas, 2);
    const pod = dep.spec.template.spec;
    assert.equal(pod.securityContext.runAsNonRoot, true);
    const c = pod.containers[0];
    assertArgsKnown(c.args);
    assert.ok(c.args.includes('--mode=deployment'));
    assert.ok(c.args.includes('--http=0.0.0.0:2801'));
    assert.ok(c.args.includes('--http-token-file=/etc/kyverno-runtime/http/token'));
    assert.ok(c.args.includes('--report-api=openreports'));
    assert.deepEqual(c.securityContext.capabilities, { drop: ['ALL'] });
    assert.equal(find(docs, 'Service', 'kyverno-runtime')!.spec.ports[0].port, 2801);
    assert.equal(find(docs, 'PodDisruptionBudget')!.spec.minAvailable, 1);
    const secretRule = rulesOf(docs).find((r) => r.resources.includes('secrets'))!;
    assert.deepEqual(secretRule, {
      apiGroups: [''],
      resources: ['secrets'],
      verbs: ['get'],
      resourceNames: ['slack-token'],
    });
    assert.ok(rulesOf(docs).some((r) => r.apiGroups.includes('openreports.io')));
  });

  it('keeps the tail position on the node and passes the webhook allow-list', () => {
    const c = find(renderChart(CHART), 'DaemonSet')!.spec.template.spec.containers[0];
    assert.ok(c.args.includes('--tail-state=/var/lib/kyverno-runtime/kyverno-runtime-tail.json'));
    assert.ok(
      c.volumeMounts.some((m: any) => m.name === 'tail-state' && m.mountPath === '/var/lib/kyverno-runtime'),
    );
    assert.ok(!c.args.some((a: string) => a.startsWith('--webhook-allow')), 'no allow-list by default');
    const allowed = find(
      renderChart(CHART, { actions: { webhookAllow: ['https://hooks.example.com/ci/', '10.0.0.0/8'] } }),
      'DaemonSet',
    )!.spec.template.spec.containers[0];
    assertArgsKnown(allowed.args);
    assert.ok(allowed.args.includes('--webhook-allow=https://hooks.example.com/ci/,10.0.0.0/8'));
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
