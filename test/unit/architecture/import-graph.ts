/**
 * The relative-import graph of a source tree, read with the TypeScript parser so that type-only imports
 * (`import type`, `export type … from`, `import { type A }`, `import('./x.js').T` in a type) are told apart
 * from imports that load a module at run time, and the checks the layering test runs over it. Kept apart
 * from the test so that the checker itself can be tried on synthetic trees.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import ts from 'typescript';

/** One `import`, `export … from` or `import()` of a file of the tree by another. */
export interface ImportEdge {
  /** Importing file, relative to the root the graph was read from, with `/` separators. */
  from: string;
  /** Imported file, same form. */
  to: string;
  /** True when nothing of the imported module is loaded at run time. */
  typeOnly: boolean;
  /** 1-based line of the import in `from`. */
  line: number;
}

export interface ImportGraph {
  files: string[];
  edges: ImportEdge[];
}

export interface ModuleReference {
  specifier: string;
  typeOnly: boolean;
  line: number;
}

/** Every module a file names, with whether the reference survives compilation. */
export function parseImports(fileName: string, text: string): ModuleReference[] {
  const kind = fileName.endsWith('.tsx') ? ts.ScriptKind.TSX : ts.ScriptKind.TS;
  const sf = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, false, kind);
  const out: ModuleReference[] = [];
  const lineOf = (node: ts.Node): number => sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1;
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      out.push({
        specifier: node.moduleSpecifier.text,
        typeOnly: importIsTypeOnly(node),
        line: lineOf(node),
      });
    } else if (
      ts.isExportDeclaration(node) &&
      node.moduleSpecifier !== undefined &&
      ts.isStringLiteral(node.moduleSpecifier)
    ) {
      out.push({
        specifier: node.moduleSpecifier.text,
        typeOnly: exportIsTypeOnly(node),
        line: lineOf(node),
      });
    } else if (
      ts.isCallExpression(node) &&
      node.expression.kind === ts.SyntaxKind.ImportKeyword &&
      node.arguments[0] !== undefined &&
      ts.isStringLiteralLike(node.arguments[0])
    ) {
      out.push({ specifier: node.arguments[0].text, typeOnly: false, line: lineOf(node) });
    } else if (
      ts.isImportTypeNode(node) &&
      ts.isLiteralTypeNode(node.argument) &&
      ts.isStringLiteral(node.argument.literal)
    ) {
      out.push({ specifier: node.argument.literal.text, typeOnly: true, line: lineOf(node) });
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

function importIsTypeOnly(node: ts.ImportDeclaration): boolean {
  const clause = node.importClause;
  // `import './x.js'` runs the module for its effects.
  if (clause === undefined) return false;
  if (clause.phaseModifier === ts.SyntaxKind.TypeKeyword) return true;
  if (clause.name !== undefined) return false;
  const bindings = clause.namedBindings;
  if (bindings === undefined || ts.isNamespaceImport(bindings)) return false;
  // `import {} from` still loads the module; `import { type A, type B } from` uses nothing of it.
  return bindings.elements.length > 0 && bindings.elements.every((e) => e.isTypeOnly);
}

function exportIsTypeOnly(node: ts.ExportDeclaration): boolean {
  if (node.isTypeOnly) return true;
  const clause = node.exportClause;
  if (clause === undefined || ts.isNamespaceExport(clause)) return false;
  return clause.elements.length > 0 && clause.elements.every((e) => e.isTypeOnly);
}

function listSources(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== 'node_modules' && entry.name !== 'dist') out.push(...listSources(p));
    } else if (/\.tsx?$/.test(entry.name) && !entry.name.endsWith('.d.ts')) {
      out.push(p);
    }
  }
  return out;
}

const toPosix = (p: string): string => p.split(sep).join('/');

/**
 * Reads every .ts/.tsx file under `root`/`dir` and resolves its relative imports to files of that tree
 * (`./x.js` → x.ts, x.tsx or x/index.ts). Package imports and files outside the tree are not edges.
 */
export function readImportGraph(root: string, dir: string): ImportGraph {
  const absolute = listSources(resolve(root, dir)).sort();
  const known = new Set(absolute);
  const name = (f: string): string => toPosix(relative(root, f));
  const edges: ImportEdge[] = [];
  for (const file of absolute) {
    for (const ref of parseImports(file, readFileSync(file, 'utf8'))) {
      if (!ref.specifier.startsWith('.')) continue;
      const base = resolve(dirname(file), ref.specifier).replace(/\.js$/, '');
      const candidates = [`${base}.ts`, `${base}.tsx`, join(base, 'index.ts'), join(base, 'index.tsx')];
      const target = candidates.find((c) => known.has(c));
      if (target === undefined) continue;
      edges.push({ from: name(file), to: name(target), typeOnly: ref.typeOnly, line: ref.line });
    }
  }
  return { files: absolute.map(name), edges };
}

/**
 * Strongly connected groups of nodes: each returned group (sorted) is a set of nodes that reach each other,
 * of two or more nodes, or one node with an edge to itself.
 */
