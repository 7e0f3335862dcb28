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
   * Per root, the fields selected on it by name (`event.process`, `event.?alert`, `event['pod']`),
   * or null when the root is also used whole (`event.all(...)`, `string(event)`, a shadowing macro
   * variable): what an evaluation has to provide of that root.
   */
  fields: Map<string, Set<string> | null>;
}

export function referencesOf(ast: unknown): CelReferences {
  const out: CelReferences = { roots: new Set(), variables: new Set(), fields: new Map() };
  const useWhole = (root: string): void => void out.fields.set(root, null);
  const useField = (root: string, field: string): void => {
    const known = out.fields.get(root);
    if (known === null) return;
    if (known) known.add(field);
    else out.fields.set(root, new Set([field]));
  };
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
      if (isNode(target) && target.op === 'id' && typeof target.args === 'string') {
        const name =
          typeof field === 'string' ? field : isNode(field) && field.op === 'value' ? field.args : undefined;
        if (typeof name === 'string') {
          out.roots.add(target.args);
          useField(target.args, name);
          if (!isNode(field)) return;
          walk(field, false);
          return;
        }
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
