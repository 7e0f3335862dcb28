/**
 * What a parsed CEL expression refers to: its free top-level identifiers and the `variables.<name>`
 * it reads. The loader uses this to reject a reference to a binding or variable that does not exist,
 * which the schemaless environment (every unknown identifier is `dyn`) would otherwise accept and
 * fail on every evaluation.
 */

/** Macros and functions whose leading identifier arguments bind names (comprehensions, cel.bind). */
const BINDERS = new Set([
  'all',
  'exists',
  'exists_one',
  'existsOne',
  'map',
  'filter',
  'bind',
  'transformList',
  'transformMap',
  'transformMapEntry',
  'sortBy',
]);

interface Node {
  op: string;
  args: unknown;
}

const isNode = (v: unknown): v is Node =>
  v !== null && typeof v === 'object' && typeof (v as { op?: unknown }).op === 'string';

export interface CelReferences {
  /** Identifiers used as values (`object`, `evnt` in `evnt.x`), not as a function's receiver namespace. */
  roots: Set<string>;
  /** Names read as `variables.<name>`, `variables.?<name>` or `variables['<name>']`. */
  variables: Set<string>;
  /**
   * Per root, the paths selected on it by name (`event.process.binary`, `event.?alert`,
   * `event['pod']`): what an evaluation has to provide of that root. The value at the end of a path,
   * or the root itself when used bare (`event.all(...)`, `string(event)`, a shadowing macro
   * variable), is used whole.
   */
  fields: Map<string, FieldTree>;
}

/** Selected paths: `whole` when the value here is read as a whole, else only `children` are read. */
export interface FieldTree {
  whole: boolean;
  children: Map<string, FieldTree>;
}

export function emptyFieldTree(): FieldTree {
  return { whole: false, children: new Map() };
}

/** Adds `from` into `into` (a path read in either is read). */
export function mergeFieldTree(into: FieldTree, from: FieldTree): void {
  if (from.whole) into.whole = true;
  for (const [name, child] of from.children) {
    let mine = into.children.get(name);
    if (!mine) into.children.set(name, (mine = emptyFieldTree()));
    mergeFieldTree(mine, child);
  }
}

function selectName(field: unknown): string | undefined {
  if (typeof field === 'string') return field;
  if (isNode(field) && field.op === 'value' && typeof field.args === 'string') return field.args;
  return undefined;
}

const SELECTS = new Set(['.', '.?', '[]', '[?]']);

/** `root.a.b` (any of the select forms, literal names only) as the root and its path, else undefined. */
function selectChain(node: Node): { root: string; path: string[] } | undefined {
  const path: string[] = [];
  let n: unknown = node;
  while (isNode(n) && SELECTS.has(n.op) && Array.isArray(n.args)) {
    const [target, field] = n.args as [unknown, unknown];
    const name = selectName(field);
    if (name === undefined) return undefined;
    path.unshift(name);
    n = target;
  }
  if (isNode(n) && n.op === 'id' && typeof n.args === 'string' && path.length > 0)
    return { root: n.args, path };
  return undefined;
}

export function referencesOf(ast: unknown): CelReferences {
  const out: CelReferences = { roots: new Set(), variables: new Set(), fields: new Map() };
  const use = (root: string, path: readonly string[]): void => {
    let tree: FieldTree | undefined = out.fields.get(root);
    if (!tree) out.fields.set(root, (tree = emptyFieldTree()));
    for (const name of path) {
      let child: FieldTree | undefined = tree.children.get(name);
      if (!child) tree.children.set(name, (child = emptyFieldTree()));
      tree = child;
    }
    tree.whole = true;
  };
  const useWhole = (root: string): void => use(root, []);
  const bound = new Set<string>();
  const walk = (node: unknown, receiver: boolean): void => {
    if (Array.isArray(node)) {
      for (const n of node) walk(n, false);
      return;
    }
    if (!isNode(node)) return;
    const args = node.args;
    if (node.op === 'id') {
      // `time.now()`, `optional.of(x)`: a library namespace, not a variable.
      if (typeof args === 'string') {
        if (!receiver) out.roots.add(args);
        // `event.all(...)` reads it whole; for a library namespace the mark is never consulted.
        useWhole(args);
      }
      return;
    }
    if (
      (node.op === '.' || node.op === '.?' || node.op === '[]' || node.op === '[?]') &&
      Array.isArray(args)
    ) {
      const [target, field] = args as [unknown, unknown];
      if (isNode(target) && target.op === 'id' && target.args === 'variables') {
        const name =
          typeof field === 'string' ? field : isNode(field) && field.op === 'value' ? field.args : undefined;
        if (typeof name === 'string') out.variables.add(name);
      }
      const chain = selectChain(node);
      if (chain) {
        // The chain's names are literals: nothing below it refers to anything else.
        out.roots.add(chain.root);
        if (chain.root === 'variables') out.variables.add(chain.path[0]!);
        use(chain.root, chain.path);
        return;
      }
    }
    if (node.op === 'rcall' && Array.isArray(args)) {
      const [name, target, list] = args as [unknown, unknown, unknown];
      if (Array.isArray(list) && typeof name === 'string' && BINDERS.has(name)) {
        for (const a of list.slice(0, -1))
          if (isNode(a) && a.op === 'id' && typeof a.args === 'string') bound.add(a.args);
      }
      walk(target, true);
      walk(list, false);
      return;
    }
    walk(args, false);
  };
  walk(ast, false);
  for (const name of bound) {
    out.roots.delete(name);
    // A macro variable named like a root hides it: the root's use cannot be told apart, keep it whole.
    useWhole(name);
  }
  return out;
}
