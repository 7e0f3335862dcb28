/**
 * `kyverno-runtime test` passes parameter objects to policies with paramKind/paramRef: Kyverno CLI
 * test files (`kind: Test`) and runtime test files read them from `paramResources`, and paramRef's
 * name, namespace, selector and parameterNotFoundAction decide which apply. Each test declares a
 * result that only holds when the params are used, so ignoring them makes it fail.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { runTestFiles } from '../../../src/policy/kyverno-test/index.js';
import { runRuntimeTest } from '../../../src/cli/runtime-test.js';

const EXAMPLE = new URL('../../../docs/examples/validating-policy-params/', import.meta.url).pathname;

function copyExample(edit: (testFile: string) => string): { file: string; done: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'kr-params-'));
  cpSync(EXAMPLE, dir, { recursive: true });
  const file = join(dir, 'kyverno-test.yaml');
  writeFileSync(file, edit(readFileSync(file, 'utf8')));
  return { file, done: () => rmSync(dir, { recursive: true, force: true }) };
}

test('a Kyverno CLI test resolves paramRef by name, namespace and selector from paramResources', async () => {
  const [report] = await runTestFiles([join(EXAMPLE, 'kyverno-test.yaml')], { strict: true });
  assert.ok(report);
  assert.equal(report.error, undefined);
  assert.deepEqual(report.policyErrors, []);
  assert.equal(report.failed, 0, JSON.stringify(report.cases.filter((c) => !c.ok)));
  assert.equal(report.passed, 9);
  const devByName = report.cases.find(
    (c) => c.policy === 'max-replicas-by-name' && c.resource === 'dev/api',
  )!;
  assert.deepEqual(devByName.actual, ['pass']);
  const prodByName = report.cases.find(
    (c) => c.policy === 'max-replicas-by-name' && c.resource === 'prod/api',
  )!;
  // The prod ConfigMap (3), not dev's (10) nor the selector's: the namespace came from the resource.
  assert.equal(prodByName.message, 'at most 3 replicas in prod');
});

test('the same test without paramResources fails: its pass results need the params', async () => {
  const { file, done } = copyExample((t) => t.replace('paramResources: [params.yaml]\n', ''));
  try {
    const [report] = await runTestFiles([file], { strict: true });
    assert.ok(report);
    const failed = report.cases.filter((c) => !c.ok).map((c) => `${c.policy} ${c.resource}`);
    assert.deepEqual(failed.sort(), [
      'max-replicas-by-name dev/api',
      'max-replicas-by-selector dev/api',
      'max-replicas-by-selector prod/api',
      'optional-limit dev/api',
    ]);
    const reason = report.cases.find((c) => !c.ok && c.policy === 'max-replicas-by-name')!.reason ?? '';
    assert.match(reason, /no params found for policy max-replicas-by-name/);
  } finally {
    done();
  }
});

test('a parameter object is not a resource under test, and an unreadable params file is reported', async () => {
  const { file, done } = copyExample((t) => {
    const doc = parse(t) as { results: unknown[]; paramResources: string[] };
    doc.results.push({
      policy: 'max-replicas-by-name',
      isValidatingPolicy: true,
      kind: 'ConfigMap',
      resources: ['prod/replica-limits'],
      result: 'pass',
    });
    return JSON.stringify(doc);
  });
  try {
    const [report] = await runTestFiles([file], { strict: true });
    const c = report!.cases.find((x) => x.resource === 'prod/replica-limits')!;
    assert.equal(c.ok, false);
    assert.match(c.reason ?? '', /resource prod\/replica-limits not found/);
  } finally {
    done();
  }
  const missing = copyExample((t) => t.replace('[params.yaml]', '[no-such-params.yaml]'));
  try {
    const [report] = await runTestFiles([missing.file], { strict: true });
    assert.match(report!.error ?? '', /no-such-params\.yaml/);
  } finally {
    missing.done();
  }
});

const RUNTIME_POLICY = `apiVersion: runtime.kyverno.io/v1alpha1
kind: RuntimeValidatingPolicy
metadata: {name: allowed-binaries}
spec:
  validationActions: [Audit]
  behaviors: [process-exec]
  matchConstraints:
    resourceRules:
      - {apiGroups: [''], apiVersions: [v1], resources: [pods], operations: ['*']}
  paramKind: {apiVersion: v1, kind: ConfigMap}
  paramRef: {namespace: security, selector: {matchLabels: {allow-list: binaries}}}
  validations:
    - expression: "event.process.binary in params.data.binaries.split(',')"
      messageExpression: "'binary ' + event.process.binary + ' not allowed'"
`;

const RUNTIME_PARAMS = `apiVersion: v1
kind: ConfigMap
metadata: {name: node-binaries, namespace: security, labels: {allow-list: binaries}}
data: {binaries: /usr/local/bin/node}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: decoy, namespace: payments, labels: {allow-list: binaries}}
data: {binaries: /usr/bin/curl}
`;

test('a runtime test reads paramResources for a RuntimeValidatingPolicy (selector in a namespace)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kr-rt-params-'));
  try {
    writeFileSync(join(dir, 'policy.yaml'), RUNTIME_POLICY);
    writeFileSync(join(dir, 'params.yaml'), RUNTIME_PARAMS);
    cpSync(
      new URL('../../../docs/examples/allowed-binaries-params/events.jsonl', import.meta.url).pathname,
      join(dir, 'events.jsonl'),
    );
    const doc = (withParams: boolean) => ({
      apiVersion: 'cli.kyverno.io/v1alpha1',
      kind: 'RuntimeTest',
      metadata: { name: 'runtime-params' },
      policies: ['policy.yaml'],
      events: ['events.jsonl'],
      ...(withParams ? { paramResources: ['params.yaml'] } : {}),
      results: [
        {
          policy: 'allowed-binaries',
          rule: 'allowed-binaries',
          resources: ['payments/api-1'],
          result: 'pass',
        },
        // curl is on the decoy list in another namespace only: a violation.
        {
          policy: 'allowed-binaries',
          rule: 'allowed-binaries',
          resources: ['payments/api-2'],
          result: 'fail',
        },
      ],
    });
    const file = join(dir, 'kyverno-test.yaml');
    const ok = await runRuntimeTest(file, doc(true));
    assert.deepEqual(ok.errors, []);
    assert.deepEqual(
      ok.cases.map((c) => [c.resource, c.ok, c.reason]),
      [
        ['payments/api-1', true, ok.cases[0]!.reason],
        ['payments/api-2', true, ok.cases[1]!.reason],
      ],
    );
    const ignored = await runRuntimeTest(file, doc(false));
    assert.equal(ignored.cases.find((c) => c.resource === 'payments/api-1')!.ok, false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
