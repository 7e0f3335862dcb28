import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  checkLayers,
  findFileCycles,
  parseImports,
  readImportGraph,
  type LayerRules,
} from './import-graph.js';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/**
 * The layers of src/, lowest first; docs/architecture.md describes the same list. A file may import its own
 * layer or lower ones. Within a layer, folders may import each other in one direction only (no unit cycles).
 */
const RULES: LayerRules = {
  layers: [
    // Shared vocabulary: the event model, the verdict and action specs, helpers with no domain.
    {
      name: 'ground',
      units: ['src/util/', 'src/package-root.ts', 'src/events/types.ts', 'src/contracts/'],
    },
    // Tool output → RuntimeEvent, and the event schema check.
    { name: 'events', units: ['src/events/'] },
    // Pure evaluation; its API types (compiled policies in, the runtime engine's contract) in engine/api/.
    { name: 'engine', units: ['src/engine/'] },
    // Policy YAML → the engine's compiled policies.
    { name: 'policy', units: ['src/policy/'] },
    // I/O at the edges: event readers, the queue, Kubernetes clients, responses, reports, metrics and logs.
    {
      name: 'edges',
      units: [
        'src/observability/',
        'src/net/',
        'src/host/',
        'src/sources/',
        'src/pipeline/',
        'src/k8s/',
        'src/actions/',
        'src/reports/',
      ],
    },
    // What people look at: the local HTTP API and the dashboard.
    { name: 'surface', units: ['src/server/', 'src/ui/'] },
    // Assemblies (local mode, the cluster agent) and the command line.
    { name: 'app', units: ['src/app/', 'src/cli/'] },
  ],
  // The command line drives everything; a module importing it would drag in commander and every command.
  sealed: ['src/cli/'],
  // The engine's API is declarations: importing it must never load engine code.
  typesOnly: ['src/engine/api/'],
  // The dashboard is bundled for the browser: it may take types from the server, but code only from the
  // ground floor (no Node modules in the bundle).
  valuesOnlyFrom: [{ unit: 'src/ui/web/', layers: ['ground'] }],
};

const report = (lines: readonly string[]): string => `\n  ${lines.join('\n  ')}`;

describe('src/ imports', () => {
  const graph = readImportGraph(repo, 'src');

  it('reads the tree (a broken reader would pass every rule)', () => {
    assert.ok(graph.files.length > 100, `only ${graph.files.length} files read`);
    assert.ok(graph.edges.some((e) => e.typeOnly) && graph.edges.some((e) => !e.typeOnly));
  });

  it('form no file import cycle', () => {
    const cycles = findFileCycles(graph);
    assert.deepEqual(cycles, [], `files importing each other:${report(cycles.map((c) => c.join(' <-> ')))}`);
  });

  it('place every file on a layer', () => {
    const { unplaced } = checkLayers(graph, RULES);
    assert.deepEqual(
      unplaced,
      [],
      `add these to a layer in RULES and docs/architecture.md:${report(unplaced)}`,
    );
  });

  it('never import upward, into cli/, code into engine/api/ or Node code into the dashboard', () => {
    const { offenders } = checkLayers(graph, RULES);
    assert.deepEqual(offenders, [], `imports breaking the layering:${report(offenders)}`);
  });

  it('have no two folders of a layer importing each other', () => {
    const { unitCycles } = checkLayers(graph, RULES);
    assert.deepEqual(unitCycles, [], `folders importing each other:${report(unitCycles)}`);
  });

  it('are the layers docs/architecture.md lists', () => {
    const doc = readFileSync(join(repo, 'docs', 'architecture.md'), 'utf8');
    const missing = RULES.layers.flatMap((l) =>
      [l.name, ...l.units].filter((u) => !doc.includes(`\`${u.replace(/^src\//, '')}\``)),
    );
    assert.deepEqual(missing, [], `docs/architecture.md does not name:${report(missing)}`);
  });
});

