import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { runRuntimeTest } from '../../../src/cli/runtime-test.js';

const examples = new URL('../../../docs/examples/', import.meta.url).pathname;

for (const name of readdirSync(examples, { withFileTypes: true }).filter((d) => d.isDirectory())) {
  test(`docs/examples/${name.name}: its runtime test passes`, async () => {
    const file = join(examples, name.name, 'kyverno-test.yaml');
    const result = await runRuntimeTest(file, parse(readFileSync(file, 'utf8')));
    assert.deepEqual(result.errors, []);
    assert.ok(result.cases.length > 0);
    for (const c of result.cases) assert.ok(c.ok, `${c.policy}/${c.rule} on ${c.resource}: ${c.reason}`);
    // Every event line of an example is understood: none skipped.
    for (const r of result.replay) assert.deepEqual(r.skipped, {}, JSON.stringify(r.skips));
  });
}
