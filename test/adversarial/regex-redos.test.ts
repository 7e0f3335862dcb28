/**
 * ReDoS through policy regexes and the engine's own parsers. The attacker runs a process whose binary path or
 * argument is crafted for a backtracking engine; the event reaches the real adapter (a Tetragon exec line) and
 * the real engine with a policy as an operator would write it. Before RE2 the first attack held the only engine
 * thread for tens of seconds and the second for seconds per event; the bounds below are generous on purpose:
 * they catch exponential or quadratic time, not a slow machine.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createRuntimeEngine } from '../../src/engine/runtime/index.js';
import { compileJmesPath } from '../../src/engine/jmespath/index.js';
import { parseGoDuration, validateRange } from '../../src/engine/conditions/operators.js';
import { goParseFloat } from '../../src/engine/pattern/go-values.js';
import { goTrimSpace } from '../../src/engine/pattern/anchor.js';
import { parseCgroupPath } from '../../src/sources/sensor/cgroup.js';
import { adaptLine } from '../../src/events/adapters/index.js';
import type { RuntimeEvent } from '../../src/events/types.js';
import { loadPolicyText } from '../../src/policy/index.js';

const BOUND_MS = 2000;

const sample = readFileSync(
  fileURLToPath(new URL('../../../shared/samples/tetragon/testdata-events.jsonl', import.meta.url)),
  'utf8',
).split('\n')[0]!;

/** The sample exec event with the attacker's binary and arguments, as Tetragon would send it. */
function execEvent(binary: string, args: string): RuntimeEvent {
  const line = JSON.parse(sample) as { process_exec: { process: Record<string, unknown> } };
  line.process_exec.process['binary'] = binary;
  line.process_exec.process['arguments'] = args;
  const outcome = adaptLine(JSON.stringify(line), 'tetragon');
  assert.equal(outcome.kind, 'events');
  return outcome.events[0]!;
}

function policy(name: string, restrict: string): string {
  return `apiVersion: runtime.kyverno.io/v1alpha1
kind: ClusterRuntimePolicy
metadata:
  name: ${name}
spec:
  rules:
    - name: r
      match: {any: [{resources: {kinds: [Pod]}}]}
      restrict:
        behaviors: [process-exec]
${restrict}`;
}

function engineFor(text: string): ReturnType<typeof createRuntimeEngine> {
  const loaded = loadPolicyText(text, 'policy.yaml');
  assert.deepEqual(loaded.errors, []);
  return createRuntimeEngine(loaded.policies);
}

function timed<T>(fn: () => T): { value: T; ms: number } {
  const start = performance.now();
  const value = fn();
  return { value, ms: performance.now() - start };
}

const NESTED_QUANTIFIER = policy(
  'nested-quantifier',
  `        cel:
          expressions:
            - expression: "event.process.binary.matches('^/usr/bin/(a+)+$')"
`,
);

test('CEL matches with a nested quantifier runs in linear time on a crafted 31-character binary', () => {
  const engine = engineFor(NESTED_QUANTIFIER);
  const evil = `/usr/bin/${'a'.repeat(21)}!`;
  assert.equal(evil.length, 31);
  const { value, ms } = timed(() => engine.evaluate(execEvent(evil, '')));
  assert.deepEqual(value, []);
  assert.ok(ms < BOUND_MS, `took ${ms} ms`);
  assert.equal(engine.takeRuleErrors().count, 0);
});

test('CEL matches with a nested quantifier stays linear on a 64 KiB binary path', () => {
  const engine = engineFor(NESTED_QUANTIFIER);
  const { value, ms } = timed(() => engine.evaluate(execEvent(`/usr/bin/${'a'.repeat(65536)}!`, '')));
  assert.deepEqual(value, []);
  assert.ok(ms < BOUND_MS, `took ${ms} ms`);
});

test('CEL matches still reports the binary the pattern describes', () => {
  const engine = engineFor(NESTED_QUANTIFIER);
  assert.equal(engine.evaluate(execEvent('/usr/bin/aaaa', '')).length, 1);
  assert.equal(engine.evaluate(execEvent('/usr/sbin/aaaa', '')).length, 0);
});

const EMAIL = '[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\\\\.[A-Za-z]{2,}';

test('JMESPath regex_match with an email-like pattern is linear over a 50k-character argument', () => {
  const engine = engineFor(
    policy(
      'email-in-args',
      `        conditions:
          all:
            - key: "{{ regex_match('${EMAIL}', event.process.args[0]) }}"
              operator: Equals
              value: true
`,
    ),
  );
  const { value, ms } = timed(() => engine.evaluate(execEvent('/usr/bin/mail', 'a'.repeat(50_000))));
  assert.deepEqual(value, []);
  assert.ok(ms < BOUND_MS, `took ${ms} ms`);
  assert.equal(engine.evaluate(execEvent('/usr/bin/mail', 'bob@example.com')).length, 1);
});

