/**
 * Engine throughput: compiled policy sets of 10, 100 and 1000 Kyverno policies (the conformance corpus's
 * ClusterPolicies, cloned under new names to reach 1000) evaluated against the corpus's resources.
 *
 * One "evaluation" = one resource checked against the whole policy set (match/exclude for every rule,
 * then the rules that apply), which is what an admission request or a re-check does. Single-threaded, so
 * the rate is per core. Baseline in the same run: JSON.parse(JSON.stringify(r)) and structuredClone(r) of
 * the same resources, i.e. the cost of merely copying the input once.
 *
 *   npx tsx bench/engine.ts
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { evaluatePolicy } from '../src/engine/validate/index.js';
import type { CompiledPolicy } from '../src/engine/api/compiled-policy.js';
import { loadPolicyText } from '../src/policy/index.js';
import { percentile, printTable } from './support.js';

const corpus = fileURLToPath(new URL('../../shared/conformance/kyverno-policies', import.meta.url));
const CLASSES = ['tier-a', 'tier-b', 'cel-clusterpolicy'];
const BUDGET_MS = 2500;

type Raw = Record<string, unknown>;
const isObj = (v: unknown): v is Raw => v !== null && typeof v === 'object' && !Array.isArray(v);

function yamlDocs(file: string): Raw[] {
  return parseAllDocuments(readFileSync(file, 'utf8')).flatMap((d) => {
    if (d.errors.length > 0) return [];
    const v = d.toJS() as unknown;
    return isObj(v) ? [v] : [];
  });
}

/** Policy documents (as text, to compile clones) and resources of the corpus. */
function readCorpus(): { policyTexts: string[]; resources: Raw[] } {
  const policyTexts: string[] = [];
  const resources: Raw[] = [];
  for (const cls of CLASSES) {
    for (const folder of readdirSync(join(corpus, cls))) {
      const dir = join(corpus, cls, folder);
      for (const f of readdirSync(dir)) {
        if (!f.endsWith('.yaml') || !statSync(join(dir, f)).isFile()) continue;
        for (const d of yamlDocs(join(dir, f)))
          if (d.kind === 'ClusterPolicy') policyTexts.push(JSON.stringify(d));
      }
      const testDir = join(dir, '.kyverno-test');
      for (const f of readdirSync(testDir)) {
        if (!f.endsWith('.yaml') || f === 'kyverno-test.yaml') continue;
        for (const d of yamlDocs(join(testDir, f)))
          if (typeof d.kind === 'string' && isObj(d.metadata) && d.kind !== 'Values') resources.push(d);
      }
    }
  }
  return { policyTexts, resources };
}

function compileSet(texts: readonly string[], size: number): CompiledPolicy[] {
  const out: CompiledPolicy[] = [];
  for (let i = 0; out.length < size; i++) {
    const doc = JSON.parse(texts[i % texts.length]!) as Raw;
    (doc.metadata as Raw).name = `${String((doc.metadata as Raw).name)}-${i}`;
    const r = loadPolicyText(JSON.stringify(doc), 'bench');
    out.push(...r.policies);
    if (i > size * 3) break;
  }
  return out.slice(0, size);
}

interface Measured {
  name: string;
  evals: number;
  ms: number;
  samples: number[];
  results: number;
}

function measure(name: string, resources: readonly Raw[], fn: (r: Raw) => number): Measured {
  const samples: number[] = [];
  let results = 0;
  let evals = 0;
  const start = performance.now();
  for (let i = 0; performance.now() - start < BUDGET_MS; i++) {
    const r = resources[i % resources.length]!;
    const t0 = performance.now();
    results += fn(r);
    samples.push(performance.now() - t0);
    evals++;
  }
  return { name, evals, ms: performance.now() - start, samples, results };
}

const { policyTexts, resources } = readCorpus();
console.log(
  `corpus: ${policyTexts.length} ClusterPolicies, ${resources.length} resources; ${BUDGET_MS} ms per row, 1 thread`,
);

const rows: Measured[] = [];
rows.push(
  measure('baseline: JSON.parse(JSON.stringify(r))', resources, (r) =>
    JSON.parse(JSON.stringify(r)) ? 0 : 0,
  ),
);
rows.push(measure('baseline: structuredClone(r)', resources, (r) => (structuredClone(r) ? 0 : 0)));
for (const size of [10, 100, 1000]) {
  const t0 = performance.now();
  console.log(`compiling ${size} policies…`);
  const set = compileSet(policyTexts, size);
  const compileMs = performance.now() - t0;
  const rules = set.reduce((n, p) => n + p.rules.length, 0);
  rows.push(
    measure(
      `${set.length} policies (${rules} rules, compiled in ${compileMs.toFixed(0)} ms)`,
      resources,
      (r) => {
        let n = 0;
        for (const p of set) n += evaluatePolicy(p, r).length;
        return n;
      },
    ),
  );
}

printTable([
  ['set', 'evaluations/s/core', 'p50 µs', 'p99 µs', 'results/eval'],
  ...rows.map((m) => {
    const sorted = m.samples.sort((a, b) => a - b);
    return [
      m.name,
      ((m.evals / m.ms) * 1000).toFixed(0),
      (percentile(sorted, 50) * 1000).toFixed(1),
      (percentile(sorted, 99) * 1000).toFixed(1),
      (m.results / m.evals).toFixed(1),
    ];
  }),
]);
