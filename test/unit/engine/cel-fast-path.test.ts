// CEL's direct evaluator (src/engine/cel/fast-path.ts) against cel-js: for every expression it
// accepts — written here, from the bench and the examples, and every one in the conformance corpus —
// and random activations, the value or the error is the same with and without it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { parseAllDocuments } from 'yaml';
import {
  NOT_RAW,
  PreparedActivation,
  RAW_BINDING,
  compileCel,
  compileCelVariables,
  toCel,
  type CelProgram,
} from '../../../src/engine/cel/index.js';

const WRITTEN = [
  "!(event.process.binary.endsWith('/sh') || event.process.binary.endsWith('/bash'))",
  '!has(event.network.dport) || event.network.dport in [443, 53]',
  "!event.file.path.startsWith('/etc/')",
  "!has(event.alert) || !event.alert.rule.startsWith('Terminal shell')",
  "object.metadata.namespace.startsWith('prod-')",
  "event.process.binary == '/bin/sh' && event.process.uid != 0",
  'event.network.dport >= 1024 && event.network.dport < 65536',
  'event.network.dport > 1 || event.network.dport <= 0',
  "event.process.binary.matches('^/usr/s?bin/(curl|wget)$')",
  "event.process.binary.contains('sh')",
  "event['process']['binary'] in ['/bin/sh', '/bin/bash']",
  'event.process.uid in [0, 1000]',
  'event.process.privileged == true',
  'event.process.privileged',
  'event.container == null',
  'event.pod.name != null',
  'has(event.process.binary) && !has(event.process.parent)',
  "behavior == 'process-exec'",
  'event.network.dport == event.network.sport',
  "variables.bin.endsWith('/sh')",
  'variables.port in [443, 80]',
  "variables.meta.name == 'pod-1'",
  'variables.ratio == 443',
  'variables.ratio in [443, 80]',
  'variables.ratio',
  'event.process.binary',
  'event.network.dport',
  'event.process.arguments.startsWith(event.process.binary)',
  // An error or another type on one side of `&&`/`||`, beside a decisive other side.
  "event.alert.rule.startsWith('Terminal') || event.process.uid == 0",
  "event.network.dport in [443] && event.process.binary == '/bin/sh'",
  "!(event.file.path.startsWith('/etc/') && event.process.uid == 0)",
  'event.process.privileged || has(event.network.dport) || event.pod.name == event.process.binary',
];

const VARIABLES = [
  { name: 'bin', expression: 'event.process.binary' },
  { name: 'port', expression: 'event.network.dport' },
  { name: 'meta', expression: 'object.metadata' },
  // A double with an integral value: a CEL value that must not be read as JSON (where it would be an int).
  { name: 'ratio', expression: 'double(event.network.dport)' },
];

/** Every `expression` string in the conformance corpus's policies (ValidatingPolicy, CEL rules…). */
function corpusExpressions(): string[] {
  const root = fileURLToPath(new URL('../../../../shared/conformance', import.meta.url));
  const out = new Set<string>();
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (/\.ya?ml$/.test(name)) {
        const text = readFileSync(path, 'utf8');
        if (!text.includes('expression')) continue;
        for (const doc of parseAllDocuments(text)) collect(doc.toJS() as unknown, out);
      }
    }
  };
  walk(root);
  return [...out];
}

function collect(v: unknown, out: Set<string>): void {
  if (Array.isArray(v)) for (const x of v) collect(x, out);
  else if (v !== null && typeof v === 'object')
    for (const [k, x] of Object.entries(v)) {
      if ((k === 'expression' || k === 'messageExpression') && typeof x === 'string') out.add(x);
      else collect(x, out);
    }
}

interface Pair {
  expression: string;
  fast: CelProgram;
  slow: CelProgram;
}

function pairs(expressions: readonly string[]): Pair[] {
  const out: Pair[] = [];
  for (const expression of expressions) {
    let fast: CelProgram;
    try {
      fast = compileCel(expression);
    } catch {
      continue;
    }
    if (!fast.fastPath) continue;
    out.push({ expression, fast, slow: compileCel(expression, { fastPath: false }) });
  }
  return out;
}

const written = pairs(WRITTEN);
const corpus = pairs(corpusExpressions());

/** Words and literals of the expressions: random activations use them, so paths resolve and values match. */
function vocabulary(list: readonly Pair[]): { keys: string[]; strings: string[] } {
  const keys = new Set(['event', 'process', 'binary', 'network', 'dport', 'metadata', 'name']);
  const strings = new Set(['/bin/sh', '/usr/bin/curl', 'prod-a', 'pod-1', '']);
  for (const { expression } of list) {
    for (const m of expression.matchAll(/[A-Za-z_][A-Za-z0-9_]*/g)) keys.add(m[0]);
    for (const m of expression.matchAll(/'([^'\\]*)'/g)) strings.add(m[1]!);
  }
  return { keys: [...keys], strings: [...strings] };
}

