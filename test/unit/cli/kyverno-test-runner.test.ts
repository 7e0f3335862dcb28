import assert from 'node:assert/strict';
import { Command } from '@commander-js/extra-typings';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';

import { register as registerApply } from '../../../src/cli/commands/apply.js';
import { register as registerTest } from '../../../src/cli/commands/test.js';
import { register as registerValidate } from '../../../src/cli/commands/validate.js';

/** Runs the real commands in-process with captured output (a child process per case costs seconds). */
async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io = { out: (t: string) => void (out += t), err: (t: string) => void (err += t) };
  const program = new Command().exitOverride();
  for (const register of [registerTest, registerValidate, registerApply]) register(program, io);
  const before = process.exitCode;
  process.exitCode = 0;
  await program.parseAsync(['node', 'kyverno-runtime', ...args]);
  const code = typeof process.exitCode === 'number' ? process.exitCode : Number(process.exitCode ?? 0);
  process.exitCode = before;
  return { code, out, err };
}

/** A Kyverno CLI test folder: one policy, three pods, one expectation the engine gets "wrong" in lenient mode. */
function fixture(): string {
  const dir = mkdtempSync(join(tmpdir(), 'kr-test-'));
  const t = join(dir, 'require-team', '.kyverno-test');
  mkdirSync(t, { recursive: true });
  writeFileSync(
    join(dir, 'require-team', 'policy.yaml'),
    `apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: require-team}
spec:
  rules:
  - name: check-team
    match: {any: [{resources: {kinds: [Pod], namespaces: [shop]}}]}
    validate:
      message: "label team is required"
      pattern: {metadata: {labels: {team: "?*"}}}
`,
  );
  writeFileSync(
    join(t, 'resources.yaml'),
    ['good', 'bad', 'elsewhere']
      .map(
        (n) => `apiVersion: v1
kind: Pod
metadata:
  name: ${n}
  namespace: ${n === 'elsewhere' ? 'other' : 'shop'}
  labels: ${n === 'good' ? '{team: a}' : '{}'}
spec: {containers: [{name: c, image: nginx}]}
`,
      )
      .join('---\n'),
  );
  writeFileSync(
    join(t, 'kyverno-test.yaml'),
    `apiVersion: cli.kyverno.io/v1alpha1
kind: Test
metadata: {name: require-team}
policies: [../policy.yaml]
resources: [resources.yaml]
results:
- {policy: require-team, rule: check-team, kind: Pod, resources: [good], result: pass}
- {policy: require-team, rule: check-team, kind: Pod, resources: [shop/bad], result: fail}
- {policy: require-team, rule: check-team, kind: Pod, resources: [elsewhere], result: fail}
`,
  );
  return dir;
}

describe('kyverno-runtime test', () => {
  const dir = fixture();

  it("lenient (as Kyverno's CLI): a rule that did not apply counts as passed", async () => {
    const r = await cli('test', dir);
    assert.equal(r.code, 0, r.out + r.err);
    const lines = r.out.trimEnd().split('\n');
    assert.equal(lines[lines.length - 1], '3 passed, 0 failed');
    assert.match(r.out, /Test require-team/);
    assert.match(r.out, /POLICY\s+RULE\s+RESOURCE\s+EXPECTED\s+ACTUAL\s+RESULT/);
  });

  it('--strict: the expected result must be produced; failures list their reason', async () => {
    const r = await cli('test', '--strict', dir);
    assert.equal(r.code, 1);
    assert.match(r.out, /\n2 passed, 1 failed\n?$/);
    assert.match(r.out, /#3 failed: rule did not apply \(no result\), expected fail/);
  });

  it('-o json gives machine-readable cases', async () => {
    const r = await cli('test', '--strict', '-o', 'json', dir);
    const j = JSON.parse(r.out) as {
      passed: number;
      failed: number;
      tests: { cases: { resource: string; actual: string[]; ok: boolean }[] }[];
    };
    assert.deepEqual([j.passed, j.failed], [2, 1]);
    assert.deepEqual(
      j.tests[0]!.cases.map((c) => [c.resource, c.actual.join(','), c.ok]),
      [
        ['good', 'pass', true],
        ['shop/bad', 'fail', true],
        ['elsewhere', '', false],
      ],
    );
  });

  it('a test document of an unknown kind is a failed test, not a crash', async () => {
    const d = mkdtempSync(join(tmpdir(), 'kr-test-'));
    writeFileSync(join(d, 'kyverno-test.yaml'), 'name: old-style\npolicies: []\n');
    const r = await cli('test', d);
    assert.equal(r.code, 1);
    assert.match(r.out, /unsupported test kind ""/);
    assert.match(r.out, /0 passed, 1 failed/);
  });
});

describe('kyverno-runtime validate / apply', () => {
  it('validate prints file:line:col errors and exits 1', async () => {
    const d = mkdtempSync(join(tmpdir(), 'kr-val-'));
    writeFileSync(
      join(d, 'p.yaml'),
      `apiVersion: runtime.kyverno.io/v1alpha1
kind: ClusterRuntimePolicy
metadata: {name: p}
spec:
  rules:
  - name: r
    match: {any: [{resources: {kinds: [Pod]}}]}
    Restirct: {behaviors: [ptrace]}
`,
    );
    const r = await cli('validate', d);
    assert.equal(r.code, 1);
    assert.match(r.out, /p\.yaml:8:5: unknown field `Restirct`, did you mean `restrict`\?/);
  });

  it('apply prints a result table and a PolicyReport per resource', async () => {
    const dir = fixture();
    const policy = join(dir, 'require-team', 'policy.yaml');
    const resources = join(dir, 'require-team', '.kyverno-test', 'resources.yaml');
    const table = await cli('apply', '-p', policy, '-r', resources);
    assert.equal(table.code, 1);
    assert.match(
      table.out,
      /require-team\s+check-team\s+Pod\/shop\/bad\s+fail\s+validation error: label team is required\./,
    );
    assert.match(table.out, /1 pass, 1 fail, 0 warn, 0 error, 0 skip/);
    const report = JSON.parse(
      (await cli('apply', '-p', policy, '-r', resources, '-o', 'policyreport')).out,
    ) as { items: any[] };
    assert.equal(report.items.length, 2);
    assert.equal(report.items[0].kind, 'PolicyReport');
    assert.deepEqual(report.items[1].summary, { pass: 0, fail: 1, warn: 0, error: 0, skip: 0 });
  });
});
