/** Label and field selectors as the API server parses them (the subset of the grammar clients use). */

type Requirement = (labels: Record<string, string>) => boolean;

export class SelectorError extends Error {}

/** Parses `a=b,c!=d,e,!f,g in (x,y),h notin (z)`. */
export function parseLabelSelector(text: string): Requirement[] {
  const parts: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of text) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      parts.push(cur);
      cur = '';
    } else cur += ch;
  }
  if (cur.trim() !== '') parts.push(cur);
  return parts.map((raw) => {
    const p = raw.trim();
    let m = /^([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(p);
    if (m) {
      const key = m[1]!;
      const values = new Set(m[3]!.split(',').map((v) => v.trim()));
      return m[2] === 'in'
        ? (l) => l[key] !== undefined && values.has(l[key])
        : (l) => l[key] === undefined || !values.has(l[key]);
    }
    m = /^([\w./-]+)\s*(==|=|!=)\s*([\w./-]*)$/.exec(p);
    if (m) {
      const key = m[1]!;
      const value = m[3]!;
      return m[2] === '!=' ? (l) => l[key] !== value : (l) => l[key] === value;
    }
    m = /^(!?)([\w./-]+)$/.exec(p);
    if (m) {
      const key = m[2]!;
      return m[1] === '!' ? (l) => !(key in l) : (l) => key in l;
    }
    throw new SelectorError(`unable to parse requirement: ${p}`);
  });
}

const FIELDS_ALLOWED = new Set([
  'metadata.name',
  'metadata.namespace',
  'spec.nodeName',
  'status.phase',
  'involvedObject.uid',
  'regarding.uid',
]);

/** Parses `metadata.name=x,spec.nodeName!=y` into a predicate over the object. */
export function parseFieldSelector(text: string): (obj: Record<string, unknown>) => boolean {
  const reqs = text
    .split(',')
    .filter((p) => p.trim() !== '')
    .map((raw) => {
      const m = /^([\w.]+)\s*(==|=|!=)\s*(.*)$/.exec(raw.trim());
      if (!m) throw new SelectorError(`invalid field selector: ${raw}`);
      const field = m[1]!;
      if (!FIELDS_ALLOWED.has(field)) throw new SelectorError(`field label not supported: ${field}`);
      const value = m[3]!;
      const neg = m[2] === '!=';
      return (obj: Record<string, unknown>) => {
        let v: unknown = obj;
        for (const k of field.split('.'))
          v = v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined;
        const s = typeof v === 'string' ? v : '';
        return neg ? s !== value : s === value;
      };
    });
  return (obj) => reqs.every((r) => r(obj));
}

export function matchLabels(reqs: Requirement[], labels: Record<string, string> | undefined): boolean {
  const l = labels ?? {};
  return reqs.every((r) => r(l));
}
