import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { registry } from '../../../src/observability/metrics.js';

/** Imports every module under src/ that registers metrics, so the registry holds them all. */
async function loadMetricModules(dir: string): Promise<void> {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== 'web') await loadMetricModules(path);
    } else if (entry.name.endsWith('.ts') && /registers: \[registry\]/.test(readFileSync(path, 'utf8'))) {
      await import(pathToFileURL(path).href);
    }
  }
}

it('every metric kyverno-runtime registers is listed in docs/metrics.md', async () => {
  await loadMetricModules('src');
  const doc = readFileSync('docs/metrics.md', 'utf8');
  const ours = registry
    .getMetricsAsArray()
    .map((m) => m.name)
    .filter((name) => name.startsWith('kyverno_runtime_'))
    // prom-client's default collectors are documented as one group, by their prefix.
    .filter((name) => !name.startsWith('kyverno_runtime_process_'));
  assert.ok(doc.includes('`kyverno_runtime_process_`'), 'the default collectors prefix is documented');
  assert.ok(ours.length >= 20, `only ${ours.length} metrics registered: the loader missed modules`);
  const missing = ours.filter((name) => !doc.includes(`\`${name}\``));
  assert.deepEqual(missing, [], 'undocumented metrics');
});
