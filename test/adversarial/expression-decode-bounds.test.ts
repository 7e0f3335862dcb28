/**
 * Decoding and generating functions fed with event data. An operator writes a policy that decodes what a
 * process passes on its command line (`json.unmarshal`, `yaml.parse`, `parse_json`, `parse_yaml`) or derives
 * a value with `random`; the attacker runs a process whose argument is a document nested thousands deep, an
 * alias bomb, or a pattern that expands to megabytes. Each must end as a counted rule error on that event:
 * never a crash of the agent, never unbounded memory, and the next event is still evaluated.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compileCel } from '../../src/engine/cel/index.js';
import { compileJmesPath } from '../../src/engine/jmespath/index.js';
import { expressionLimitCounts, MAX_DECODE_INPUT } from '../../src/engine/expression-limits.js';
import { registry } from '../../src/observability/metrics.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

const policy = `apiVersion: runtime.kyverno.io/v1alpha1
kind: ClusterRuntimePolicy
metadata:
  name: decode-args
spec:
  rules:
    - name: cel-json
      match: {any: [{resources: {kinds: [Pod]}}]}
      restrict:
        behaviors: [process-exec]
        cel:
          expressions:
            - expression: "size(json.unmarshal(event.process.args[0])) > 100"
    - name: cel-yaml
      match: {any: [{resources: {kinds: [Pod]}}]}
      restrict:
        behaviors: [process-exec]
        cel:
          expressions:
            - expression: "size(yaml.parse(event.process.args[0])) > 100"
    - name: jmespath-json
      match: {any: [{resources: {kinds: [Pod]}}]}
      restrict:
        behaviors: [process-exec]
        conditions:
          all:
            - key: "{{ length(parse_json(event.process.args[0])) }}"
              operator: GreaterThan
              value: 100
    - name: random-from-binary
      match: {any: [{resources: {kinds: [Pod]}}]}
      restrict:
        behaviors: [process-exec]
        conditions:
          all:
            - key: "{{ length(random(event.process.binary)) }}"
              operator: Equals
              value: -1
`;

function exec(id: string, pod: string, binary: string, arg: string): string {
  return JSON.stringify({
    id,
    time: '2026-12-05T12:00:00Z',
    source: 'tetragon',
    behavior: 'process-exec',
    process: { pid: 1000, binary, args: [arg] },
    pod: { namespace: 'victim', name: pod },
  });
}

interface Row {
  resource: { name: string };
  result: { rule: string; status: string; message: string };
}

test('nested documents, alias bombs and expanding patterns from a process become rule errors in the CLI', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kr-decode-'));
  const deepJson = '['.repeat(8000) + ']'.repeat(8000);
  const deepYaml = '{a: '.repeat(4000) + '1' + '}'.repeat(4000);
  // Each `[a-z]{1000}` adds a thousand characters: 90 of them fit in the pattern limit and expand to 90 000.
  const bigPattern = '[a-z]{1000}'.repeat(90);
  writeFileSync(join(dir, 'policy.yaml'), policy);
  writeFileSync(
    join(dir, 'events.jsonl'),
    [
      exec('1', 'deep-json', '/bin/deep', deepJson),
      exec('2', 'deep-yaml', '/bin/deep', deepYaml),
      exec('3', 'big-random', bigPattern, '[]'),
      // After the attacks, an ordinary event is still evaluated.
      exec('4', 'normal', '/bin/ok', '[1, 2]'),
    ].join('\n'),
  );
  const r = spawnSync(
    process.execPath,
    [
      '--import',
      'tsx',
      'src/cli/main.ts',
      'apply',
      '-p',
      join(dir, 'policy.yaml'),
      '-e',
      join(dir, 'events.jsonl'),
      '-o',
      'json',
    ],
    { cwd: root, encoding: 'utf8', timeout: 120_000, maxBuffer: 16 * 1024 * 1024 },
  );
  assert.equal(r.signal, null, r.stderr);
  assert.equal(r.status, 1, `rule errors give exit code 1: ${r.stderr}`);
  const rows = JSON.parse(r.stdout) as Row[];
  const row = (pod: string, rule: string) =>
    rows.find((x) => x.resource.name === pod && x.result.rule === rule)?.result;
  assert.match(
    row('deep-json', 'cel-json')!.message,
    /json\.unmarshal: nesting is deeper than the limit of 64/,
  );
  assert.match(
    row('deep-json', 'jmespath-json')!.message,
    /parse_json: nesting is deeper than the limit of 64/,
  );
  assert.match(row('deep-yaml', 'cel-yaml')!.message, /yaml\.parse: nesting is deeper than the limit of 64/);
  assert.match(
    row('big-random', 'random-from-binary')!.message,
    /random: the pattern generates more than 65536 characters/,
  );
  // The ordinary event met no error and no violation on the decoding rules.
  assert.equal(row('normal', 'cel-json'), undefined);
  assert.equal(row('normal', 'jmespath-json'), undefined);
  assert.match(r.stderr, /4 evaluated, 0 violations, \d+ rule errors/);
});

test('an oversized or alias-bomb document is refused before it is parsed, and each refusal is counted', async () => {
  const count = (key: string) => expressionLimitCounts().get(key) ?? 0;
  const before = { json: count('json.unmarshal|input-size'), yaml: count('yaml.parse|depth') };
  // An annotation or a context value is not cut at ingest like event strings are.
  const huge = `[${'1,'.repeat(MAX_DECODE_INPUT / 2)}1]`;
  assert.throws(
    () => compileCel('json.unmarshal(object.data)').evaluate({ object: { data: huge } }),
    /json\.unmarshal: input of \d+ characters is over the 1048576-character limit/,
  );
  assert.equal(count('json.unmarshal|input-size'), before.json + 1);
  assert.throws(
    () => compileJmesPath('parse_yaml(@)')(huge),
    /parse_yaml: input of \d+ characters is over the 1048576-character limit/,
  );
  // Billion laughs: each level references the one before ten times.
  const levels = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
  for (let i = 1; i < 12; i++)
    levels.push(
      `${'b'.repeat(i)}: &${'b'.repeat(i)} [${Array(10)
        .fill(i === 1 ? '*a' : `*${'b'.repeat(i - 1)}`)
        .join(', ')}]`,
    );
  assert.throws(
    () => compileCel('yaml.parse(object.data)').evaluate({ object: { data: levels.join('\n') } }),
    /yaml\.parse: .*(alias|Excessive)/i,
  );
  // Block nesting that no bracket scan sees is caught once parsed.
  const blocks = Array.from({ length: 80 }, (_, i) => `${'  '.repeat(i)}k${i}:`).join('\n') + ' 1';
  assert.throws(
    () => compileCel('yaml.parse(object.data)').evaluate({ object: { data: blocks } }),
    /nesting is deeper than the limit of 64/,
  );
  assert.equal(count('yaml.parse|depth'), before.yaml + 1);
  // The counts reach Prometheus.
  const text = await registry.metrics();
  assert.match(
    text,
    /kyverno_runtime_expression_limit_total\{function="json\.unmarshal",limit="input-size"\} [1-9]/,
  );
});
