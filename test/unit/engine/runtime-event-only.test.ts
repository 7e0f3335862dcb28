/**
 * Rule parts that read only the event are evaluated against `{ behavior, event }` instead of the full
 * runtime view / variable context (src/engine/runtime/event-only.ts), so that the attributed resource
 * is not built for them. That must not change any outcome: the classification is checked on its own,
 * then patterns and conditions are evaluated both ways on the real samples and must agree exactly —
 * result, failure path and message, and the error a missing key raises.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { compileConditions } from '../../../src/engine/conditions/index.js';
import { compilePattern } from '../../../src/engine/pattern/index.js';
import { compileTemplate } from '../../../src/engine/variables/index.js';
import { attributeEvent } from '../../../src/engine/runtime/attribution.js';
import { patternReadsOnlyEvent, variablesReadOnlyEvent } from '../../../src/engine/runtime/event-only.js';
import { runtimeView } from '../../../src/engine/runtime/view.js';
import { adaptLine } from '../../../src/events/adapters/index.js';
import type { RuntimeEvent } from '../../../src/events/types.js';

const samples = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../shared/samples');

function sampleEvents(): RuntimeEvent[] {
  const events: RuntimeEvent[] = [];
  for (const file of [
    'tetragon/docs-current.jsonl',
    'tetragon/testdata-events.jsonl',
    'falco/falco-alerts.jsonl',
  ]) {
    for (const line of readFileSync(path.join(samples, file), 'utf8').split('\n')) {
      const outcome = adaptLine(line, 'auto');
      if (outcome.kind === 'events') events.push(...outcome.events);
    }
  }
  return events;
}

test('patterns naming only event/behavior (anchors included) are event-only; any other key is not', () => {
  assert.equal(patternReadsOnlyEvent({ event: { process: { binary: '*/sh' } } }), true);
  assert.equal(
    patternReadsOnlyEvent({ '=(event)': { file: { path: '/etc/*' } }, behavior: ['file-write'] }),
    true,
  );
  assert.equal(patternReadsOnlyEvent({ 'X(event)': null }), true);
  assert.equal(patternReadsOnlyEvent({ event: {}, metadata: { labels: { app: 'x' } } }), false);
  assert.equal(patternReadsOnlyEvent({ spec: { containers: [{ image: 'nginx' }] } }), false);
  assert.equal(patternReadsOnlyEvent({ '(metadata)': {}, event: {} }), false);
  assert.equal(patternReadsOnlyEvent({}), false);
  assert.equal(patternReadsOnlyEvent([{ event: {} }]), false);
  assert.equal(patternReadsOnlyEvent(undefined), false);
});

test('conditions whose variables are plain event/behavior paths are event-only; anything else is not', () => {
  const cond = (key: string, value: unknown = 'x') => ({ any: [{ key, operator: 'Equals', value }] });
  assert.equal(variablesReadOnlyEvent(cond('{{ event.network.dport }}')), true);
  assert.equal(variablesReadOnlyEvent(cond('{{behavior}}', '{{ event.process.binary }}')), true);
  assert.equal(variablesReadOnlyEvent(cond('literal')), true);
  assert.equal(variablesReadOnlyEvent(cond('{{ request.object.metadata.name }}')), false);
  assert.equal(variablesReadOnlyEvent(cond('{{ container }}')), false);
  assert.equal(variablesReadOnlyEvent(cond('{{ to_string(event.network.dport) }}')), false);
  assert.equal(variablesReadOnlyEvent(cond('{{ event.process.args[0] }}')), false);
  assert.equal(variablesReadOnlyEvent(cond('{{ eventual.x }}')), false);
  assert.equal(variablesReadOnlyEvent(cond('$(./../value)')), false);
  assert.equal(variablesReadOnlyEvent(undefined), false);
});

test('event-only patterns give the same result on { behavior, event } as on the full view', () => {
  const patterns = [
    { event: { process: { binary: '*/sh | */bash' } } },
    { event: { file: { path: '/etc/*' } } },
    { event: { network: { dport: '!443 & !53' } } },
    { event: { alert: { rule: 'Terminal shell*' } } },
    { '=(event)': { process: { '(uid)': 0, binary: '?*' } } },
    { behavior: ['process-exec'], event: { 'X(network)': null } },
    { event: { container: { image: '*:latest' }, pod: { labels: { app: '?*' } } } },
  ];
  const events = sampleEvents();
  assert.ok(events.length > 20, `samples adapted: ${events.length}`);
  let compared = 0;
  for (const raw of patterns) {
    assert.equal(patternReadsOnlyEvent(raw), true, JSON.stringify(raw));
    const pattern = compilePattern(raw);
    for (const event of events) {
      const full = runtimeView(attributeEvent(event, undefined, 'node-a'), event);
      const slim = { behavior: [event.behavior], event };
      assert.deepEqual(pattern.match(slim), pattern.match(full), `${JSON.stringify(raw)} on ${event.id}`);
      compared++;
    }
  }
  assert.equal(compared, patterns.length * events.length);
});

