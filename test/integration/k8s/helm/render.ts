/**
 * A renderer for the subset of Helm's Go templating that deploy/helm uses, because no
 * helm binary installs here (no Debian package; no downloads). Supported: `{{ }}` with `{{-`/`-}}`
 * whitespace trimming, comments, `define`/`include`, `if`/`else`/`end`, `range` over lists, pipelines
 * and parenthesised sub-expressions, `.Values/.Release/.Chart` paths, `.` and `$`, and the functions
 * default, quote, trunc, trimSuffix, toYaml, nindent, indent, join, eq, ne, not, and, or.
 * Anything else throws, so a template using more than this subset fails the test instead of being
 * rendered wrongly.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parse, parseAllDocuments, stringify } from 'yaml';

type Node =
  | { t: 'text'; v: string }
  | { t: 'out'; expr: string }
  | { t: 'if'; cond: string; then: Node[]; else: Node[] }
  | { t: 'range'; expr: string; body: Node[] }
  | { t: 'define'; name: string; body: Node[] };

function lex(src: string): ({ t: 'text'; v: string } | { t: 'action'; v: string })[] {
  const out: ({ t: 'text'; v: string } | { t: 'action'; v: string })[] = [];
  let i = 0;
  let trimNext = false;
  while (i < src.length) {
    const open = src.indexOf('{{', i);
    let text = open < 0 ? src.slice(i) : src.slice(i, open);
    if (trimNext) text = text.replace(/^\s+/, '');
    if (open < 0) {
      out.push({ t: 'text', v: text });
      break;
    }
    const close = src.indexOf('}}', open);
    if (close < 0) throw new Error('unclosed {{');
    let inner = src.slice(open + 2, close);
    if (inner.startsWith('-')) {
      text = text.replace(/\s+$/, '');
      inner = inner.slice(1);
    }
    trimNext = inner.endsWith('-');
    if (trimNext) inner = inner.slice(0, -1);
    out.push({ t: 'text', v: text });
    inner = inner.trim();
    if (!inner.startsWith('/*')) out.push({ t: 'action', v: inner });
    i = close + 2;
  }
  return out;
}

function parseNodes(
  tokens: ReturnType<typeof lex>,
  pos: { i: number },
  stopAt: string[],
): { nodes: Node[]; stop: string } {
  const nodes: Node[] = [];
  while (pos.i < tokens.length) {
    const tok = tokens[pos.i++]!;
    if (tok.t === 'text') {
      if (tok.v !== '') nodes.push({ t: 'text', v: tok.v });
      continue;
    }
    const [kw, ...rest] = tok.v.split(/\s+/);
    const arg = rest.join(' ');
    if (stopAt.includes(tok.v) || stopAt.includes(kw!)) return { nodes, stop: tok.v };
    if (kw === 'if') {
      const a = parseNodes(tokens, pos, ['else', 'end']);
      const b = a.stop === 'else' ? parseNodes(tokens, pos, ['end']).nodes : [];
      nodes.push({ t: 'if', cond: arg, then: a.nodes, else: b });
    } else if (kw === 'range') {
      nodes.push({ t: 'range', expr: arg, body: parseNodes(tokens, pos, ['end']).nodes });
    } else if (kw === 'define') {
      nodes.push({
        t: 'define',
        name: JSON.parse(arg) as string,
        body: parseNodes(tokens, pos, ['end']).nodes,
      });
    } else if (kw === 'with' || kw === 'template' || kw === 'block' || tok.v.startsWith('else if')) {
      throw new Error(`unsupported template action: ${tok.v}`);
    } else {
      nodes.push({ t: 'out', expr: tok.v });
    }
  }
  if (stopAt.length > 0) throw new Error(`missing {{ end }} (wanted ${stopAt.join('/')})`);
  return { nodes, stop: '' };
}

function truthy(v: unknown): boolean {
  if (v === undefined || v === null || v === false || v === 0 || v === '') return false;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === 'object') return Object.keys(v).length > 0;
  return true;
}

function splitTop(s: string, sep: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let quote = false;
  let cur = '';
  for (const ch of s) {
    if (ch === '"') quote = !quote;
    if (!quote && ch === '(') depth++;
    if (!quote && ch === ')') depth--;
    if (!quote && depth === 0 && (sep === ' ' ? /\s/.test(ch) : ch === sep)) {
      if (sep !== ' ' || cur !== '') parts.push(cur);
      cur = '';
    } else cur += ch;
  }
  if (cur !== '' || sep !== ' ') parts.push(cur);
  return parts.map((p) => p.trim()).filter((p) => sep !== ' ' || p !== '');
}

export class ChartRenderer {
  private readonly defines = new Map<string, Node[]>();

  constructor(private readonly root: Record<string, unknown>) {}

  load(src: string): Node[] {
    const { nodes } = parseNodes(lex(src), { i: 0 }, []);
    for (const n of nodes) if (n.t === 'define') this.defines.set(n.name, n.body);
    return nodes;
  }

  render(nodes: Node[], dot: unknown): string {
    let out = '';
    for (const n of nodes) {
      switch (n.t) {
        case 'text':
          out += n.v;
          break;
        case 'out': {
          const v = this.evalPipeline(n.expr, dot);
          out += v === undefined || v === null ? '' : typeof v === 'string' ? v : JSON.stringify(v);
          break;
        }
        case 'if':
          out += this.render(truthy(this.evalPipeline(n.cond, dot)) ? n.then : n.else, dot);
          break;
        case 'range': {
          const list = this.evalPipeline(n.expr, dot);
          if (list !== undefined && list !== null && !Array.isArray(list))
            throw new Error(`range over a non-list: ${n.expr}`);
          for (const item of (list ?? []) as unknown[]) out += this.render(n.body, item);
          break;
        }
        case 'define':
          break;
      }
    }
    return out;
  }

  private evalPipeline(expr: string, dot: unknown): unknown {
    const stages = splitTop(expr, '|');
    let value: unknown = undefined;
    stages.forEach((stage, idx) => {
      const words = splitTop(stage, ' ');
      const fn = words[0]!;
      if (FUNCS.has(fn)) {
        const args = words.slice(1).map((w) => this.evalArg(w, dot));
        if (idx > 0) args.push(value);
        value = this.call(fn, args, dot);
      } else {
        if (idx > 0 || words.length !== 1) throw new Error(`unsupported expression: ${stage}`);
        value = this.evalArg(fn, dot);
      }
    });
    return value;
  }

  private evalArg(w: string, dot: unknown): unknown {
    if (w.startsWith('(') && w.endsWith(')')) return this.evalPipeline(w.slice(1, -1), dot);
    if (w.startsWith('"')) return JSON.parse(w) as string;
    if (/^-?\d+$/.test(w)) return Number(w);
    if (w === 'true' || w === 'false') return w === 'true';
    if (w === '.') return dot;
    if (w === '$') return this.root;
    if (w.startsWith('.') || w.startsWith('$.')) {
      let cur: unknown = w.startsWith('$') ? this.root : dot;
      for (const k of w.replace(/^\$/, '').slice(1).split('.')) {
        cur = cur !== null && typeof cur === 'object' ? (cur as Record<string, unknown>)[k] : undefined;
      }
      return cur;
    }
    throw new Error(`unsupported argument: ${w}`);
  }

  private call(fn: string, a: unknown[], dot: unknown): unknown {
    const s = (v: unknown): string =>
      v === undefined || v === null ? '' : typeof v === 'string' ? v : JSON.stringify(v);
    const pad = (n: number, text: string): string =>
      text
        .split('\n')
        .map((l) => (l === '' ? l : ' '.repeat(n) + l))
        .join('\n');
    switch (fn) {
      case 'default':
        return truthy(a[1]) ? a[1] : a[0];
      case 'quote':
        return JSON.stringify(s(a[0]));
      case 'trunc':
        return s(a[1]).slice(0, a[0] as number);
      case 'trimSuffix':
        return s(a[1]).endsWith(s(a[0])) ? s(a[1]).slice(0, -s(a[0]).length || undefined) : s(a[1]);
      case 'toYaml':
        return stringify(a[0]).replace(/\n$/, '');
      case 'nindent':
        return '\n' + pad(a[0] as number, s(a[1]));
      case 'indent':
        return pad(a[0] as number, s(a[1]));
      case 'join':
        return ((a[1] ?? []) as unknown[]).map(s).join(s(a[0]));
      case 'eq':
        return a[0] === a[1];
      case 'ne':
        return a[0] !== a[1];
      case 'not':
        return !truthy(a[0]);
      case 'and':
        return a.every(truthy);
      case 'or':
        return a.some(truthy);
      case 'include': {
        const body = this.defines.get(s(a[0]));
        if (!body) throw new Error(`include of unknown template ${s(a[0])}`);
        return this.render(body, a[1] ?? dot);
      }
      default:
        throw new Error(`unsupported function ${fn}`);
    }
  }
}

const FUNCS = new Set([
  'default',
  'quote',
  'trunc',
  'trimSuffix',
  'toYaml',
  'nindent',
  'indent',
  'join',
  'eq',
  'ne',
  'not',
  'and',
  'or',
  'include',
]);

function deepMerge(base: unknown, over: unknown): unknown {
  if (over === undefined) return base;
  if (
    base === null ||
    typeof base !== 'object' ||
    Array.isArray(base) ||
    over === null ||
    typeof over !== 'object' ||
    Array.isArray(over)
  )
    return over;
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [k, v] of Object.entries(over)) out[k] = deepMerge(out[k], v);
  return out;
}

/** `helm template <release> <chart> -n <namespace> --set …` for this chart: the parsed manifests. */
export function renderChart(
  chartDir: string,
  overrides: Record<string, unknown> = {},
  release = { name: 'kyverno-runtime', namespace: 'kyverno-runtime' },
): Record<string, any>[] {
  const chart = parse(readFileSync(join(chartDir, 'Chart.yaml'), 'utf8')) as Record<string, unknown>;
  const values = deepMerge(parse(readFileSync(join(chartDir, 'values.yaml'), 'utf8')), overrides);
  const root = {
    Values: values,
    Release: { Name: release.name, Namespace: release.namespace, Service: 'Helm' },
    Chart: { Name: chart.name, Version: chart.version, AppVersion: chart.appVersion },
  };
  const r = new ChartRenderer(root);
  const dir = join(chartDir, 'templates');
  const files = readdirSync(dir).sort();
  for (const f of files.filter((n) => n.endsWith('.tpl'))) r.load(readFileSync(join(dir, f), 'utf8'));
  const docs: Record<string, any>[] = [];
  for (const f of files.filter((n) => n.endsWith('.yaml'))) {
    const text = r.render(r.load(readFileSync(join(dir, f), 'utf8')), root);
    for (const d of parseAllDocuments(text)) {
      if (d.errors.length > 0)
        throw new Error(`${f}: invalid YAML after rendering: ${d.errors[0]!.message}\n${text}`);
      const v = d.toJS() as Record<string, any> | null;
      if (v !== null && v !== undefined) docs.push(v);
    }
  }
  return docs;
}
