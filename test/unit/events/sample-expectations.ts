/**
 * Table-driven checks of the captured tool samples: each sample file has one expectation per non-blank
 * line, written by reading the sample (never computed by the adapter). A file whose line count does
 * not match its table fails, so no line goes untested.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { adaptLine, type AdaptOptions, type SourceFormat } from '../../../src/events/adapters/index.js';
import type { Behavior, RuntimeEvent } from '../../../src/events/types.js';
import { validateRuntimeEvent } from '../../../src/events/validate.js';

export const SAMPLES_DIR = fileURLToPath(new URL('../../../../shared/samples/', import.meta.url));

export type Expectation =
  | { skip: string }
  | {
      behavior: Behavior;
      /** "namespace/name"; null = no pod. */
      pod?: string | null;
      node?: string | null;
      time?: string;
      binary?: string;
      args?: string[];
      pid?: number;
      uid?: number;
      containerId?: string;
      containerName?: string;
      image?: string;
      labels?: Record<string, string>;
      workload?: string;
      parentBinary?: string;
      network?: RuntimeEvent['network'];
      file?: RuntimeEvent['file'];
      mount?: RuntimeEvent['mount'];
      privilege?: RuntimeEvent['privilege'];
      module?: string;
      /** alert.rule; null = no alert block. */
      rule?: string | null;
      priority?: string;
      tags?: string[];
      enforced?: boolean;
      sourceEvent?: string;
    };

export interface SampleLine {
  line: number;
  text: string;
}

export function sampleLines(relative: string): SampleLine[] {
  const text = readFileSync(SAMPLES_DIR + relative, 'utf8');
  return text
    .split('\n')
    .map((t, i) => ({ line: i + 1, text: t }))
    .filter((l) => l.text.trim().length > 0);
}

/** Adapts one sample line and checks it against its expectation; returns the event when emitted. */
export function checkSampleLine(
  relative: string,
  sample: SampleLine,
  expected: Expectation,
  format: SourceFormat | 'auto' = 'auto',
  options: AdaptOptions = {},
): RuntimeEvent | undefined {
  const where = `${relative}:${sample.line}`;
  const outcome = adaptLine(sample.text, format, options);
  if ('skip' in expected) {
    assert.equal(
      outcome.kind,
      'skipped',
      `${where}: expected skip ${expected.skip}, got ${JSON.stringify(outcome).slice(0, 300)}`,
    );
    if (outcome.kind === 'skipped')
      assert.equal(outcome.reason, expected.skip, `${where}: ${outcome.detail}`);
    return undefined;
  }
  assert.equal(
    outcome.kind,
    'events',
    `${where}: ${outcome.kind === 'skipped' ? `${outcome.reason}: ${outcome.detail}` : ''}`,
  );
  if (outcome.kind !== 'events') return undefined;
  assert.equal(outcome.events.length, 1, where);
  const e = outcome.events[0]!;
  const eq = (actual: unknown, want: unknown, field: string): void =>
    assert.deepEqual(actual, want, `${where} ${field}`);

  eq(e.behavior, expected.behavior, 'behavior');
  if (expected.pod !== undefined) {
    eq(e.pod?.name === undefined ? null : `${e.pod.namespace ?? ''}/${e.pod.name}`, expected.pod, 'pod');
  }
  if (expected.node !== undefined) eq(e.node ?? null, expected.node, 'node');
  if (expected.time !== undefined) eq(e.time, expected.time, 'time');
  if (expected.binary !== undefined) eq(e.process?.binary, expected.binary, 'process.binary');
  if (expected.args !== undefined) eq(e.process?.args, expected.args, 'process.args');
  if (expected.pid !== undefined) eq(e.process?.pid, expected.pid, 'process.pid');
  if (expected.uid !== undefined) eq(e.process?.uid, expected.uid, 'process.uid');
  if (expected.containerId !== undefined) eq(e.container?.id, expected.containerId, 'container.id');
  if (expected.containerName !== undefined) eq(e.container?.name, expected.containerName, 'container.name');
  if (expected.image !== undefined) eq(e.container?.image, expected.image, 'container.image');
  if (expected.labels !== undefined) eq(e.pod?.labels, expected.labels, 'pod.labels');
  if (expected.workload !== undefined) eq(e.pod?.workload, expected.workload, 'pod.workload');
  if (expected.parentBinary !== undefined) eq(e.parent?.binary, expected.parentBinary, 'parent.binary');
  if (expected.network !== undefined) eq(e.network, expected.network, 'network');
  if (expected.file !== undefined) eq(e.file, expected.file, 'file');
  if (expected.mount !== undefined) eq(e.mount, expected.mount, 'mount');
  if (expected.privilege !== undefined) eq(e.privilege, expected.privilege, 'privilege');
  if (expected.module !== undefined) eq(e.module?.name, expected.module, 'module.name');
  if (expected.rule !== undefined) eq(e.alert?.rule ?? null, expected.rule, 'alert.rule');
  if (expected.priority !== undefined) eq(e.alert?.priority, expected.priority, 'alert.priority');
  if (expected.tags !== undefined) eq(e.alert?.tags, expected.tags, 'alert.tags');
  if (expected.enforced !== undefined) eq(e.enforced === true, expected.enforced, 'enforced');
  if (expected.sourceEvent !== undefined) eq(e.sourceEvent, expected.sourceEvent, 'sourceEvent');

  // Every emitted event is a valid RuntimeEvent as published (raw included, it is free-form).
  const validation = validateRuntimeEvent(JSON.parse(JSON.stringify(e)));
  assert.ok(validation.ok, `${where}: schema: ${validation.ok ? '' : validation.errors.join('; ')}`);
  assert.ok(e.raw !== undefined, `${where}: raw kept`);
  return e;
}

/**
 * Registers one test per sample line ("<file>:<line> → <behavior or skip reason>") plus one that
 * the table has exactly one row per non-blank line.
 */
export function describeSampleFile(
  relative: string,
  table: readonly Expectation[],
  format: SourceFormat | 'auto' = 'auto',
  options: AdaptOptions = {},
): void {
  const lines = sampleLines(relative);
  describe(relative, () => {
    it('has one expectation per non-blank line', () => {
      assert.equal(
        table.length,
        lines.length,
        `${relative}: ${lines.length} lines but ${table.length} expectations`,
      );
    });
    lines.forEach((sample, i) => {
      const expected = table[i];
      if (!expected) return;
      const label = 'skip' in expected ? `skipped: ${expected.skip}` : expected.behavior;
      it(`${relative}:${sample.line} → ${label}`, () => {
        checkSampleLine(relative, sample, expected, format, options);
      });
    });
  });
}
