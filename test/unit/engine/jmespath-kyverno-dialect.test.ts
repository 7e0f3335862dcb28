// Kyverno's JMESPath dialect: the go-jmespath fork's missing-key errors and Kyverno's custom functions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  compileJmesPath,
  JmesPathFunctionError,
  JmesPathNotFoundError,
  JmesPathSyntaxError,
} from '../../../src/engine/jmespath/index.js';

const data = {
  request: {
    operation: 'CREATE',
    object: {
      metadata: {
        name: 'web',
        labels: { app: 'web', tier: 'front' },
        annotations: { 'example.com/owner': 'team-a' },
      },
      spec: {
        replicas: 3,
        containers: [
          { name: 'app', image: 'nginx:1.25', securityContext: { capabilities: { drop: ['all'] } } },
          { name: 'sidecar', image: 'registry.example.com/proxy:2' },
        ],
      },
    },
  },
};

const q = (expr: string, input: unknown = data) => compileJmesPath(expr)(input);

test("a missing key in a field path is an error, with Kyverno's message", () => {
  assert.throws(
    () => q('request.object.metadata.labels.missing'),
    (e: unknown) => {
      assert.ok(e instanceof JmesPathNotFoundError);
      assert.equal(e.message, 'Unknown key "missing" in path');
      return true;
    },
  );
  assert.throws(() => q('request.userInfo.username'), JmesPathNotFoundError);
});

test('a field on null is null, not an error', () => {
  assert.equal(q('a.b', { a: null }), null);
});

test('|| , comparisons, function arguments, projections and multi-selects read a missing key as null', () => {
  assert.equal(q("request.object.metadata.labels.missing || 'default'"), 'default');
  assert.equal(q('request.object.metadata.labels.missing == null'), true);
  assert.equal(q('length(request.object.spec.initContainers || `[]`)'), 0);
  assert.equal(q('to_string(request.object.spec.missing)'), 'null');
  assert.deepEqual(q('request.object.spec.containers[].securityContext.capabilities.drop[]'), ['all']);
  assert.deepEqual(q('request.object.spec.[ephemeralContainers, initContainers, containers][].name'), [
    'app',
    'sidecar',
  ]);
  assert.deepEqual(q('request.object.spec.containers[?securityContext.privileged == `true`]'), []);
  // A projection, flatten or filter over a missing key is null (Kyverno's policy tests rely on it).
  assert.equal(q('request.object.spec.volumes[]'), null);
  assert.equal(q("request.object.spec.volumes[?name == 'x'].name"), null);
  assert.equal(q('request.object.spec.volumes[*].name'), null);
  assert.equal(q('request.object.spec.volumes.*'), null);
});

test('the standard JMESPath functions and syntax still work', () => {
  assert.equal(q('length(request.object.spec.containers)'), 2);
  assert.deepEqual(q('request.object.metadata.labels | keys(@)'), ['app', 'tier']);
  assert.deepEqual(q('sort_by(request.object.spec.containers, &name)[].name'), ['app', 'sidecar']);
  assert.equal(q('max_by(request.object.spec.containers, &name).name'), 'sidecar');
  assert.equal(q('request.object.metadata.annotations."example.com/owner"'), 'team-a');
  assert.equal(q("contains(request.object.spec.containers[].name, 'app')"), true);
  assert.deepEqual(q("request.object.spec.containers[].image.split(@, ':')[0]"), [
    'nginx',
    'registry.example.com/proxy',
  ]);
});