function jsonValue(keys: string[], strings: string[]): fc.Arbitrary<unknown> {
  const scalar = fc.oneof(
    fc.constantFrom(...strings),
    fc.string({ maxLength: 6 }),
    fc.integer({ min: -3, max: 70000 }),
    fc.constantFrom(0, 53, 443, 1000, 1.5, -0.5, 2 ** 60, Number.NaN),
    fc.boolean(),
    fc.constant(null),
  );
  const { value } = fc.letrec((tie) => ({
    value: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      scalar,
      scalar,
      fc.array(tie('value'), { maxLength: 3 }),
      fc.dictionary(fc.constantFrom(...keys), tie('value'), { maxKeys: 5 }),
    ),
  }));
  return value;
}

/** The outcome as data: the value, or the error's class and message. */
function outcome(run: () => unknown): unknown {
  try {
    return { value: run() };
  } catch (e) {
    return { error: `${(e as Error).constructor.name}: ${(e as Error).message}` };
  }
}

/** Bindings as the runtime engine hands them over: CEL values by getter, JSON through RAW_BINDING. */
class RawBindings extends PreparedActivation {
  constructor(private readonly json: Record<string, unknown>) {
    super();
    for (const key of Object.keys(json))
      Object.defineProperty(this, key, { enumerable: true, get: () => toCel(json[key]) });
  }

  [RAW_BINDING](name: string): unknown {
    return name === 'event' || name === 'object' ? this.json[name] : NOT_RAW;
  }
}

function compare(list: readonly Pair[], runs: number): { decided: number; total: number } {
  const { keys, strings } = vocabulary(list);
  const json = jsonValue(keys, strings);
  // Mostly event-shaped (so paths resolve and values compare), with any JSON in any place.
  const field = (typical: fc.Arbitrary<unknown>) => fc.oneof({ weight: 4, arbitrary: typical }, json);
  const str = fc.constantFrom(...strings);
  const int = fc.constantFrom(0, 53, 80, 443, 1000, 1024, 65535, 70000, -1);
  const shaped = fc.record(
    {
      process: field(
        fc.record(
          { binary: field(str), uid: field(int), arguments: field(str), privileged: field(fc.boolean()) },
          { requiredKeys: [] },
        ),
      ),
      network: field(fc.record({ dport: field(int), sport: field(int) }, { requiredKeys: [] })),
      file: field(fc.record({ path: field(str) }, { requiredKeys: [] })),
      alert: field(fc.record({ rule: field(str) }, { requiredKeys: [] })),
      container: field(fc.constant(null)),
      pod: field(fc.record({ name: field(str) }, { requiredKeys: [] })),
    },
    { requiredKeys: [] },
  );
  const object = fc.record({
    metadata: field(fc.record({ namespace: field(str), name: field(str) }, { requiredKeys: [] })),
  });
  const activation = fc.record({
    event: fc.oneof({ weight: 3, arbitrary: shaped }, json),
    object: fc.oneof({ weight: 3, arbitrary: object }, json),
    behavior: fc.constantFrom('process-exec', 'network-connect', 7),
  });
  const variables = compileCelVariables(VARIABLES);
  let decided = 0;
  let total = 0;
  fc.assert(
    fc.property(fc.constantFrom(...list), activation, ({ expression, fast, slow }, act) => {
      const activations: (() => Record<string, unknown>)[] = [
        () => act,
        () => new RawBindings(act) as unknown as Record<string, unknown>,
        () => variables.bind(new RawBindings(act) as unknown as Record<string, unknown>),
      ];
      for (const make of activations) {
        const want = outcome(() => slow.evaluateRaw(make()));
        const got = outcome(() => fast.evaluateRaw(make()));
        assert.deepEqual(
          got,
          want,
          `${expression} on ${JSON.stringify(act, (_, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v))}`,
        );
        total++;
        if ('value' in (want as object)) decided++;
      }
    }),
    { numRuns: runs, seed: 20261205 },
  );
  return { decided, total };
}

test('the direct evaluator accepts the everyday expressions and the bench policies', () => {
  assert.equal(written.length, WRITTEN.length, 'every written expression is in the subset');
});

test('written expressions: the same value or error as cel-js on random events, JSON and CEL bindings', () => {
  const { decided, total } = compare(written, 4000);
  // Not a vacuous comparison: a good share of the evaluations produce a value.
  assert.ok(decided > total / 5, `${decided} of ${total} evaluations produced a value`);
});

