// Runs the benchmarks in bench/ one after another (or the ones named: node scripts/run-benches.mjs engine ingest).
import { readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

const wanted = process.argv.slice(2);
/** Modules the benchmarks import, not benchmarks themselves. */
const HELPERS = new Set(['support.ts', 'compiled.ts']);
const benches = readdirSync('bench')
  .filter((f) => f.endsWith('.ts') && !HELPERS.has(f))
  .filter((f) => wanted.length === 0 || wanted.includes(f.replace(/\.ts$/, '')))
  .sort();
let failed = 0;
for (const file of benches) {
  console.log(`\n=== bench/${file}`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', `bench/${file}`], { stdio: 'inherit' });
  if (r.status !== 0) failed++;
}
process.exit(failed === 0 ? 0 : 1);
