/**
 * Property-based robustness (fast-check): whatever comes in — arbitrary JSON, arbitrary text,
 * truncated sample lines, a real sample with any field replaced by a value of the wrong type —
 * every adapter returns a well-formed AdaptOutcome, never throws internally (no "adapter-error"),
 * and every event it does emit is valid against the published RuntimeEvent schema.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  adaptLine,
  adaptRecord,
  SKIP_REASONS,
  SOURCE_FORMATS,
  type AdaptOutcome,
  type SourceFormat,
} from '../../../src/events/adapters/index.js';
import { validateRuntimeEvent } from '../../../src/events/validate.js';
import { SAMPLES_DIR } from './sample-expectations.js';

const REASONS = new Set<string>(Object.values(SKIP_REASONS));
const FORMATS: (SourceFormat | 'auto')[] = ['auto', ...SOURCE_FORMATS];

function assertWellFormed(outcome: AdaptOutcome, context: string): void {
  if (outcome.kind === 'skipped') {
    assert.ok(REASONS.has(outcome.reason), `${context}: unknown reason ${outcome.reason}`);
    assert.notEqual(outcome.reason, 'adapter-error', `${context}: adapter threw: ${outcome.detail}`);
    assert.equal(typeof outcome.detail, 'string');
    return;
  }
  assert.equal(outcome.kind, 'events', context);
  assert.ok(Array.isArray(outcome.events));
  for (const event of outcome.events) {
    const { raw: _raw, ...rest } = event;
    const result = validateRuntimeEvent(JSON.parse(JSON.stringify(rest)));
    assert.ok(result.ok, `${context}: invalid event: ${result.ok ? '' : result.errors.join('; ')}`);
  }
}

function allSampleLines(): { where: string; text: string }[] {
  const out: { where: string; text: string }[] = [];
  for (const dir of readdirSync(SAMPLES_DIR)) {
    for (const file of readdirSync(SAMPLES_DIR + dir)) {
      if (file.endsWith('.md')) continue;
      readFileSync(`${SAMPLES_DIR}${dir}/${file}`, 'utf8')
        .split('\n')
        .forEach((text, i) => {
          if (text.trim()) out.push({ where: `${dir}/${file}:${i + 1}`, text });
        });
    }
  }
  return out;
}

const SAMPLE_LINES = allSampleLines();
const JSON_SAMPLES = SAMPLE_LINES.filter((l) => l.text.startsWith('{'));

/** Every path to every value (objects and arrays included) of a JSON document. */
function paths(
  value: unknown,
  prefix: (string | number)[] = [],
  out: (string | number)[][] = [],
): (string | number)[][] {
  if (prefix.length > 0) out.push(prefix);
  if (Array.isArray(value)) value.forEach((v, i) => paths(v, [...prefix, i], out));
  else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) paths(v, [...prefix, k], out);
  }
  return out;
}

function replaceAt(doc: unknown, path: (string | number)[], replacement: unknown): unknown {
  const copy = structuredClone(doc) as Record<string | number, unknown>;
  let node: Record<string | number, unknown> = copy;
  for (const key of path.slice(0, -1)) node = node[key] as Record<string | number, unknown>;
  node[path[path.length - 1]!] = replacement;
  return copy;
}

describe('adapters never throw', () => {
  it('arbitrary JSON values, every format', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 4 }), fc.constantFrom(...FORMATS), (value, format) => {
        assertWellFormed(adaptRecord(value, format), `${format} ${JSON.stringify(value).slice(0, 200)}`);
      }),
      { numRuns: 600 },
    );
  });

  it('arbitrary objects shaped like each tool (right keys, random values)', () => {
    const keys = fc.constantFrom(
      'process_exec',
      'process_kprobe',
      'process_lsm',
      'process_tracepoint',
      'node_name',
      'time',
      'rule',
      'Rule',
      'priority',
      'output',
      'output_fields',
      'tags',
      'Operation',
      'HostName',
      'Type',
      'Resource',
      'Data',
      'Action',
      'eventName',
      'processId',
      'timestamp',
      'args',
      'name',
      'workload',
      'data',
      'threat',
      'specversion',
      'id',
      'source',
      'type',
      'behavior',
      'process',
      'function_name',
      'pod',
    );
    fc.assert(
      fc.property(
        fc.dictionary(keys, fc.jsonValue({ maxDepth: 3 }), { maxKeys: 8 }),
        fc.constantFrom(...FORMATS),
        (value, format) => {
          assertWellFormed(adaptRecord(value, format), `${format} ${JSON.stringify(value).slice(0, 200)}`);
        },
      ),
      { numRuns: 800 },
    );
  });

  it('arbitrary strings as lines', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), fc.constantFrom(...FORMATS), (line, format) => {
        assertWellFormed(adaptLine(line, format), `${format} ${JSON.stringify(line)}`);
      }),
      { numRuns: 500 },
    );
  });

  it('truncated sample lines', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...SAMPLE_LINES),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (sample, cut) => {
          const line = sample.text.slice(0, Math.floor(sample.text.length * cut));
          const outcome = adaptLine(line, 'auto');
          assertWellFormed(outcome, `${sample.where} cut at ${line.length}`);
        },
      ),
      { numRuns: 600 },
    );
  });

  it('a real sample with any one field replaced by a value of another type', () => {
    const docs = JSON_SAMPLES.map((s) => ({ where: s.where, doc: JSON.parse(s.text) as unknown }));
    const cases = docs.flatMap(({ where, doc }) => paths(doc).map((path) => ({ where, doc, path })));
    fc.assert(
      fc.property(
        fc.constantFrom(...cases),
        fc.jsonValue({ maxDepth: 2 }),
        fc.constantFrom<SourceFormat | 'auto'>('auto', 'tetragon', 'falco', 'kubearmor', 'tracee'),
        ({ where, doc, path }, replacement, format) => {
          const mutated = replaceAt(doc, path, replacement);
          assertWellFormed(
            adaptRecord(mutated, format),
            `${where} ${path.join('.')} := ${JSON.stringify(replacement).slice(0, 80)}`,
          );
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('every sample line adapts without an internal error in every format', () => {
    for (const sample of SAMPLE_LINES) {
      for (const format of FORMATS)
        assertWellFormed(adaptLine(sample.text, format), `${format} ${sample.where}`);
    }
  });
});