test('event-only messages render the same text, or fail the same way, on { event, behavior }', () => {
  const messages = [
    'bench {{ event.process.binary }}',
    '{{behavior}} by {{ event.process.binary }} to {{ event.network.daddr }}:{{ event.network.dport }}',
    'alert {{ event.alert.rule }} in {{ event.pod.namespace }}',
  ];
  for (const text of messages) {
    assert.equal(variablesReadOnlyEvent(text), true, text);
    const template = compileTemplate(text, { basePath: '/spec/rules/0/restrict/message' });
    for (const event of sampleEvents()) {
      const attribution = attributeEvent(event, undefined, 'node-a');
      const full = {
        request: { object: attribution.resource },
        event,
        behavior: event.behavior,
        container: '',
      };
      const render = (context: Record<string, unknown>): unknown => {
        try {
          return template.render(context);
        } catch (error) {
          return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
        }
      };
      assert.deepEqual(render({ event, behavior: event.behavior }), render(full), `${text} on ${event.id}`);
    }
  }
});

test('event-only conditions give the same result, or the same error, on { event, behavior }', () => {
  const blocks = [
    { any: [{ key: '{{ event.network.dport }}', operator: 'AnyNotIn', value: [443, 53] }] },
    { all: [{ key: '{{ event.process.binary }}', operator: 'Equals', value: '*/sh' }] },
    { any: [{ key: '{{ behavior }}', operator: 'Equals', value: 'process-exec' }] },
    { all: [{ key: '{{ event.alert.rule }}', operator: 'NotEquals', value: 'x' }] },
  ];
  const outcome = (f: () => unknown): unknown => {
    try {
      return { value: f() };
    } catch (error) {
      return { error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) };
    }
  };
  let errors = 0;
  for (const block of blocks) {
    assert.equal(variablesReadOnlyEvent(block), true);
    const conditions = compileConditions(block, { basePath: '/spec/rules/0/restrict/conditions' });
    for (const event of sampleEvents()) {
      const attribution = attributeEvent(event, undefined, 'node-a');
      const full = {
        request: {
          object: attribution.resource,
          operation: 'CONNECT',
          namespace: attribution.ref.namespace ?? '',
        },
        event,
        behavior: event.behavior,
        container: attribution.container ?? '',
      };
      const slim = { event, behavior: event.behavior };
      const expected = outcome(() => conditions.evaluate(full));
      assert.deepEqual(
        outcome(() => conditions.evaluate(slim)),
        expected,
        `${JSON.stringify(block)} on ${event.id}`,
      );
      if ('error' in (expected as object)) errors++;
    }
  }
  assert.ok(errors > 0, 'some sample events lack the keys, so the error path is compared too');
});

test("the engine's pass check (CompiledPattern.test) agrees with match() on every pattern shape", () => {
  const patterns: unknown[] = [
    { event: { process: { binary: '*/sh | */bash' } } },
    { event: { alert: { rule: 'Terminal shell*' } } },
    { '(event)': { '(process)': { binary: '/usr/bin/*' } }, behavior: ['process-exec'] },
    { event: { '(process)': { '(uid)': 0, args: ['-c'] } } },
    { event: { 'X(network)': null } },
    { '<(event)': { process: { binary: '?*' } } },
    { '^(behavior)': ['process-exec'] },
    { metadata: { labels: { 'app*': '?*' } }, spec: { containers: [{ name: '?*' }] } },
    { spec: { '=(containers)': [{ '(name)': 'nonexistent', image: 'x' }] } },
    {
      event: { pod: { namespace: '!kube-system' } },
      metadata: { '=(annotations)': { 'runtime.kyverno.io/*': 'true' } },
    },
    { event: { process: { pid: '>100' } } },
    { event: { process: { binary: '*' } }, spec: { nodeName: '*' } },
  ];
  let passes = 0;
  let others = 0;
  for (const raw of patterns) {
    const pattern = compilePattern(raw);
    for (const event of sampleEvents()) {
      const view = runtimeView(attributeEvent(event, undefined, 'node-a'), event);
      const expected = pattern.match(view).status === 'pass';
      assert.equal(pattern.test(view), expected, `${JSON.stringify(raw)} on ${event.id}`);
      if (expected) passes++;
      else others++;
    }
  }
  assert.ok(passes > 0 && others > 0, `both outcomes exercised (${passes} pass, ${others} not)`);
});