export function stronglyConnected(
  nodes: readonly string[],
  next: ReadonlyMap<string, readonly string[]>,
): string[][] {
  // Tarjan's algorithm with an explicit stack, so a long import chain cannot overflow the call stack.
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const groups: string[][] = [];
  const enter = (v: string): void => {
    index.set(v, counter);
    low.set(v, counter++);
    stack.push(v);
    onStack.add(v);
  };
  for (const start of nodes) {
    if (index.has(start)) continue;
    enter(start);
    const work: { node: string; i: number }[] = [{ node: start, i: 0 }];
    while (work.length > 0) {
      const frame = work[work.length - 1]!;
      const succ = next.get(frame.node) ?? [];
      if (frame.i < succ.length) {
        const w = succ[frame.i++]!;
        if (!index.has(w)) {
          enter(w);
          work.push({ node: w, i: 0 });
        } else if (onStack.has(w)) {
          low.set(frame.node, Math.min(low.get(frame.node)!, index.get(w)!));
        }
        continue;
      }
      work.pop();
      const parent = work[work.length - 1];
      if (parent !== undefined) low.set(parent.node, Math.min(low.get(parent.node)!, low.get(frame.node)!));
      if (low.get(frame.node) !== index.get(frame.node)) continue;
      const group: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        group.push(w);
      } while (w !== frame.node);
      if (group.length > 1 || succ.includes(frame.node)) groups.push(group.sort());
    }
  }
  return groups;
}

/** Groups of files that import each other, directly or through others. Type-only imports count. */
export function findFileCycles(graph: ImportGraph): string[][] {
  const next = new Map<string, string[]>(graph.files.map((f) => [f, []]));
  for (const e of graph.edges) next.get(e.from)?.push(e.to);
  return stronglyConnected(graph.files, next);
}

export interface Layer {
  name: string;
  /**
   * Folders (ending in `/`) or single files, relative to the graph's root. A file belongs to the longest
   * unit that contains it, so a file unit can sit on a lower layer than the rest of its folder.
   */
  units: readonly string[];
}

export interface LayerRules {
  /** Lowest first. A file may import files of its own layer or of a lower one, never of a higher one. */
  layers: readonly Layer[];
  /** Folders or files that nothing outside them may import. */
  sealed: readonly string[];
  /** Folders or files that may import types only (declarations with no run-time code of their own). */
  typesOnly: readonly string[];
  /** Folders or files whose value imports may only leave them for the named layers (types follow the layer order). */
  valuesOnlyFrom: readonly { unit: string; layers: readonly string[] }[];
}

export interface LayerReport {
  /** Files no unit contains. */
  unplaced: string[];
  /** Imports that break a rule, one line each: `file:line -> file (value|type): reason`. */
  offenders: string[];
  /** Units that import each other (each group with one import per step as evidence). */
  unitCycles: string[];
}

/** A folder unit (`a/`) contains the files below it; a file unit, only itself. */
const inside = (unit: string, file: string): boolean =>
  unit.endsWith('/') ? file.startsWith(unit) : file === unit;

/** Checks the graph against the rules; every list in the report is empty when the tree complies. */
export function checkLayers(graph: ImportGraph, rules: LayerRules): LayerReport {
  const units = rules.layers.flatMap((layer, rank) => layer.units.map((unit) => ({ unit, rank, layer })));
  const placed = new Map<string, (typeof units)[number]>();
  const unplaced: string[] = [];
  for (const file of graph.files) {
    let best: (typeof units)[number] | undefined;
    for (const u of units)
      if (inside(u.unit, file) && (best === undefined || u.unit.length > best.unit.length)) best = u;
    if (best === undefined) unplaced.push(file);
    else placed.set(file, best);
  }

  const offenders: string[] = [];
  const unitEdges = new Map<string, Map<string, ImportEdge>>();
  for (const e of graph.edges) {
    const a = placed.get(e.from);
    const b = placed.get(e.to);
    if (a === undefined || b === undefined) continue;
    const where = `${e.from}:${e.line} -> ${e.to} (${e.typeOnly ? 'type' : 'value'})`;
    if (a.unit !== b.unit) {
      if (b.rank > a.rank)
        offenders.push(`${where}: ${a.unit} is on layer ${a.layer.name}, below ${b.unit} (${b.layer.name})`);
      const out = unitEdges.get(a.unit) ?? new Map<string, ImportEdge>();
      if (!out.has(b.unit)) out.set(b.unit, e);
      unitEdges.set(a.unit, out);
    }
    for (const unit of rules.sealed)
      if (inside(unit, e.to) && !inside(unit, e.from))
        offenders.push(`${where}: nothing outside ${unit} may import it`);
    for (const unit of rules.typesOnly)
      if (inside(unit, e.from) && !e.typeOnly)
        offenders.push(`${where}: files in ${unit} may import types only`);
    for (const r of rules.valuesOnlyFrom)
      if (inside(r.unit, e.from) && !inside(r.unit, e.to) && !e.typeOnly && !r.layers.includes(b.layer.name))
        offenders.push(`${where}: ${r.unit} may import values only from ${r.layers.join(', ')}`);
  }

  const next = new Map([...unitEdges].map(([u, out]) => [u, [...out.keys()]]));
  const unitCycles = stronglyConnected(
    units.map((u) => u.unit),
    next,
  ).map((group) => {
    const steps = group.flatMap((u) =>
      [...(unitEdges.get(u) ?? [])]
        .filter(([v]) => group.includes(v))
        .map(([v, e]) => `${u} -> ${v} (${e.from}:${e.line})`),
    );
    return steps.join('; ');
  });
  return { unplaced, offenders, unitCycles };
}
