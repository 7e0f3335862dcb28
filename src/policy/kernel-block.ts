/**
 * `block` rules → kernel rules for the cgroup connect program. A connect the kernel denies must be one
 * the engine would also report, so only conditions whose Kyverno meaning a prefix/port/protocol/cgroup
 * match reproduces exactly are compiled; anything else is a load error at the offending key, or — when
 * the rule also asks for `kill` — a warning that the rule falls back to that user-space kill.
 *
 * Compilable (docs/enforcement.md):
 * - match: kinds only (no names, namespaces, selectors), together covering Pod and Node (or `*`):
 *   the program sees cgroups, not Kubernetes objects. No exclude, preconditions, context, pattern, CEL.
 *   A namespaced RuntimePolicy never compiles (the kernel cannot stay inside a namespace).
 * - conditions (`all`, and each `any` entry as its own kernel rule) with keys
 *   `{{ event.network.dport }}` (Equals/In/AnyIn, NotEquals/NotIn/AnyNotIn: ports; an "A-B" range
 *   as the whole value of AnyIn/AnyNotIn, the one place Kyverno reads a range),
 *   `{{ event.network.daddr }}` (same operators: literal addresses and the prefix wildcards
 *   `10.*`, `10.1.*`, `10.1.2.*`, `fd00:*`, `fd00:12:*` …), `{{ event.network.protocol }}` (tcp/udp,
 *   positive operators), `{{ event.cgroup.id }}` (Equals/In) and `{{ event.cgroup.path }}` (Equals a
 *   path, or `<path>/*` for the cgroups below it).
 */
import { isIPv4, isIPv6 } from 'node:net';
import { KyvernoRuntimeError } from '../contracts/errors.js';
import type {
  KernelBlockPlan,
  KernelBlockProtocol,
  KernelBlockRule,
  KernelBlockScope,
} from '../contracts/kernel-block.js';
import type { CompileIssue } from './compile.js';

type Raw = Record<string, unknown>;
type Path = (string | number)[];
const isObj = (v: unknown): v is Raw => v !== null && typeof v === 'object' && !Array.isArray(v);

/** A reason a rule cannot be decided in the kernel, with the place in the policy it comes from. */
class NotCompilable extends KyvernoRuntimeError {
  constructor(
    readonly path: Path,
    message: string,
  ) {
    super('E_BLOCK_NOT_COMPILABLE', message);
  }
}

export interface KernelBlockResult {
  issues: CompileIssue[];
  /** Warnings: `block` rules that fall back to their user-space `kill`. */
  warnings: CompileIssue[];
  /** By rule name. */
  plans: Map<string, KernelBlockPlan>;
}

export function kernelBlockPlans(
  spec: Raw,
  policy: { name: string; namespace?: string; namespaced: boolean },
): KernelBlockResult {
  const out: KernelBlockResult = { issues: [], warnings: [], plans: new Map() };
  const rules = Array.isArray(spec.rules) ? spec.rules : [];
  rules.forEach((rule, i) => {
    if (!isObj(rule) || !isObj(rule.restrict)) return;
    const restrict = rule.restrict;
    const actions = Array.isArray(restrict.actions) ? restrict.actions : [];
    const at = actions.findIndex((a) => isObj(a) && 'block' in a);
    if (at < 0) return;
    const path: Path = ['spec', 'rules', i];
    const name = typeof rule.name === 'string' ? rule.name : '';
    try {
      const kernel = compileRule(rule, path, policy);
      out.plans.set(name, { enforcement: 'kernel', rules: kernel });
    } catch (e) {
      if (!(e instanceof NotCompilable)) throw e;
      const hasKill = actions.some((a) => isObj(a) && 'kill' in a);
      const message = `block cannot be decided in the kernel: ${e.message}`;
      if (hasKill) {
        out.warnings.push({
          path: e.path,
          target: 'key',
          message: `${message}; this rule falls back to its user-space kill`,
        });
        out.plans.set(name, { enforcement: 'user-space-kill', reason: e.message });
      } else {
        out.issues.push({
          path: e.path,
          target: 'key',
          message: `${message} (add a kill action to fall back to it, or remove block)`,
        });
      }
    }
  });
  return out;
}

