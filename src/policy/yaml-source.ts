/**
 * Multi-document YAML parsing that keeps positions, so every problem can be reported as file:line:col.
 */
import {
  isMap,
  isPair,
  isScalar,
  isSeq,
  LineCounter,
  parseAllDocuments,
  type Document,
  type Node,
} from 'yaml';

/** One YAML document of a file, with what is needed to point back into the text. */
export interface SourceDocument {
  file: string;
  /** 0-based index of the document in its file. */
  index: number;
  /** Parsed JSON value (undefined for an empty document). */
  value: unknown;
  /** Syntax errors of this document, already positioned. */
  syntaxErrors: { line: number; col: number; message: string }[];
  /** 1-based line where the document starts. */
  line: number;
  /** Position of the key (or value) at a JSON path; falls back to the deepest node found. */
  locate(path: readonly (string | number)[], target?: 'key' | 'value'): { line: number; col: number };
}

export function parseYamlDocuments(text: string, file: string): SourceDocument[] {
  const lineCounter = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter, prettyErrors: false, uniqueKeys: false });
  // parseAllDocuments returns an EmptyStream (array-like) for empty input.
  const list: Document.Parsed[] = Array.isArray(docs) ? docs : [];
  const pos = (offset: number): { line: number; col: number } => {
    const p = lineCounter.linePos(offset);
    return { line: p.line, col: p.col };
  };
  return list.map((doc, index) => {
    const syntaxErrors = doc.errors.map((e) => ({
      ...pos(e.pos[0]),
      message: e.message.split('\n')[0] ?? e.message,
    }));
    let value: unknown;
    if (syntaxErrors.length === 0) {
      try {
        value = doc.toJS({ maxAliasCount: 100 });
      } catch (err) {
        syntaxErrors.push({
          ...pos(doc.range[0]),
          message: err instanceof Error ? err.message : String(err),
        });
      }
    }
    const contentStart = doc.contents?.range?.[0] ?? doc.range[0];
    return {
      file,
      index,
      value,
      syntaxErrors,
      line: pos(contentStart).line,
      locate: (path, target = 'key') => locateIn(doc, path, target, pos, contentStart),
    };
  });
}

function locateIn(
  doc: Document.Parsed,
  path: readonly (string | number)[],
  target: 'key' | 'value',
  pos: (offset: number) => { line: number; col: number },
  fallback: number,
): { line: number; col: number } {
  let node: Node | null | undefined = doc.contents;
  let offset = node?.range?.[0] ?? fallback;
  for (let i = 0; i < path.length; i++) {
    const seg = path[i]!;
    const last = i === path.length - 1;
    if (isMap(node)) {
      const pair = node.items.find(
        (p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(seg),
      );
      if (!pair) break;
      const keyNode = pair.key as Node;
      if (last && target === 'key') return pos(keyNode.range?.[0] ?? offset);
      node = pair.value as Node | null;
      offset = node?.range?.[0] ?? keyNode.range?.[0] ?? offset;
    } else if (isSeq(node)) {
      const item = node.items[Number(seg)] as Node | undefined;
      if (!item) break;
      node = item;
      offset = item.range?.[0] ?? offset;
    } else {
      break;
    }
  }
  return pos(offset);
}