const functionCases: [string, unknown][] = [
  ["compare('a', 'b')", -1],
  ["equal_fold('Go', 'GO')", true],
  ["replace('aaaa', 'a', 'b', `2`)", 'bbaa'],
  ["replace('aaaa', 'a', 'b', `-1`)", 'bbbb'],
  ["replace_all('a.b.c', '.', '-')", 'a-b-c'],
  ["to_upper('abc')", 'ABC'],
  ["to_lower('ABC')", 'abc'],
  ["trim('--a--', '-')", 'a'],
  ["trim_prefix('prefix-x', 'prefix-')", 'x'],
  ["split('a,b', ',')", ['a', 'b']],
  ["truncate('abcdef', `3`)", 'abc'],
  ["regex_match('^nginx:[0-9.]+$', 'nginx:1.25')", true],
  ["regex_match('(?i)^NGINX', 'nginx')", true],
  ["regex_match('^[0-9]+$', `42`)", true],
  ["regex_replace_all('([a-z]+)-([0-9]+)', 'abc-123', '${2}-$1')", '123-abc'],
  ["regex_replace_all_literal('[0-9]', 'a1b2', '$1')", 'a$1b$1'],
  ["pattern_match('nginx:*', 'nginx:1.25')", true],
  ["pattern_match('ngin?', 'nginx')", true],
  ['label_match(`{"app":"web"}`, request.object.metadata.labels)', true],
  ['label_match(`{"app":"db"}`, request.object.metadata.labels)', false],
  ["add('1Gi', '512Mi')", '1536Mi'],
  ['add(`1`, `2`)', 3],
  ["add('1h', '30m')", '1h30m0s'],
  ["subtract('2Gi', '1Gi')", '1Gi'],
  ["multiply('500m', `3`)", '1500m'],
  ["divide('12h', '6h')", 2],
  ["divide('1Gi', `2`)", '512Mi'],
  ['modulo(`7`, `3`)', 1],
  ["sum(['1Gi', '1Gi'])", '2Gi'],
  ["sum(['1h', '30m'])", '1h30m0s'],
  ['sum(`[1, 2, 3]`)', 6],
  ['round(`2.567`, `2`)', 2.57],
  ["base64_encode('hello')", 'aGVsbG8='],
  ["base64_decode('aGVsbG8=')", 'hello'],
  ["path_canonicalize('/a/../b//c/')", '/b/c'],
  ["semver_compare('1.2.3', '>=1.2.0 <2.0.0')", true],
  ["semver_compare('2.0.0', '>=1.2.0 <2.0.0')", false],
  ['parse_json(\'{"a": [1, 2]}\').a[1]', 2],
  ["parse_yaml('a: b').a", 'b'],
  ["lookup(request.object.metadata.labels, 'tier')", 'front'],
  ['lookup(request.object.spec.containers, `1`).name', 'sidecar'],
  [
    'items(`{"b": 1, "a": 2}`, \'key\', \'value\')',
    [
      { key: 'a', value: 2 },
      { key: 'b', value: 1 },
    ],
  ],
  ["object_from_lists(['a', 'b'], [`1`])", { a: 1, b: null }],
  ["to_boolean('True')", true],
  ["is_external_url('https://example.com/x')", true],
  ["is_external_url('http://127.0.0.1:8080/')", false],
  ["image_normalize('nginx')", 'docker.io/library/nginx:latest'],
  ["sha256('abc')", 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'],
  ["time_add('2024-01-01T00:00:00Z', '1h30m')", '2024-01-01T01:30:00Z'],
  ["time_diff('2024-01-01T00:00:00Z', '2024-01-01T02:00:00Z')", '2h0m0s'],
  ["time_since('', '2024-01-01T00:00:00Z', '2024-01-02T00:00:00Z')", '24h0m0s'],
  ["time_before('2024-01-01T00:00:00Z', '2024-01-02T00:00:00Z')", true],
  ["time_after('2024-01-01T00:00:00Z', '2024-01-02T00:00:00Z')", false],
  ["time_between('2024-01-01T12:00:00Z', '2024-01-01T00:00:00Z', '2024-01-02T00:00:00Z')", true],
  ["time_parse('2006-01-02 15:04', '2024-03-05 07:08')", '2024-03-05T07:08:00Z'],
  ["time_utc('2024-01-01T02:00:00+02:00')", '2024-01-01T00:00:00Z'],
  ["time_truncate('2024-01-01T10:47:13Z', '1h')", '2024-01-01T10:00:00Z'],
  ["time_to_cron('2024-03-05T07:08:00Z')", '8 7 5 3 2'],
  ["time_to_cron('2024-03-05T07:08:00+02:00')", '8 7 5 3 2'],
  ["time_parse('1', '1700000000')", '2023-11-14T22:13:20Z'],
];

for (const [expr, expected] of functionCases) {
  test(`function ${expr}`, () => assert.deepEqual(q(expr), expected));
}

test('time_now_utc returns the current UTC time in RFC 3339', () => {
  const before = Date.now();
  const text = q('time_now_utc()') as string;
  const after = Date.now();
  // Between the calls around it (1 s of slack: RFC 3339 may drop the fraction of a second).
  const t = Date.parse(text);
  assert.ok(t >= before - 1000 && t <= after, `${text} not in [${before}, ${after}]`);
});

test('function misuse is a JmesPathFunctionError', () => {
  assert.throws(() => q("divide('1Gi', `0`)"), /Zero divisor passed/);
  assert.throws(() => q("add('1Gi', '1h')"), JmesPathFunctionError);
  assert.throws(() => q("replace('a', 'b', 'c')"), JmesPathFunctionError);
});

test('a function Kyverno does not have is refused when the expression compiles', () => {
  assert.throws(() => q('no_such_function(`1`)'), JmesPathSyntaxError);
});

test('syntax errors surface at compile time', () => {
  assert.throws(() => compileJmesPath('request.object.['), JmesPathSyntaxError);
});

test('an expression is compiled once and reused', () => {
  assert.equal(compileJmesPath('request.operation'), compileJmesPath('request.operation'));
});