function compileRule(
  rule: Raw,
  path: Path,
  policy: { name: string; namespace?: string; namespaced: boolean },
): KernelBlockRule[] {
  const restrict = rule.restrict as Raw;
  const rpath = [...path, 'restrict'];
  const behaviors = Array.isArray(restrict.behaviors) ? restrict.behaviors : [];
  if (behaviors.length !== 1 || behaviors[0] !== 'network-connect')
    throw new NotCompilable(
      [...rpath, 'behaviors'],
      'block applies to network-connect only (without BPF LSM this kernel cannot block other behaviors)',
    );
  if (policy.namespaced)
    throw new NotCompilable(
      ['kind'],
      'a namespaced RuntimePolicy governs one namespace, which the kernel program cannot tell apart',
    );
  for (const key of ['exclude', 'preconditions', 'celPreconditions', 'context'] as const)
    if (rule[key] !== undefined)
      throw new NotCompilable([...path, key], `${key} needs the engine (the program sees cgroups only)`);
  for (const key of ['pattern', 'cel'] as const)
    if (restrict[key] !== undefined)
      throw new NotCompilable(
        [...rpath, key],
        `restrict.${key} needs the engine: write the destination as conditions`,
      );
  checkMatch(rule.match, [...path, 'match']);
  const conditions = restrict.conditions;
  const cpath = [...rpath, 'conditions'];
  let all: unknown[] = [];
  let any: unknown[] | undefined;
  if (Array.isArray(conditions)) all = conditions;
  else if (isObj(conditions)) {
    for (const k of Object.keys(conditions))
      if (k !== 'all' && k !== 'any')
        throw new NotCompilable([...cpath, k], `conditions.${k} is not compiled`);
    if (Array.isArray(conditions.all)) all = conditions.all;
    if (Array.isArray(conditions.any) && conditions.any.length > 0) any = conditions.any;
  } else if (conditions !== undefined) throw new NotCompilable(cpath, 'conditions must be a list or any/all');
  const allPath = Array.isArray(conditions) ? cpath : [...cpath, 'all'];
  const base = { policy: policy.name, rule: typeof rule.name === 'string' ? rule.name : '' };
  const ns = policy.namespace !== undefined && policy.namespaced ? { policyNamespace: policy.namespace } : {};
  const build = (entries: { c: unknown; at: Path }[]): KernelBlockRule[] => {
    const fields = new Map<string, Compiled>();
    for (const { c, at } of entries) {
      const compiled = compileCondition(c, at);
      if (fields.has(compiled.field))
        throw new NotCompilable(at, `a second condition on event.${compiled.field} is not compiled`);
      fields.set(compiled.field, compiled);
    }
    return expand({ ...base, ...ns }, fields);
  };
  const allEntries = all.map((c, j) => ({ c, at: [...allPath, j] }));
  if (!any) return build(allEntries);
  return any.flatMap((c, j) => build([...allEntries, { c, at: [...cpath, 'any', j] }]));
}

