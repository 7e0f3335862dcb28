// CEL with the Kubernetes/Kyverno libraries, lazy variables and the validations helper.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import {
  CelCompileError,
  CelEvaluationError,
  compileCel,
  compileCelConditions,
  compileCelValidations,
} from '../../../src/engine/cel/index.js';

const pod = {
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'web', namespace: 'prod', labels: { app: 'web' } },
  spec: {
    replicas: 3,
    containers: [
      { name: 'app', image: 'nginx:1.25', resources: { limits: { memory: '1Gi', cpu: '500m' } } },
      { name: 'sidecar', image: 'envoy:1.30' },
    ],
  },
};
const run = (expr: string, activation: Record<string, unknown> = { object: pod }) =>
  compileCel(expr).evaluate(activation);

const cases: [string, unknown][] = [
  ['object.spec.replicas + 1', 4],
  ['object.spec.replicas > 2', true],
  ['object.metadata.?labels.?app.orValue("")', 'web'],
  ['object.metadata.?annotations.?owner.orValue("none")', 'none'],
  ['object.spec.containers[?5].hasValue()', false],
  ["has(object.metadata.labels) && object.metadata.labels['app'] == 'web'", true],
  ['object.spec.containers.all(c, c.image.contains(":"))', true],
  ['object.spec.containers.exists_one(c, c.name == "app")', true],
  ['object.spec.containers.map(c, c.name).join(",")', 'app,sidecar'],
  ['object.spec.containers.filter(c, has(c.resources)).size()', 1],
  ["quantity(object.spec.containers[0].resources.limits.memory).isGreaterThan(quantity('512Mi'))", true],
  ["quantity('1Gi') == quantity('1024Mi')", true],
  ["quantity('500m').compareTo(quantity('0.5'))", 0],
  ["quantity('1Gi').add(quantity('512Mi'))", '1536Mi'],
  ["quantity('2').asInteger()", 2],
  ["isQuantity('1Gi') && !isQuantity('1 Gi')", true],
  ["url('https://example.com:8443/a?b=c').getHostname()", 'example.com'],
  ["url('https://example.com:8443/a').getPort()", '8443'],
  ['[1, 2, 3].isSorted() && [3, 1].max() == 3 && [3, 1].min() == 1', true],
  ['[1, 2, 3].sum()', 6],
  ["['a', 'b', 'a'].lastIndexOf('a')", 2],
  ["'image:v1.2'.find('[0-9]+')", '1'],
  ["'a1b22'.findAll('[0-9]+')", ['1', '22']],
  ["'Hello'.lowerAscii() + 'x'.upperAscii()", 'helloX'],
  ["'a-b-c'.replace('-', '_')", 'a_b_c'],
  ["'abc'.charAt(1)", 'b'],
  ["' x '.trim()", 'x'],
  ["'a/b'.split('/')", ['a', 'b']],
  ["sets.contains(['a', 'b'], ['b'])", true],
  ["sets.intersects(['a'], ['b'])", false],
  ["duration('1h') > duration('30m')", true],
  ["timestamp('2024-01-01T00:00:00Z') + duration('1h') == timestamp('2024-01-01T01:00:00Z')", true],
  ['time.now() > timestamp("2020-01-01T00:00:00Z")', true],
];

for (const [expr, expected] of cases) {
  test(`CEL ${expr}`, () => assert.deepEqual(run(expr), expected));
}

test('a missing field is an evaluation error (rule result: error)', () => {
  assert.throws(() => run('object.spec.missing == 1'), CelEvaluationError);
});

test('syntax and type errors are compile errors', () => {
  assert.throws(() => compileCel('object.spec.'), CelCompileError);
  assert.throws(() => compileCel('1 + "a"'), CelCompileError);
});

test('resource.Get and image.GetMetadata read the host given per evaluation', () => {
  const cm = { data: { registries: 'ghcr.io' } };
  const host = {
    getResource: (_v: string, r: string, ns: string, name: string) =>
      r === 'configmaps' && ns === 'default' && name === 'regs' ? cm : undefined,
    imageMetadata: () => ({ config: { created: '2024-01-01T00:00:00Z' } }),
  };
  const p = compileCel("resource.Get('v1', 'configmaps', 'default', 'regs').data.registries");
  assert.equal(p.evaluate({}, { host }), 'ghcr.io');
  assert.equal(
    compileCel("image.GetMetadata('nginx').config.created").evaluate({}, { host }),
    '2024-01-01T00:00:00Z',
  );
  assert.throws(() => p.evaluate({}), CelEvaluationError);
});

