/**
 * A policy that would not do what it says fails to load at file:line:col, or is reported for what it is:
 * user-info selectors in runtime rules, CEL typos (`evnt.x`), JMESPath that Kyverno rejects, rules of kinds
 * kyverno-runtime does not evaluate, and rules that err on events.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from '@commander-js/extra-typings';
import { register as registerApply } from '../../../src/cli/commands/apply.js';
import { register as registerValidate } from '../../../src/cli/commands/validate.js';
import { runRuntimeTest } from '../../../src/cli/runtime-test.js';
import { formatPolicyError, loadPolicyText } from '../../../src/policy/index.js';

function runtimePolicy(rule: string): string {
  return `apiVersion: runtime.kyverno.io/v1alpha1
kind: ClusterRuntimePolicy
metadata:
  name: p
spec:
  rules:
    - name: r
${rule}`;
}

function loadErrors(text: string): string[] {
  const r = loadPolicyText(text, 'p.yaml');
  assert.equal(r.policies.length, 0, 'the policy must not load');
  return r.errors.map(formatPolicyError);
}

async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io = { out: (t: string) => void (out += t), err: (t: string) => void (err += t) };
  const program = new Command().exitOverride();
  for (const register of [registerApply, registerValidate]) register(program, io);
  const before = process.exitCode;
  process.exitCode = 0;
  await program.parseAsync(['node', 'kyverno-runtime', ...args]);
  const code = typeof process.exitCode === 'number' ? process.exitCode : Number(process.exitCode ?? 0);
  process.exitCode = before;
  return { code, out, err };
}

describe('user-info selectors in a runtime rule fail the load', () => {
  it('subjects in match.any, clusterRoles in exclude and roles in a legacy match, each at its key', () => {
    const errors = loadErrors(
      runtimePolicy(`      match:
        any:
          - resources: {kinds: [Pod]}
            subjects: [{kind: User, name: alice}]
      exclude:
        clusterRoles: [cluster-admin]
      restrict:
        behaviors: [process-exec]
        conditions:
          all: [{key: "{{ event.process.binary }}", operator: Equals, value: /bin/sh}]
`),
    );
    assert.equal(errors.length, 2);
    assert.match(errors[0]!, /^p\.yaml:11:13: match\.subjects selects by the admission request's user/);
    assert.match(errors[1]!, /^p\.yaml:13:9: exclude\.clusterRoles .*runtime events do not have/);
    const legacy = loadErrors(
      runtimePolicy(`      match:
        resources: {kinds: [Pod]}
        roles: [view]
      restrict:
        behaviors: [process-exec]
`),
    );
    assert.match(legacy[0]!, /^p\.yaml:10:9: match\.roles /);
  });

  it('a Kyverno ClusterPolicy keeps them (admission has a user)', () => {
    const r = loadPolicyText(
      `apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: k}
spec:
  rules:
    - name: r
      match:
        any:
          - resources: {kinds: [Pod]}
            subjects: [{kind: User, name: alice}]
      validate:
        pattern: {metadata: {name: "?*"}}
`,
      'k.yaml',
    );
    assert.deepEqual(r.errors, []);
    assert.equal(r.policies.length, 1);
  });
});

describe('a CEL expression in a runtime rule may read only the variables it is given', () => {
  it('a typo of `event` fails at the expression, naming what can be read', () => {
    const errors = loadErrors(
      runtimePolicy(`      match: {any: [{resources: {kinds: [Pod]}}]}
      restrict:
        behaviors: [process-exec]
        cel:
          expressions:
            - expression: "evnt.process.binary == '/bin/sh'"
`),
    );
    assert.equal(errors.length, 1);
    assert.match(errors[0]!, /^p\.yaml:13:27: .*undeclared reference to 'evnt'/);
    assert.match(errors[0]!, /can read: behavior, event, object, request, variables/);
  });

  it('in a CEL variable and a celPrecondition too; comprehension and bind names are fine', () => {
    const errors = loadErrors(
      runtimePolicy(`      match: {any: [{resources: {kinds: [Pod]}}]}
      celPreconditions:
        - name: pre
          expression: "objet.metadata.name != ''"
      restrict:
        behaviors: [process-exec]
        cel:
          variables:
            - name: bin
              expression: "evt.process.binary"
          expressions:
            - expression: "[1].exists(x, x == 1) && cel.bind(b, variables.bin, b == '/bin/sh')"
`),
    );
    assert.equal(errors.length, 2);
    assert.match(errors.join('\n'), /p\.yaml:11:23: .*undeclared reference to 'objet'/);
    assert.match(errors.join('\n'), /p\.yaml:17:27: .*undeclared reference to 'evt'/);
  });
});

describe('JMESPath that Kyverno rejects fails the load at the expression', () => {
  const cases: [string, RegExp][] = [
    [
      '{{ lower(event.process.binary) }}',
      /unknown function: lower\(\) is not a Kyverno JMESPath function; use to_lower/,
    ],
    ["{{ trim_suffix(event.process.binary, 'sh') }}", /unknown function: trim_suffix\(\)/],
    ['{{ event.process.pid + `1` }}', /arithmetic operators .* use add\(\)/],
    ['{{ let $b = event.process.binary in $b }}', /let expressions are not JMESPath in Kyverno/],
    ["{{ event.process.uid == `0` ? 'root' : 'user' }}", /the \?: operator is not JMESPath in Kyverno/],
  ];
  for (const [key, message] of cases) {
    it(key, () => {
      const errors = loadErrors(
        runtimePolicy(`      match: {any: [{resources: {kinds: [Pod]}}]}
      restrict:
        behaviors: [process-exec]
        conditions:
          all:
            - key: "${key}"
              operator: Equals
              value: x
`),
      );
      assert.equal(errors.length, 1);
      assert.match(errors[0]!, /^p\.yaml:13:20: /);
      assert.match(errors[0]!, message);
    });
  }
});

const mixed = `apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: mixed}
spec:
  rules:
    - name: pss
      match: {any: [{resources: {kinds: [Pod]}}]}
      validate:
        podSecurity: {level: baseline, version: latest}
    - name: add-label
      match: {any: [{resources: {kinds: [Pod]}}]}
      mutate:
        patchStrategicMerge: {metadata: {labels: {a: b}}}
    - name: named
      match: {any: [{resources: {kinds: [Pod]}}]}
      validate:
        pattern: {metadata: {name: "?*"}}
`;
const pod = `apiVersion: v1
kind: Pod
metadata: {name: p, namespace: default}
spec: {containers: [{name: c, image: nginx}]}
`;

describe('rules kyverno-runtime does not evaluate are never reported as ok', () => {
  it('validate names them, in text and JSON', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kr-noop-'));
    writeFileSync(join(dir, 'mixed.yaml'), mixed);
    const text = await cli('validate', join(dir, 'mixed.yaml'));
    assert.doesNotMatch(text.out, /^ok /m);
    assert.match(text.out, /^not evaluated ClusterPolicy\/mixed .*2 not evaluated\)$/m);
    assert.match(text.out, /^ {2}rule pss: validate\.podSecurity is not evaluated by kyverno-runtime$/m);
    assert.match(text.out, /^ {2}rule add-label: mutate rules are not evaluated by kyverno-runtime$/m);
    const json = await cli('validate', '-o', 'json', join(dir, 'mixed.yaml'));
    const parsed = JSON.parse(json.out) as { policies: { notEvaluated: { rule: string }[] }[] };
    assert.deepEqual(
      parsed.policies[0]!.notEvaluated.map((n) => n.rule),
      ['pss', 'add-label'],
    );
  });

  it('apply reports a podSecurity rule as error and a mutate rule as skip', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kr-noop-'));
    writeFileSync(join(dir, 'mixed.yaml'), mixed);
    writeFileSync(join(dir, 'pod.yaml'), pod);
    const r = await cli('apply', '-p', join(dir, 'mixed.yaml'), '-r', join(dir, 'pod.yaml'), '-o', 'json');
    const rows = JSON.parse(r.out) as { result: { rule: string; status: string; message: string } }[];
    const byRule = new Map(rows.map((row) => [row.result.rule, row.result]));
    assert.equal(byRule.get('pss')?.status, 'error');
    assert.equal(byRule.get('add-label')?.status, 'skip');
    assert.match(byRule.get('add-label')!.message, /not evaluated/);
    assert.equal(byRule.get('named')?.status, 'pass');
    assert.equal(r.code, 1, 'an error result makes the exit code 1');
  });
});

describe('rule errors on events are shown', () => {
  const policy = runtimePolicy(`      match: {any: [{resources: {kinds: [Pod]}}]}
      restrict:
        behaviors: [process-exec]
        cel:
          expressions:
            - expression: "event.process.nosuchfield == 'x'"
`);
  const event = (id: string, name: string) =>
    JSON.stringify({
      id,
      time: '2026-12-05T12:00:00Z',
      source: 'tetragon',
      behavior: 'process-exec',
      process: { pid: 1, binary: '/bin/sh' },
      pod: { namespace: 'shop', name },
    });

  it('apply -e prints an error row per (rule, pod) with the count, and the summary counts them', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kr-noop-'));
    writeFileSync(join(dir, 'p.yaml'), policy);
    writeFileSync(join(dir, 'e.jsonl'), [event('1', 'a'), event('2', 'a'), event('3', 'b')].join('\n'));
    const r = await cli('apply', '-p', join(dir, 'p.yaml'), '-e', join(dir, 'e.jsonl'), '-o', 'json');
    const rows = JSON.parse(r.out) as {
      resource: { name: string };
      result: { status: string; message: string };
    }[];
    assert.equal(rows.length, 2);
    assert.ok(rows.every((row) => row.result.status === 'error'));
    assert.match(
      rows.find((row) => row.resource.name === 'a')!.result.message,
      /No such key: nosuchfield \(2 events\)/,
    );
    assert.match(r.err, /3 evaluated, 0 violations, 3 rule errors/);
    assert.equal(r.code, 1);
  });

  it('a runtime test case names the error, and an expected pass fails when the rule erred', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kr-noop-'));
    writeFileSync(join(dir, 'p.yaml'), policy);
    writeFileSync(join(dir, 'e.jsonl'), event('1', 'a'));
    const doc = {
      apiVersion: 'cli.kyverno.io/v1alpha1',
      kind: 'RuntimeTest',
      metadata: { name: 't' },
      policies: ['p.yaml'],
      events: ['e.jsonl'],
      results: [
        { policy: 'p', rule: 'r', resources: ['shop/a'], result: 'fail' },
        { policy: 'p', rule: 'r', resources: ['shop/a'], result: 'pass' },
      ],
    };
    const result = await runRuntimeTest(join(dir, 'kyverno-test.yaml'), doc);
    assert.equal(result.cases.length, 2);
    for (const c of result.cases) {
      assert.equal(c.ok, false);
      assert.match(c.reason, /the rule erred on 1 event\(s\): .*No such key: nosuchfield/);
    }
  });
});