/** The match must cover every process: kinds only, Pod and Node (or `*`) between them. */
function checkMatch(match: unknown, path: Path): void {
  if (!isObj(match)) throw new NotCompilable(path, 'match is required');
  const entries: { r: unknown; at: Path }[] = [];
  if (Array.isArray(match.any)) match.any.forEach((e, j) => entries.push({ r: e, at: [...path, 'any', j] }));
  else if (Array.isArray(match.all) && match.all.length === 1)
    entries.push({ r: match.all[0], at: [...path, 'all', 0] });
  else if (isObj(match.resources)) entries.push({ r: match, at: path });
  else throw new NotCompilable(path, 'match must be one any/all list of resource kinds');
  const kinds = new Set<string>();
  for (const { r, at } of entries) {
    const filter = isObj(r) ? r : {};
    for (const k of Object.keys(filter))
      if (k !== 'resources') throw new NotCompilable([...at, k], `match.${k} needs the engine`);
    const resources = isObj(filter.resources) ? filter.resources : {};
    for (const k of Object.keys(resources))
      if (k !== 'kinds')
        throw new NotCompilable(
          [...at, 'resources', k],
          `match by ${k} needs Kubernetes objects the kernel program does not see; scope it with a condition on event.cgroup.path or event.cgroup.id`,
        );
    for (const kind of Array.isArray(resources.kinds) ? resources.kinds : [])
      if (typeof kind === 'string') kinds.add(kind.replace(/^v1\//, ''));
  }
  if (!kinds.has('*') && !(kinds.has('Pod') && kinds.has('Node')))
    throw new NotCompilable(
      path,
      'match must cover every process (kinds Pod and Node, or *); narrow with event.cgroup conditions instead',
    );
}

type Compiled =
  | { field: 'network.dport'; ports: { lo: number; hi: number }[]; negated: boolean }
  | { field: 'network.daddr'; cidrs: string[]; negated: boolean }
  | { field: 'network.protocol'; protocols: KernelBlockProtocol[] }
  | { field: 'cgroup'; scopes: KernelBlockScope[] };

const KEY = /^\{\{\s*event\.(network\.(?:dport|daddr|protocol)|cgroup\.(?:id|path))\s*\}\}$/;
const POSITIVE = new Set(['Equal', 'Equals', 'In', 'AnyIn']);
const NEGATIVE = new Set(['NotEqual', 'NotEquals', 'NotIn', 'AnyNotIn']);

function compileCondition(c: unknown, at: Path): Compiled {
  if (!isObj(c)) throw new NotCompilable(at, 'a condition must be an object');
  const key = typeof c.key === 'string' ? KEY.exec(c.key.trim()) : null;
  if (!key)
    throw new NotCompilable(
      [...at, 'key'],
      'only {{ event.network.dport }}, {{ event.network.daddr }}, {{ event.network.protocol }}, {{ event.cgroup.id }} and {{ event.cgroup.path }} compile',
    );
  const field = key[1]!;
  const op = typeof c.operator === 'string' ? c.operator : '';
  const negated = NEGATIVE.has(op);
  if (!negated && !POSITIVE.has(op))
    throw new NotCompilable(
      [...at, 'operator'],
      `operator ${op} is not compiled (Equals, In, AnyIn and their Not forms are)`,
    );
  const single = op === 'Equal' || op === 'Equals' || op === 'NotEqual' || op === 'NotEquals';
  const vpath = [...at, 'value'];
  if (single && Array.isArray(c.value)) throw new NotCompilable(vpath, `${op} takes one value`);
  if ((op === 'In' || op === 'NotIn') && !Array.isArray(c.value))
    throw new NotCompilable(vpath, `${op} takes a list (AnyIn and AnyNotIn take one value or a list)`);
  const values: unknown[] = Array.isArray(c.value) ? c.value : [c.value];
  if (values.length === 0) throw new NotCompilable(vpath, 'an empty value list');
  // Kyverno reads "A-B" as a range only as the whole value of AnyIn / AnyNotIn.
  const rangeAllowed = (op === 'AnyIn' || op === 'AnyNotIn') && !Array.isArray(c.value);
  switch (field) {
    case 'network.dport':
      return { field, negated, ports: values.map((v) => portRange(v, vpath, rangeAllowed)) };
    case 'network.daddr':
      return { field, negated, cidrs: values.map((v) => cidrOf(v, vpath)) };
    case 'network.protocol':
      if (negated) throw new NotCompilable([...at, 'operator'], 'only Equals/In/AnyIn compile for protocol');
      return {
        field,
        protocols: values.map((v) => {
          if (v !== 'tcp' && v !== 'udp') throw new NotCompilable(vpath, 'protocol must be tcp or udp');
          return v;
        }),
      };
    case 'cgroup.id':
      if (negated) throw new NotCompilable([...at, 'operator'], 'only Equals/In/AnyIn compile for cgroup.id');
      return {
        field: 'cgroup',
        scopes: values.map((v) => {
          // Events carry the id as a string, and Kyverno does not equate '5' with 5.
          if (typeof v !== 'string' || !/^[1-9][0-9]{0,19}$/.test(v))
            throw new NotCompilable(
              vpath,
              "a cgroup id is written as a quoted integer ('1234'), as events carry it",
            );
          return { kind: 'cgroup-id', id: v };
        }),
      };
    default: {
      if (negated || !single)
        throw new NotCompilable([...at, 'operator'], 'only Equals compiles for cgroup.path');
      const v = values[0];
      if (typeof v !== 'string' || !v.startsWith('/') || v.includes('..') || v.includes('//'))
        throw new NotCompilable(vpath, 'cgroup.path must be an absolute path below the cgroup v2 root');
      const below = v.endsWith('/*');
      const p = below ? v.slice(0, -2) : v;
      if (/[*?]/.test(p) || p === '')
        throw new NotCompilable(vpath, 'cgroup.path takes a path, or <path>/* for the cgroups below it');
      return { field: 'cgroup', scopes: [{ kind: 'cgroup-path', path: p, below }] };
    }
  }
}

/** A port, a numeric string, or (where Kyverno reads one) an "A-B" range. */
function portRange(v: unknown, at: Path, rangesAllowed: boolean): { lo: number; hi: number } {
  const text = typeof v === 'number' ? String(v) : v;
  if (typeof text === 'string') {
    if (/^\d{1,5}$/.test(text)) {
      const n = Number(text);
      if (n <= 65535) return { lo: n, hi: n };
    }
    const m = rangesAllowed ? /^(\d{1,5})-(\d{1,5})$/.exec(text) : null;
    if (m) {
      const lo = Number(m[1]);
      const hi = Number(m[2]);
      if (lo <= hi && hi <= 65535) return { lo, hi };
    }
  }
  throw new NotCompilable(
    at,
    `${JSON.stringify(v)} is not a port${rangesAllowed ? ' or an A-B port range' : ''}`,
  );
}

/** The IPv6 text events carry (RFC 5952), through the URL parser's serializer. */
function canonicalIPv6(text: string): string | undefined {
  try {
    return new URL(`http://[${text}]/`).hostname.slice(1, -1);
  } catch {
    return undefined;
  }
}

const OCTET = /^(?:0|[1-9]\d{0,2})$/;
const HEXTET = /^[1-9a-f][0-9a-f]{0,3}$/;

/**
 * A destination as the engine matches it (text, wildcards) turned into the CIDR that selects exactly
 * the same addresses: literals, and prefix wildcards ending on an octet or hextet boundary.
 */
function cidrOf(v: unknown, at: Path): string {
  if (typeof v !== 'string') throw new NotCompilable(at, `${JSON.stringify(v)} is not an address`);
  // The program decides an IPv4-mapped IPv6 destination as the IPv4 address (and reports it so).
  const mapped = v.startsWith('::ffff:') && !v.slice(7).includes(':') ? v.slice(7) : undefined;
  const text = mapped ?? v;
  if (isIPv4(text)) {
    if (!text.split('.').every((o) => OCTET.test(o)))
      throw new NotCompilable(at, `${v}: write the address without leading zeros (as events carry it)`);
    return `${text}/32`;
  }
  if (mapped === undefined && isIPv6(text)) {
    if (canonicalIPv6(text) !== text)
      throw new NotCompilable(
        at,
        `${v}: write ${canonicalIPv6(text) ?? 'the canonical form'} (as events carry it)`,
      );
    return `${text}/128`;
  }
  if (text.endsWith('.*')) {
    const octets = text.slice(0, -2).split('.');
    if (octets.length <= 3 && octets.every((o) => OCTET.test(o) && Number(o) <= 255))
      return `${[...octets, '0', '0', '0'].slice(0, 4).join('.')}/${octets.length * 8}`;
  }
  if (mapped === undefined && text.endsWith(':*')) {
    // A hextet written first is never 0 (RFC 5952 would have compressed it), so only non-zero ones.
    const hextets = text.slice(0, -2).split(':');
    if (hextets.length <= 7 && hextets.every((h) => HEXTET.test(h)))
      return `${hextets.join(':')}${hextets.length < 8 ? '::' : ''}/${hextets.length * 16}`;
  }
  throw new NotCompilable(
    at,
    `${v} is not compiled: use an address, or a wildcard ending on an octet (10.1.*) or hextet (fd00:*) boundary`,
  );
}

function expand(
  base: { policy: string; rule: string; policyNamespace?: string },
  fields: Map<string, Compiled>,
): KernelBlockRule[] {
  const ports = fields.get('network.dport');
  const addrs = fields.get('network.daddr');
  const protos = fields.get('network.protocol');
  const cgroup = fields.get('cgroup');
  const scopes: KernelBlockScope[] = cgroup?.field === 'cgroup' ? cgroup.scopes : [{ kind: 'all' }];
  return scopes.map((scope) => {
    const r: KernelBlockRule = {
      ...base,
      scope,
      protocols: protos?.field === 'network.protocol' ? [...new Set(protos.protocols)] : [],
    };
    if (ports?.field === 'network.dport') {
      r.ports = ports.ports;
      if (ports.negated) r.portsNegated = true;
    }
    if (addrs?.field === 'network.daddr') {
      r.cidrs = addrs.cidrs;
      if (addrs.negated) r.cidrsNegated = true;
    }
    return r;
  });
}