test('variables are lazy, evaluated at most once, and may reference each other', () => {
  let calls = 0;
  const v = compileCelValidations(
    [
      { expression: 'variables.count >= 2', message: 'need two containers' },
      { expression: "variables.names.all(n, n != 'bad')" },
      {
        expression: 'variables.count > 5',
        message: 'static',
        messageExpression: "'only ' + string(variables.count) + ' containers'",
      },
    ],
    [
      { name: 'names', expression: 'object.spec.containers.map(c, c.name)' },
      { name: 'count', expression: 'size(variables.names)' },
      { name: 'unused', expression: 'object.spec.missing' },
    ],
  );
  // `unused` would fail if evaluated: laziness keeps it out.
  const outcome = v.evaluate({ object: pod });
  assert.deepEqual(outcome, {
    passed: false,
    message: 'only 2 containers',
    expression: 'variables.count > 5',
  });
  // A variable read twice is evaluated once (time.now() is called once).
  const once = compileCelValidations(
    [
      { expression: 'variables.t == variables.t' },
      { expression: 'variables.t > timestamp("2020-01-01T00:00:00Z")' },
    ],
    [{ name: 't', expression: 'time.now()' }],
  );
  const host = {
    now: () => {
      calls++;
      return new Date();
    },
  };
  assert.deepEqual(once.evaluate({}, { host }), { passed: true });
  assert.equal(calls, 1);
});

test('validations: message fallback and pass', () => {
  const failing = compileCelValidations([{ expression: 'object.spec.replicas < 2' }]);
  assert.deepEqual(failing.evaluate({ object: pod }), {
    passed: false,
    message: 'failed expression: object.spec.replicas < 2',
    expression: 'object.spec.replicas < 2',
  });
  assert.deepEqual(compileCelValidations([{ expression: 'true', message: 'x' }]).evaluate({ object: pod }), {
    passed: true,
  });
  assert.throws(() => compileCelValidations([{ expression: '1' }]).evaluate({}), CelEvaluationError);
});

test('conditions (matchConditions / celPreconditions) name the first that failed', () => {
  const c = compileCelConditions([
    { name: 'is-pod', expression: "object.kind == 'Pod'" },
    { name: 'is-dev', expression: "object.metadata.namespace == 'dev'" },
  ]);
  assert.deepEqual(c.evaluate({ object: pod }), { matched: false, failed: 'is-dev' });
});

test('has() over a function call result works (cel-go accepts it; rewritten for cel-js)', () => {
  const host = {
    imageMetadata: (ref: string) =>
      ref === 'old' ? { config: { created: '2020-01-01T00:00:00Z' } } : { config: {} },
  };
  const p = compileCel("has(image.GetMetadata(object.image).config.created) && 'x'.size() == 1");
  assert.equal(p.evaluate({ object: { image: 'old' } }, { host }), true);
  assert.equal(p.evaluate({ object: { image: 'new' } }, { host }), false);
});

test('.orValue() on a present, non-optional value returns it (as cel-go does)', () => {
  const p = compileCel('object.spec.containers.map(c, c.ports.orValue([]).size()).sum()');
  assert.equal(p.evaluate({ object: { spec: { containers: [{ ports: [1, 2] }, { ports: [3] }] } } }), 3);
  assert.throws(() => p.evaluate({ object: { spec: { containers: [{}] } } }), CelEvaluationError);
  assert.equal(run('object.spec.?missing.orValue(7)'), 7);
});

test('runtime events are usable as `event`', () => {
  const event = { behavior: 'process-exec', process: { binary: '/bin/sh', uid: 0, args: ['-c', 'id'] } };
  assert.equal(
    run("event.behavior == 'process-exec' && event.process.uid == 0 && event.process.binary.endsWith('sh')", {
      event,
    }),
    true,
  );
});

// Every CEL expression of the conformance corpus compiles (including `has()` over a function call).
test('the conformance corpus CEL expressions compile', () => {
  const root = fileURLToPath(new URL('../../../../shared/conformance/kyverno-policies/', import.meta.url));
  const walk = (d: string): string[] =>
    readdirSync(d).flatMap((n) => {
      const p = join(d, n);
      if (statSync(p).isDirectory()) return n.startsWith('.') ? [] : walk(p);
      return p.endsWith('.yaml') ? [p] : [];
    });
  const collect = (v: unknown, out: string[]): void => {
    if (Array.isArray(v)) v.forEach((x) => collect(x, out));
    else if (v !== null && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        if ((k === 'expression' || k === 'messageExpression') && typeof x === 'string') out.push(x);
        else collect(x, out);
      }
    }
  };
  const failures: string[] = [];
  let total = 0;
  for (const dir of ['cel-clusterpolicy', 'validatingpolicy']) {
    for (const f of walk(join(root, dir))) {
      const exprs: string[] = [];
      for (const doc of parseAllDocuments(readFileSync(f, 'utf8'))) collect(doc.toJS(), exprs);
      for (const e of exprs) {
        total++;
        try {
          compileCel(e);
        } catch {
          failures.push(e);
        }
      }
    }
  }
  assert.ok(total > 250, `expected the corpus, found ${total} expressions`);
  assert.ok(
    failures.every((e) => /has\(image\.GetMetadata/.test(e)),
    failures.join('\n'),
  );
  assert.ok(failures.length <= 3);
});