test('conformance-corpus expressions in the subset: the same value or error as cel-js', () => {
  assert.ok(corpus.length >= 5, `${corpus.length} corpus expressions are in the subset`);
  compare(corpus, 3000);
});

test('a missing key, a wrong type or a non-boolean operand is left to cel-js and errors as it does', () => {
  const [p] = pairs(["event.process.binary.startsWith('/bin/') || event.process.uid == 0"]);
  assert.ok(p);
  for (const act of [
    { event: {} },
    { event: { process: { binary: 7, uid: 0 } } },
    { event: { process: 'x' } },
    { event: { process: { binary: '/bin/sh' } } },
  ])
    assert.deepEqual(
      outcome(() => p.fast.evaluateRaw(act)),
      outcome(() => p.slow.evaluateRaw(act)),
    );
  assert.match(
    JSON.stringify(outcome(() => p.fast.evaluateRaw({ event: {} }))),
    /CelEvaluationError.*No such key: process/,
  );
});

test('event text is data: a value that looks like CEL is compared, never evaluated', () => {
  const [p] = pairs(["event.process.binary == '/bin/sh'"]);
  assert.ok(p);
  for (const binary of ["'/bin/sh'", "/bin/sh' || true || '", 'event.process.binary', '/bin/sh'])
    assert.equal(p.fast.evaluateRaw({ event: { process: { binary } } }), binary === '/bin/sh');
});

/** Bindings whose CEL values cel-js would read throw: only the direct evaluator (JSON) can answer. */
class FastOnlyBindings extends PreparedActivation {
  constructor(private readonly json: Record<string, unknown>) {
    super();
    for (const key of Object.keys(json))
      Object.defineProperty(this, key, {
        enumerable: true,
        get: () => {
          throw new Error('cel-js read the bindings');
        },
      });
  }

  [RAW_BINDING](name: string): unknown {
    return name === 'event' ? this.json[name] : NOT_RAW;
  }
}

test('an error beside a decisive side of && or || is absorbed by the direct evaluator, as cel-js absorbs it', () => {
  const cases: [string, Record<string, unknown>, boolean][] = [
    // The bench's policy on an exec event: no alert, so the right side would fail on `event.alert.rule`.
    ["!has(event.alert) || !event.alert.rule.startsWith('Terminal shell')", { process: { uid: 0 } }, true],
    // A failing left side beside a decisive right side.
    ["event.alert.rule.startsWith('Terminal') || event.process.uid == 0", { process: { uid: 0 } }, true],
    [
      "event.network.dport in [443] && event.process.binary == '/bin/sh'",
      { process: { binary: '/bin/ls' } },
      false,
    ],
    // A left side of another type (a string is no bool).
    ['event.process.binary || event.process.uid == 0', { process: { binary: '/bin/sh', uid: 0 } }, true],
  ];
  for (const [expression, event, want] of cases) {
    const fast = compileCel(expression);
    const slow = compileCel(expression, { fastPath: false });
    assert.ok(fast.fastPath, expression);
    assert.equal(slow.evaluateRaw({ event }), want, `cel-js: ${expression}`);
    assert.equal(
      fast.evaluateRaw(new FastOnlyBindings({ event }) as unknown as Record<string, unknown>),
      want,
      `direct: ${expression}`,
    );
  }
});

test('a missing key is reported by the direct evaluator with the error cel-js raises, through && and ||', () => {
  const cases: [string, Record<string, unknown>, RegExp][] = [
    // The bench's policy on a network-connect event without a network block: both sides fail.
    [
      '!has(event.network.dport) || event.network.dport in [443, 53]',
      { process: {} },
      /No such key: network$/,
    ],
    ["event.alert.rule == 'x' && event.process.uid == 0", { process: { uid: 0 } }, /No such key: alert$/],
    // A known left side, then the right side's error; a left side's error beside a boolean right side.
    ["false || event.process.binary.startsWith('/bin/')", { process: {} }, /No such key: binary$/],
    [
      "event.process.uid == 0 || event.process.binary == '/bin/sh'",
      { process: { binary: '/bin/ls' } },
      /No such key: uid$/,
    ],
    // A call's argument is evaluated before its receiver, as cel-js does.
    ['event.process.arguments.startsWith(event.process.binary)', { process: {} }, /No such key: binary$/],
  ];
  for (const [expression, event, want] of cases) {
    const fast = compileCel(expression);
    const slow = compileCel(expression, { fastPath: false });
    const viaCelJs = outcome(() => slow.evaluateRaw({ event }));
    const direct = outcome(() =>
      fast.evaluateRaw(new FastOnlyBindings({ event }) as unknown as Record<string, unknown>),
    );
    assert.deepEqual(direct, viaCelJs, expression);
    assert.match((direct as { error?: string }).error ?? '', want, expression);
  }
});
