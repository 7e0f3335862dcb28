/**
 * docs/events.md stays true: every row of the mapping tables and every skip reason is documented,
 * and the JSON examples in the page are accepted as documented.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { FALCO_EVT_TYPES, FALCO_RULES } from '../../../src/events/adapters/falco-rules.js';
import { adaptRecord, SKIP_REASONS } from '../../../src/events/adapters/index.js';
import { TETRAGON_HOOKS } from '../../../src/events/adapters/tetragon-hooks.js';
import { TRACEE_EVENTS } from '../../../src/events/adapters/tracee.js';

const DOC = readFileSync(new URL('../../../docs/events.md', import.meta.url), 'utf8');

describe('docs/events.md', () => {
  it('documents every Tetragon hook, Falco rule and evt.type, and Tracee event of the tables', () => {
    const missing = [
      ...Object.keys(TETRAGON_HOOKS).map((k) => `\`${k}\``),
      ...Object.keys(FALCO_RULES),
      ...Object.keys(FALCO_EVT_TYPES).map((k) => `\`${k}\``),
      ...Object.keys(TRACEE_EVENTS).map((k) => `\`${k}\``),
    ].filter((needle) => !DOC.includes(needle));
    assert.deepEqual(missing, []);
  });

  it('documents every skip reason', () => {
    const missing = Object.values(SKIP_REASONS).filter((r) => !DOC.includes(`| \`${r}\` |`));
    assert.deepEqual(missing, []);
  });

  it('has JSON examples that are accepted as documented', () => {
    const blocks = [...DOC.matchAll(/```json\n([\s\S]*?)```/g)].map((m) => JSON.parse(m[1]!) as unknown);
    assert.equal(blocks.length, 2);
    const [line, cloudEvent] = blocks;
    const a = adaptRecord(line, 'auto');
    assert.equal(a.kind === 'events' && a.format, 'runtime');
    const b = adaptRecord(cloudEvent, 'auto');
    assert.equal(b.kind === 'events' && b.format, 'cloudevents');
    assert.equal(b.kind === 'events' && b.events[0]!.id, 'sensor-1-000042');
  });
});