test('CEL matches with an email-like pattern is linear over a 50k-character argument', () => {
  const engine = engineFor(
    policy(
      'email-in-args-cel',
      `        cel:
          expressions:
            - expression: "event.process.args.exists(a, a.matches(r'${EMAIL}'))"
`,
    ),
  );
  const { value, ms } = timed(() => engine.evaluate(execEvent('/usr/bin/mail', `${'a.'.repeat(25_000)}@`)));
  assert.deepEqual(value, []);
  assert.ok(ms < BOUND_MS, `took ${ms} ms`);
  assert.equal(engine.evaluate(execEvent('/usr/bin/mail', 'x bob@example.com')).length, 1);
});

test('a pattern taken from the event that RE2 rejects is a counted rule error, not a crash', () => {
  const engine = engineFor(
    policy(
      'pattern-from-event',
      `        cel:
          expressions:
            - expression: "event.process.binary.matches(event.process.args[0])"
`,
    ),
  );
  // Lookahead: JavaScript has it, RE2 does not.
  assert.deepEqual(engine.evaluate(execEvent('/usr/bin/aa', 'a(?=a)')), []);
  const errors = engine.takeRuleErrors();
  assert.equal(errors.count, 1);
  assert.equal(errors.recent[0]?.reason, 'cel');
  assert.match(errors.recent[0]?.message ?? '', /invalid or unsupported Perl syntax/);
  // A pattern over the length limit is refused the same way, before any compile work.
  assert.deepEqual(engine.evaluate(execEvent('/usr/bin/aa', 'a'.repeat(5000))), []);
  assert.match(engine.takeRuleErrors().recent[0]?.message ?? '', /over the limit of 4096/);
  // A valid one from the event still works.
  assert.equal(engine.evaluate(execEvent('/usr/bin/aa', '^/usr/bin/a+$')).length, 1);
});

test('a time_parse layout from the event cannot backtrack exponentially', () => {
  // `1` is a Go layout token for the month: forty of them were forty `(\d{1,2})` groups in a JS RegExp.
  const query = compileJmesPath('time_parse(layout, value)');
  const { ms } = timed(() =>
    assert.throws(
      () => query({ layout: `x${'1'.repeat(40)}`, value: `x${'1'.repeat(60)}y` }),
      /parsing time/,
    ),
  );
  assert.ok(ms < BOUND_MS, `took ${ms} ms`);
  assert.equal(
    compileJmesPath("time_parse('2006-01-02 15:04', '2024-03-05 07:08')")({}),
    '2024-03-05T07:08:00Z',
  );
});

test('number, duration and range shapes read a long event value in linear time', () => {
  const digits = '1'.repeat(200_000);
  const { ms } = timed(() => {
    assert.equal(parseGoDuration(`${digits}x`), undefined);
    assert.equal(goParseFloat(`${digits}x`), undefined);
    assert.equal(goParseFloat(`${digits}x`), undefined);
    assert.equal(goParseFloat(`${'1_1'.repeat(60_000)}x`), undefined);
    assert.equal(validateRange('5', `${digits}x`), false);
    assert.equal(validateRange('5', `1-${digits}-`), false);
    assert.equal(goTrimSpace(`${' '.repeat(200_000)}x`), 'x');
  });
  assert.ok(ms < BOUND_MS, `took ${ms} ms`);
  // The rewritten shapes accept what they accepted before.
  assert.equal(parseGoDuration('1.5h2m'), 5_520_000_000_000);
  assert.equal(parseGoDuration('12.s'), 12_000_000_000);
  assert.equal(goParseFloat('12.'), 12);
  assert.equal(goParseFloat('.5e3'), 500);
  assert.equal(goParseFloat('1.25'), 1.25);
  assert.equal(goParseFloat('1.2.3'), undefined);
  assert.equal(validateRange('5', '1-10'), true);
  assert.equal(validateRange('5', '1!-10'), false);
  assert.equal(goTrimSpace('\u3000 a b\t\n'), 'a b');
});

test('a deep delegated cgroup path is parsed in bounded time and still names the container', () => {
  const id = 'ab'.repeat(32);
  const deep = `/kubepods.slice/cri-containerd-${id}.scope${'/x'.repeat(4000)}`;
  const { value, ms } = timed(() => parseCgroupPath(deep));
  assert.ok(ms < BOUND_MS, `took ${ms} ms`);
  // The container is more than 16 levels above: not searched that far.
  assert.equal(value.containerId, undefined);
  assert.equal(parseCgroupPath(`/kubepods.slice/cri-containerd-${id}.scope/init.scope`).containerId, id);
  const { ms: slashes } = timed(() => parseCgroupPath(`${'/'.repeat(200_000)}x`));
  assert.ok(slashes < BOUND_MS, `took ${slashes} ms`);
});
