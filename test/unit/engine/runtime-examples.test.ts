import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { runRuntimeTest } from '../../../src/cli/runtime-test.js';
import { runTestFiles } from '../../../src/policy/kyverno-test/index.js';

const examples = new URL('../../../docs/examples/', import.meta.url).pathname;

for (const name of readdirSync(examples, { withFileTypes: true }).filter((d) => d.isDirectory())) {
  test(`docs/examples/${name.name}: its runtime test passes`, async () => {
    const file = join(examples, name.name, 'kyverno-test.yaml');
    const doc = parse(readFileSync(file, 'utf8')) as { kind?: string };
    if (doc.kind === 'Test') {
      // A Kyverno CLI test file, judged strictly: every expected result must be produced.
      const [report] = await runTestFiles([file], { strict: true });
      assert.ok(report);
      assert.equal(report.error, undefined);
      assert.deepEqual(report.policyErrors, []);
      assert.ok(report.cases.length > 0);
      for (const c of report.cases) assert.ok(c.ok, `${c.policy}/${c.rule} on ${c.resource}: ${c.reason}`);
      return;
    }
    const result = await runRuntimeTest(file, doc);
    assert.deepEqual(result.errors, []);
    assert.ok(result.cases.length > 0);
    for (const c of result.cases) assert.ok(c.ok, `${c.policy}/${c.rule} on ${c.resource}: ${c.reason}`);
    // Every event line of an example is understood: none skipped.
    for (const r of result.replay) assert.deepEqual(r.skipped, {}, JSON.stringify(r.skips));
  });
}