describe('the import checker', () => {
  const roots: string[] = [];
  after(() => roots.forEach((r) => rmSync(r, { recursive: true, force: true })));
  const tree = (files: Record<string, string>): string => {
    const root = mkdtempSync(join(tmpdir(), 'layering-'));
    roots.push(root);
    for (const [path, text] of Object.entries(files)) {
      mkdirSync(dirname(join(root, path)), { recursive: true });
      writeFileSync(join(root, path), text);
    }
    return root;
  };
  const rules: LayerRules = {
    layers: [
      { name: 'low', units: ['src/low/', 'src/mid/model.ts'] },
      { name: 'mid', units: ['src/mid/', 'src/side/'] },
      { name: 'top', units: ['src/top/'] },
    ],
    sealed: ['src/top/'],
    typesOnly: ['src/low/api/'],
    valuesOnlyFrom: [{ unit: 'src/side/', layers: ['low'] }],
  };
  const layersOf = (files: Record<string, string>): ReturnType<typeof checkLayers> =>
    checkLayers(readImportGraph(tree(files), 'src'), rules);

  it('tells type-only imports from imports that load the module', () => {
    const refs = parseImports(
      'x.ts',
      [
        "import type { A } from './a.js';",
        "import { type B, type C } from './b.js';",
        "import { type D, e } from './d.js';",
        "import f from './f.js';",
        "import * as g from './g.js';",
        "import './h.js';",
        "import {} from './i.js';",
        "export type { J } from './j.js';",
        "export type * from './k.js';",
        "export * from './l.js';",
        "export { type M, n } from './m.js';",
        "type O = import('./o.js').O;",
        "const p = await import('./p.js');",
      ].join('\n'),
    );
    assert.deepEqual(
      refs.map((r) => `${r.specifier}:${r.typeOnly ? 'type' : 'value'}:${r.line}`),
      [
        './a.js:type:1',
        './b.js:type:2',
        './d.js:value:3',
        './f.js:value:4',
        './g.js:value:5',
        './h.js:value:6',
        './i.js:value:7',
        './j.js:type:8',
        './k.js:type:9',
        './l.js:value:10',
        './m.js:value:11',
        './o.js:type:12',
        './p.js:value:13',
      ],
    );
  });

  it('resolves ./x.js to x.ts, x.tsx and x/index.ts, and ignores packages', () => {
    const root = tree({
      'src/a.ts':
        "import './b.js';\nimport './c.js';\nimport './d/index.js';\nimport './e.js';\nimport 'node:fs';\n",
      'src/b.ts': '',
      'src/c.tsx': '',
      'src/d/index.ts': '',
      'src/e/index.ts': '',
    });
    const g = readImportGraph(root, 'src');
    assert.deepEqual(
      g.edges.map((e) => e.to),
      ['src/b.ts', 'src/c.tsx', 'src/d/index.ts', 'src/e/index.ts'],
    );
  });

  it('catches a synthetic file cycle, including one made of type-only imports', () => {
    const root = tree({
      'src/a.ts': "import { b } from './b.js';\nexport const a = b;\n",
      'src/b.ts': "import type { C } from './c.js';\nexport const b: C = 1;\n",
      'src/c.ts': "import type { a } from './a.js';\nexport type C = typeof a;\n",
      'src/d.ts': "import { a } from './a.js';\nexport const d = a;\n",
      'src/self.ts': "export type { S } from './self.js';\nexport type S = 1;\n",
    });
    assert.deepEqual(findFileCycles(readImportGraph(root, 'src')), [
      ['src/a.ts', 'src/b.ts', 'src/c.ts'],
      ['src/self.ts'],
    ]);
  });

  it('finds no cycle in a chain longer than the call stack is deep', () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 20_000; i++) files[`src/f${i}.ts`] = `import './f${i + 1}.js';\n`;
    files['src/f20000.ts'] = '';
    const graph = {
      files: Object.keys(files),
      edges: Object.keys(files)
        .slice(0, -1)
        .map((f, i) => ({ from: f, to: `src/f${i + 1}.ts`, typeOnly: false, line: 1 })),
    };
    assert.deepEqual(findFileCycles(graph), []);
    graph.edges.push({ from: 'src/f20000.ts', to: 'src/f0.ts', typeOnly: false, line: 1 });
    assert.equal(findFileCycles(graph)[0]?.length, 20_001);
  });

  it('reports an upward import, type-only or not, with file and line', () => {
    const r = layersOf({
      'src/low/a.ts': "\nimport type { T } from '../mid/b.js';\nexport type A = T;\n",
      'src/mid/b.ts': "import { c } from '../top/c.js';\nexport type T = typeof c;\n",
      'src/top/c.ts': 'export const c = 1;\n',
    });
    assert.deepEqual(r.offenders, [
      'src/low/a.ts:2 -> src/mid/b.ts (type): src/low/ is on layer low, below src/mid/ (mid)',
      'src/mid/b.ts:1 -> src/top/c.ts (value): src/mid/ is on layer mid, below src/top/ (top)',
      'src/mid/b.ts:1 -> src/top/c.ts (value): nothing outside src/top/ may import it',
    ]);
  });

  it('puts a file unit on its own layer, below the rest of its folder', () => {
    const r = layersOf({
      'src/mid/model.ts': "import { x } from './impl.js';\nexport const m = x;\n",
      'src/mid/impl.ts': "import { m } from './model.js';\nexport const x = 1;\nexport const y = m;\n",
      'src/low/a.ts': "import { m } from '../mid/model.js';\nexport const a = m;\n",
    });
    assert.deepEqual(r.offenders, [
      'src/mid/model.ts:1 -> src/mid/impl.ts (value): src/mid/model.ts is on layer low, below src/mid/ (mid)',
    ]);
  });

  it('reports two folders of one layer that import each other', () => {
    const r = layersOf({
      'src/mid/a.ts': "import type { B } from '../side/b.js';\nexport type A = B;\n",
      'src/side/b.ts': "import type { A } from '../mid/a.js';\nexport type B = A | 1;\n",
    });
    assert.deepEqual(r.unitCycles, [
      'src/mid/ -> src/side/ (src/mid/a.ts:1); src/side/ -> src/mid/ (src/side/b.ts:1)',
    ]);
  });

  it('holds a types-only unit and a values-only-from unit to their imports', () => {
    const r = layersOf({
      'src/low/api/t.ts':
        "import type { A } from '../a.js';\nimport { a } from '../a.js';\nexport type T = A | typeof a;\n",
      'src/low/a.ts': 'export type A = 1;\nexport const a = 1;\n',
      'src/mid/m.ts': 'export const m = 1;\nexport type M = 2;\n',
      'src/side/s.ts':
        "import type { M } from '../mid/m.js';\nimport { a } from '../low/a.js';\nimport { m } from '../mid/m.js';\nexport const s: M | 1 = a ?? m;\n",
    });
    assert.deepEqual(r.offenders, [
      'src/low/api/t.ts:2 -> src/low/a.ts (value): files in src/low/api/ may import types only',
      'src/side/s.ts:3 -> src/mid/m.ts (value): src/side/ may import values only from low',
    ]);
  });

  it('lists files no unit contains', () => {
    assert.deepEqual(layersOf({ 'src/stray.ts': '', 'src/low/a.ts': '' }).unplaced, ['src/stray.ts']);
  });
});
