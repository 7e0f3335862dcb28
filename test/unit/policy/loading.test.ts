import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { formatPolicyError, loadPolicies, loadPolicyText } from '../../../src/policy/index.js';

const runtimePolicy = (name: string, ruleBody: string): string => `apiVersion: runtime.kyverno.io/v1alpha1
kind: ClusterRuntimePolicy
metadata:
  name: ${name}
spec:
  failureAction: Audit
  rules:
    - name: r1
      match:
        any:
          - resources:
              kinds: [Pod]
${ruleBody}`;

describe('policy loading', () => {
  it('loads the proposal example (typos fixed) and indexes its behaviors', () => {
    const r = loadPolicyText(
      runtimePolicy(
        'restrict-volume-mount',
        `      restrict:
        message: Restrict volume mount to container A
        pattern:
          spec:
            containers:
              - name: A
          behavior:
            - volume-mount
        actions:
          - deletePod: {}
`,
      ),
      'p.yaml',
    );
    assert.deepEqual(r.errors, []);
    assert.equal(r.policies.length, 1);
    const p = r.policies[0]!;
    assert.equal(p.kind, 'ClusterRuntimePolicy');
    assert.equal(p.failureAction, 'Audit');
    assert.deepEqual(p.rules[0]!.restrict?.behaviors, ['volume-mount']);
    assert.deepEqual(p.rules[0]!.restrict?.actions, [{ deletePod: {} }]);
    assert.equal(
      p.rules[0]!.restrict?.pattern?.match({
        spec: { containers: [{ name: 'A' }] },
        behavior: ['volume-mount'],
      }).status,
      'pass',
    );
  });

  it('reports an unknown field at its key with a did-you-mean suggestion', () => {
    const r = loadPolicyText(
      runtimePolicy('p', `      Restirct:\n        behaviors: [volume-mount]\n`),
      'x.yaml',
    );
    assert.equal(r.policies.length, 0);
    assert.equal(r.errors.length, 1);
    assert.equal(
      formatPolicyError(r.errors[0]!),
      'x.yaml:13:7: unknown field `Restirct`, did you mean `restrict`?',
    );
    assert.equal(r.errors[0]!.policy, 'p');
  });

  it('rejects a restrict rule that names no behaviors', () => {
    const r = loadPolicyText(runtimePolicy('p', `      restrict:\n        message: hi\n`), 'x.yaml');
    assert.equal(r.policies.length, 0);
    assert.match(r.errors[0]!.message, /must name its behaviors/);
    assert.equal(r.errors[0]!.line, 13);
  });

  it('suggests the closest behavior and enum value', () => {
    const r = loadPolicyText(
      runtimePolicy('p', `      restrict:\n        behaviors: [volume-mout]\n`).replace(
        'failureAction: Audit',
        'failureAction: Enforced',
      ),
      'x.yaml',
    );
    const messages = r.errors.map((e) => e.message).join('\n');
    assert.match(messages, /did you mean `Enforce`\?/);
  });

  it('points at a bad behavior value', () => {
    const r = loadPolicyText(
      runtimePolicy('p', `      restrict:\n        behaviors: [volume-mout]\n`),
      'x.yaml',
    );
    assert.equal(r.errors.length, 1);
    assert.match(r.errors[0]!.message, /"volume-mout" .*did you mean `volume-mount`\?/);
    assert.deepEqual([r.errors[0]!.line, r.errors[0]!.col], [14, 21]);
    const inPattern = loadPolicyText(
      runtimePolicy('p', `      restrict:\n        pattern:\n          behavior: [file-wrte]\n`),
      'y.yaml',
    );
    assert.equal(
      formatPolicyError(inPattern.errors[0]!),
      'y.yaml:15:22: unknown behavior "file-wrte", did you mean `file-write`?',
    );
  });

  it('rejects actions with more than one key', () => {
    const r = loadPolicyText(
      runtimePolicy(
        'p',
        `      restrict:\n        behaviors: [ptrace]\n        actions:\n          - deletePod: {}\n            kill: {}\n`,
      ),
      'x.yaml',
    );
    assert.match(r.errors[0]!.message, /exactly one key/);
  });

  it('keeps loading after a bad document, ignores non-policy documents, reports unknown policy kinds', () => {
    const text = [
      runtimePolicy('bad', `      restrict:\n        behavior: [ptrace]\n`),
      'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\n',
      'apiVersion: runtime.kyverno.io/v1alpha1\nkind: ClusterRuntimePolcy\nmetadata: {name: typo}\nspec: {rules: []}\n',
      runtimePolicy('good', `      restrict:\n        behaviors: [process-exec]\n`),
      'key: [unclosed\n',
    ].join('---\n');
    const r = loadPolicyText(text, 'multi.yaml');
    assert.deepEqual(
      r.policies.map((p) => p.name),
      ['good'],
    );
    assert.equal(r.ignored, 1);
    const msgs = r.errors.map(formatPolicyError);
    assert.ok(
      msgs.some((m) => /unknown field `behavior`, did you mean `behaviors`\?/.test(m)),
      msgs.join('\n'),
    );
    assert.ok(msgs.some((m) => /did you mean `ClusterRuntimePolicy`\?/.test(m)));
    assert.ok(msgs.some((m) => m.startsWith('multi.yaml:') && m.includes('YAML:')));
  });

  it('compiles Kyverno ClusterPolicy validate rules with autogen rules appended', () => {
    const r = loadPolicyText(
      `apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: require-ro}
spec:
  validationFailureAction: Enforce
  rules:
  - name: ro
    match: {any: [{resources: {kinds: [Pod]}}]}
    validate:
      message: read-only root fs
      pattern: {spec: {containers: [{securityContext: {readOnlyRootFilesystem: true}}]}}
`,
      'k.yaml',
    );
    assert.deepEqual(r.errors, []);
    const p = r.policies[0]!;
    assert.equal(p.failureAction, 'Enforce');
    assert.deepEqual(
      p.rules.map((x) => x.name),
      ['ro', 'autogen-ro', 'autogen-cronjob-ro'],
    );
    assert.equal(p.rules[1]!.autogen?.of, 'ro');
  });

  it('reads directories recursively (.yaml and .yml only) and names unreadable paths', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kr-pol-'));
    mkdirSync(join(dir, 'sub'));
    writeFileSync(join(dir, 'a.yaml'), runtimePolicy('a', `      restrict:\n        behaviors: [ptrace]\n`));
    writeFileSync(
      join(dir, 'sub', 'b.yml'),
      runtimePolicy('b', `      restrict:\n        behaviors: [module-load]\n`),
    );
    writeFileSync(join(dir, 'notes.txt'), 'not yaml: [');
    const r = await loadPolicies([dir, join(dir, 'missing.yaml')]);
    assert.deepEqual(r.policies.map((p) => p.name).sort(), ['a', 'b']);
    assert.equal(r.errors.length, 1);
    assert.match(r.errors[0]!.message, /cannot read/);
  });
});
