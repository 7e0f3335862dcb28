/**
 * In-kernel kill: which restrict rules the sensor's own probes can enforce, and the bpftrace
 * predicates that do it. A rule qualifies when its whole condition is decided by what the probe sees
 * at the syscall (binary path, file path prefix and operation, mount target, a change to uid 0,
 * namespace change, ptrace, BPF program load) and it selects every process (kinds Pod and Node, no
 * exclude). The probe then calls bpftrace's `signal("SIGKILL")` (bpf_send_signal): the signal is
 * delivered when the syscall returns, so the process never runs another user-space instruction. The
 * syscall itself still completes (no BPF LSM here to refuse it).
 *
 * Every predicate must be NARROWER than the rule as the engine evaluates it (a kill the engine would
 * not order is a bug): only absolute literal paths are compared (relative ones are resolved in user
 * space, which still kills), and anything the kernel cannot decide exactly leaves the rule to the
 * user-space kill. Hand-written: no library compiles Kyverno patterns to bpftrace.
 */
import type { ActionSpec } from '../../contracts/actions.js';
import type { Behavior } from '../../events/types.js';
import type { RuleEnforcement, SensorRuleView } from '../../engine/api/runtime.js';

/** A literal path, or a prefix (the pattern's trailing `*`). */
export interface PathMatch {
  text: string;
  prefix: boolean;
}

export type FileOperation = 'create' | 'write' | 'rename' | 'delete';
const FILE_OPERATIONS: readonly FileOperation[] = ['create', 'write', 'rename', 'delete'];

/** What the probe of one behavior must see for the rule to hold. */
export type KernelTest =
  | { behavior: 'process-exec'; binary: PathMatch[] }
  | { behavior: 'file-write'; path: PathMatch[]; operations: FileOperation[] }
  | { behavior: 'volume-mount'; target: PathMatch[] }
  | { behavior: 'privilege-escalation'; fromNonRoot: boolean }
  | { behavior: 'namespace-change' | 'ptrace' | 'bpf-load' };

export interface KernelKillRule {
  /** Position in the program's kill table: the probe reports it with the kill. */
  index: number;
  policy: string;
  namespace?: string;
  rule: string;
  tests: KernelTest[];
}

export interface RulePlan extends RuleEnforcement {
  policy: string;
  namespace?: string;
  rule: string;
}

export interface EnforcementPlan {
  rules: RulePlan[];
  /** The rules the probes enforce, indexed as the probes report them. */
  kernel: KernelKillRule[];
}

export interface PlanEnvironment {
  /** Why the in-kernel kill is off (not the built-in sensor, dry-run/audit action mode); undefined = on. */
  kernelKillOff?: string;
  /** BPF LSM answered a probe load (only changes the wording of `block` warnings: no LSM path ships). */
  bpfLsm?: boolean;
}

/** Longest literal compared in the kernel; each comparison is a temporary on the 512-byte BPF stack. */
export const MAX_KERNEL_LITERAL = 96;
/** Budget for one rule's comparison temporaries on the BPF stack. */
const RULE_STACK_BUDGET = 160;

const KERNEL_BEHAVIORS: ReadonlySet<Behavior> = new Set<Behavior>([
  'process-exec',
  'file-write',
  'volume-mount',
  'privilege-escalation',
  'namespace-change',
  'ptrace',
  'bpf-load',
]);

/** Behaviors `block` can refuse on this kernel (the cgroup connect programs); the rest need BPF LSM. */
const BLOCKABLE: ReadonlySet<Behavior> = new Set<Behavior>(['network-connect']);

type Fail = { fail: string };
const fail = (reason: string): Fail => ({ fail: reason });
const isFail = (x: unknown): x is Fail => typeof x === 'object' && x !== null && 'fail' in x;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function actionNamed(actions: readonly ActionSpec[], name: string): Record<string, unknown> | undefined {
  for (const a of actions) {
    const spec = (a as Record<string, unknown>)[name];
    if (spec !== undefined) return isObject(spec) ? spec : {};
  }
  return undefined;
}

/** `/usr/bin/*` → prefix, `/usr/bin/nc` → literal; anything else (operators, inner wildcards) fails. */
export function pathMatches(value: unknown, field: string): PathMatch[] | Fail {
  if (typeof value !== 'string') return fail(`${field} is not a string pattern`);
  const out: PathMatch[] = [];
  for (const part of value.split('|')) {
    const alt = part.trim();
    if (!/^[\x21-\x7e]+$/.test(alt)) return fail(`${field} "${alt}" is not printable ASCII without spaces`);
    if (!alt.startsWith('/')) return fail(`${field} "${alt}" is not an absolute path or prefix`);
    const body = alt.endsWith('*') ? alt.slice(0, -1) : alt;
    if (/[*?&!<>{}"\\]/.test(body))
      return fail(`${field} "${alt}" uses wildcards or operators other than a trailing *`);
    if (body.length > MAX_KERNEL_LITERAL)
      return fail(`${field} "${alt}" is longer than ${MAX_KERNEL_LITERAL} characters`);
    out.push({ text: body, prefix: alt.endsWith('*') });
  }
  return out;
}

/** The fields of `event` a rule's pattern names, checked against what each behavior's probe reads. */
function testFor(behavior: Behavior, event: Record<string, unknown>): KernelTest | Fail {
  const names = (o: Record<string, unknown>): string[] => Object.keys(o).sort();
  const only = (o: unknown, key: string, allowed: readonly string[]): Record<string, unknown> | Fail => {
    if (!isObject(o)) return fail(`event.${key} is not an object pattern`);
    const extra = names(o).filter((k) => !allowed.includes(k));
    return extra.length > 0 ? fail(`event.${key}.${extra[0]} cannot be compared in the kernel`) : o;
  };
  const top = names(event);
  const expect = (keys: readonly string[]): Fail | undefined => {
    const extra = top.filter((k) => !keys.includes(k));
    return extra.length > 0 ? fail(`event.${extra[0]} cannot be compared in the kernel`) : undefined;
  };
  switch (behavior) {
    case 'process-exec': {
      const bad = expect(['process']);
      if (bad) return bad;
      const p = only(event.process, 'process', ['binary']);
      if (isFail(p)) return p;
      if (p.binary === undefined)
        return fail('process-exec without event.process.binary would kill every exec');
      const binary = pathMatches(p.binary, 'event.process.binary');
      return isFail(binary) ? binary : { behavior, binary };
    }
    case 'file-write': {
      const bad = expect(['file']);
      if (bad) return bad;
      const f = only(event.file, 'file', ['path', 'operation']);
      if (isFail(f)) return f;
      if (f.path === undefined) return fail('file-write without event.file.path has no prefix to compare');
      const path = pathMatches(f.path, 'event.file.path');
      if (isFail(path)) return path;
      let operations: FileOperation[] = [...FILE_OPERATIONS];
      if (f.operation !== undefined) {
        if (typeof f.operation !== 'string') return fail('event.file.operation is not a string');
        operations = [];
        for (const o of f.operation.split('|').map((s) => s.trim())) {
          if (!(FILE_OPERATIONS as readonly string[]).includes(o))
            return fail(`event.file.operation "${o}" is not one of ${FILE_OPERATIONS.join(', ')}`);
          operations.push(o as FileOperation);
        }
      }
      return { behavior, path, operations };
    }
    case 'volume-mount': {
      const bad = expect(['mount']);
      if (bad) return bad;
      const m = only(event.mount, 'mount', ['target']);
      if (isFail(m)) return m;
      if (m.target === undefined)
        return fail('volume-mount without event.mount.target would kill every mount');
      const target = pathMatches(m.target, 'event.mount.target');
      return isFail(target) ? target : { behavior, target };
    }
    case 'privilege-escalation': {
      const bad = expect(['privilege']);
      if (bad) return bad;
      const p = only(event.privilege, 'privilege', ['toUid', 'fromUid']);
      if (isFail(p)) return p;
      if (p.toUid !== 0 && p.toUid !== '0')
        return fail('only a change to uid 0 (event.privilege.toUid: 0) is decided in the kernel');
      if (p.fromUid !== undefined && p.fromUid !== '>0' && p.fromUid !== '!0')
        return fail('event.privilege.fromUid other than ">0" cannot be compared in the kernel');
      return { behavior, fromNonRoot: p.fromUid !== undefined };
    }
    case 'namespace-change':
    case 'ptrace':
    case 'bpf-load': {
      const bad = expect([]);
      return bad ?? { behavior };
    }
    case 'alert':
    case 'file-read':
    case 'module-load':
    case 'network-connect':
    case 'network-listen':
    case 'network-accept':
      return fail(`${behavior} has no in-kernel kill`);
  }
}

const UNIVERSAL_KINDS = ['Pod', 'Node'];

/** Why the rule's match does not select every process, if it does not. */
function matchProblem(match: unknown, exclude: unknown, namespace: string | undefined): string | undefined {
  if (namespace !== undefined)
    return `a namespaced policy (${namespace}) applies only to its pods: attribution happens in user space`;
  if (exclude !== undefined && exclude !== null && !(isObject(exclude) && Object.keys(exclude).length === 0))
    return 'exclude needs the attributed pod or node';
  if (!isObject(match)) return 'the rule has no match';
  const universal = (filter: unknown): boolean => {
    if (!isObject(filter)) return false;
    if (Object.keys(filter).some((k) => k !== 'resources')) return false;
    const r = filter.resources;
    if (!isObject(r) || Object.keys(r).some((k) => k !== 'kinds')) return false;
    const kinds = r.kinds;
    if (!Array.isArray(kinds)) return false;
    return kinds.includes('*') || UNIVERSAL_KINDS.every((k) => kinds.includes(k));
  };
  const hasAny = Array.isArray(match.any);
  const hasAll = Array.isArray(match.all);
  let ok: boolean;
  if (hasAny || hasAll) {
    ok =
      (!hasAny || (match.any as unknown[]).some(universal)) &&
      (!hasAll || (match.all as unknown[]).every(universal));
  } else {
    ok = universal(match);
  }
  return ok
    ? undefined
    : 'the match selects by more than kinds [Pod, Node] (namespaces, names, labels or one kind need attribution)';
}

function stackCost(tests: readonly KernelTest[]): number {
  let cost = 0;
  for (const t of tests) {
    const paths = 'binary' in t ? t.binary : 'path' in t ? t.path : 'target' in t ? t.target : [];
    for (const p of paths) cost += p.text.length + 1;
  }
  return cost;
}

/** Decides the enforcement path of every rule; the kernel table holds the in-kernel ones. */
export function planEnforcement(
  rules: readonly SensorRuleView[],
  env: PlanEnvironment = {},
): EnforcementPlan {
  const plan: EnforcementPlan = { rules: [], kernel: [] };
  for (const r of rules) {
    const entry = (path: RulePlan['path'], reason: string, warning?: string): RulePlan => {
      const e: RulePlan = { policy: r.policy, rule: r.rule, path, reason };
      if (r.namespace !== undefined) e.namespace = r.namespace;
      if (warning !== undefined) e.warning = warning;
      return e;
    };
    const kill = actionNamed(r.actions, 'kill');
    const block = actionNamed(r.actions, 'block');
    const unblockable = r.behaviors.filter((b) => !BLOCKABLE.has(b));
    const blockFallsBack = block !== undefined && unblockable.length > 0;
    const blockWarning = (fallback: string): string | undefined =>
      blockFallsBack
        ? `block on ${unblockable.join(', ')} cannot be done by this kernel (${
            env.bpfLsm === true ? 'BPF LSM is available but no LSM program ships' : 'no BPF LSM'
          }): ${fallback}`
        : undefined;
    const verdictOnly = (reason: string): RulePlan =>
      entry('report-only', reason, blockWarning('reported only'));
    if (r.mode !== 'Enforce') {
      plan.rules.push(verdictOnly('Audit: no action runs'));
      continue;
    }
    if (kill === undefined && !blockFallsBack) {
      plan.rules.push(entry('report-only', 'no kill action'));
      continue;
    }
    const userSpace = (reason: string): RulePlan =>
      kill !== undefined
        ? entry('user-space-kill', reason, blockWarning(`no in-kernel kill either (${reason})`))
        : verdictOnly(`block falls back to no kill: ${reason}`);
    const signal = (typeof kill?.signal === 'string' ? kill.signal : 'SIGKILL').toUpperCase();
    if (kill !== undefined && signal !== 'SIGKILL' && signal !== 'KILL') {
      plan.rules.push(userSpace(`kill sends ${signal}; the kernel path sends only SIGKILL`));
      continue;
    }
    if (kill?.dryRun === true || block?.dryRun === true) {
      plan.rules.push(userSpace('the action is dryRun'));
      continue;
    }
    if (env.kernelKillOff !== undefined) {
      plan.rules.push(userSpace(env.kernelKillOff));
      continue;
    }
    if (r.needsEngine.length > 0) {
      plan.rules.push(userSpace(`needs the full engine: ${r.needsEngine.join(', ')}`));
      continue;
    }
    const scope = matchProblem(r.match, r.exclude, r.namespace);
    if (scope !== undefined) {
      plan.rules.push(userSpace(scope));
      continue;
    }
    const outside = r.behaviors.filter((b) => !KERNEL_BEHAVIORS.has(b));
    if (outside.length > 0 || r.behaviors.length === 0) {
      plan.rules.push(userSpace(`${outside.join(', ') || 'no behavior'}: no in-kernel kill`));
      continue;
    }
    if (
      r.pattern !== undefined &&
      !(isObject(r.pattern) && Object.keys(r.pattern).every((k) => k === 'event'))
    ) {
      plan.rules.push(userSpace('the pattern names more than event fields (pod labels, behavior…)'));
      continue;
    }
    const event = isObject(r.pattern) && isObject(r.pattern.event) ? r.pattern.event : {};
    if (
      r.pattern !== undefined &&
      isObject(r.pattern) &&
      r.pattern.event !== undefined &&
      !isObject(r.pattern.event)
    ) {
      plan.rules.push(userSpace('event is not an object pattern'));
      continue;
    }
    const tests: KernelTest[] = [];
    let failed: string | undefined;
    for (const b of [...r.behaviors].sort()) {
      const t = testFor(b, event);
      if (isFail(t)) {
        failed = `${b}: ${t.fail}`;
        break;
      }
      tests.push(t);
    }
    if (failed === undefined && stackCost(tests) > RULE_STACK_BUDGET)
      failed = 'its paths are too many or too long for the BPF stack';
    if (failed !== undefined) {
      plan.rules.push(userSpace(failed));
      continue;
    }
    const k: KernelKillRule = { index: plan.kernel.length, policy: r.policy, rule: r.rule, tests };
    if (r.namespace !== undefined) k.namespace = r.namespace;
    plan.kernel.push(k);
    const why =
      kill !== undefined
        ? 'every condition is decided at the syscall'
        : 'block falls back to the in-kernel kill';
    plan.rules.push(entry('kernel-kill', why, blockWarning('falls back to the in-kernel kill')));
  }
  return plan;
}

// ---- bpftrace --------------------------------------------------------------------------------

const O_CREAT = 0x40;
const O_OTHER_WRITE = 0x1 | 0x2 | 0x200; // O_WRONLY | O_RDWR | O_TRUNC
const PF_KTHREAD = 0x00200000;
const KTHREADD = 2;

function literal(text: string): string {
  // pathMatches admits printable ASCII without quotes or backslashes: nothing to escape.
  return `"${text}"`;
}

/**
 * True when the string at `pointer` is the literal (or starts with the prefix). Exact matches also
 * read the byte after the literal: bpftrace 0.17's string comparisons stop at the literal's length.
 */
export function pathTest(pointer: string, m: PathMatch, user: boolean): string {
  const n = m.text.length;
  const starts = `strncmp(str(${pointer}, ${n + 1}), ${literal(m.text)}, ${n}) == 0`;
  if (m.prefix) return starts;
  const next = user ? `*(uint8 *)uptr(${pointer} + ${n})` : `*(uint8 *)(${pointer} + ${n})`;
  return `(${starts} && ${next} == 0)`;
}

function anyPath(pointer: string, matches: readonly PathMatch[], user: boolean): string {
  return `(${matches.map((m) => pathTest(pointer, m, user)).join(' || ')})`;
}

/** The condition under which `rule` kills at `tracepoint`, or undefined when it does not watch it. */
function ruleCondition(
  rule: KernelKillRule,
  tracepoint: string,
  pathFilter: (pointer: string) => string,
): string | undefined {
  const parts: string[] = [];
  for (const t of rule.tests) {
    const c = testCondition(t, tracepoint, pathFilter);
    if (c !== undefined) parts.push(c);
  }
  return parts.length === 0 ? undefined : parts.length === 1 ? parts[0] : `(${parts.join(' || ')})`;
}

function testCondition(
  t: KernelTest,
  tracepoint: string,
  pathFilter: (pointer: string) => string,
): string | undefined {
  const tp = tracepoint.replace(/^syscalls:sys_enter_/, '');
  // The sensor's own filter too: a kill is only ever sent for a record the probe also prints.
  const file = (pointer: string, ops: string): string =>
    `(${ops}${anyPath(pointer, (t as { path: PathMatch[] }).path, true)} && ${pathFilter(pointer)})`;
  switch (t.behavior) {
    case 'process-exec':
      return tracepoint === 'sched:sched_process_exec'
        ? anyPath('args->filename', t.binary, false)
        : undefined;
    case 'file-write': {
      const ops = new Set(t.operations);
      if (tp === 'openat' || tp === 'openat2') {
        const flags = tp === 'openat' ? 'args->flags' : '((struct open_how *)args->how)->flags';
        const create = ops.has('create');
        const write = ops.has('write');
        if (!create && !write) return undefined;
        const mode =
          create && write
            ? `(${flags} & ${O_CREAT | O_OTHER_WRITE}) != 0`
            : create
              ? `(${flags} & ${O_CREAT}) != 0`
              : `(${flags} & ${O_CREAT}) == 0 && (${flags} & ${O_OTHER_WRITE}) != 0`;
        return file('args->filename', `${mode} && `);
      }
      if (tp === 'rename' || tp === 'renameat' || tp === 'renameat2')
        return ops.has('rename') ? file('args->newname', '') : undefined;
      if (tp === 'unlink' || tp === 'unlinkat')
        return ops.has('delete') ? file('args->pathname', '') : undefined;
      return undefined;
    }
    case 'volume-mount':
      if (tp === 'mount') return anyPath('args->dir_name', t.target, true);
      if (tp === 'move_mount') return anyPath('args->to_pathname', t.target, true);
      return undefined;
    case 'privilege-escalation': {
      const from = t.fromNonRoot ? 'uid != 0 && ' : '';
      const id = (f: string): string => `(args->${f} & 0xffffffff)`;
      if (tp === 'setuid') return `(${from}${id('uid')} == 0)`;
      if (tp === 'setresuid')
        return `(${from}(${id('euid')} == 0 || (${id('euid')} == 0xffffffff && ${id('ruid')} == 0)))`;
      return undefined;
    }
    case 'namespace-change':
      return tp === 'setns' || tp === 'unshare' ? '1' : undefined;
    case 'ptrace':
      return tp === 'ptrace' ? '1' : undefined;
    case 'bpf-load':
      return tp === 'bpf' ? '1' : undefined; // the probe's own predicate already asks for BPF_PROG_LOAD
  }
}

/**
 * Never signalled from the kernel, like the user-space kill's protected targets: the agent (any
 * thread: `pid` is the thread group), its direct children (bpftrace, including the next one during a
 * reload swap), bpftrace itself, init, kernel threads and kthreadd's children.
 */
export function protectionGuard(selfPid: number): string {
  return [
    `pid != ${selfPid}`,
    'pid != @bpftrace_pid',
    'pid != 1',
    `pid != ${KTHREADD}`,
    `curtask->real_parent->tgid != ${selfPid}`,
    `curtask->real_parent->tgid != ${KTHREADD}`,
    `(curtask->flags & ${PF_KTHREAD}) == 0`,
  ].join(' && ');
}

/** Kill prelude for one probe; undefined when no kernel rule watches this tracepoint. */
export function killWrap(
  tracepoint: string,
  rules: readonly KernelKillRule[],
  selfPid: number,
  pathFilter: (pointer: string) => string,
): string | undefined {
  const lines: string[] = [];
  for (const r of rules) {
    const c = ruleCondition(r, tracepoint, pathFilter);
    if (c !== undefined) lines.push(`    if ($kk == 0 && ${c}) { $kk = ${r.index + 1}; }`);
  }
  if (lines.length === 0) return undefined;
  // "K <tid> <rule>" precedes the record it marks; the parser attaches it to the thread's next head.
  return `  $kk = 0;
  if (${protectionGuard(selfPid)}) {
${lines.join('\n')}
  }
  if ($kk != 0) { printf("K %d %d\\n", tid, $kk - 1); signal("SIGKILL"); }`;
}

/** A stable key of the kernel table, to tell when the program must be regenerated. */
export function kernelKillKey(rules: readonly KernelKillRule[] | undefined): string {
  return JSON.stringify(rules ?? []);
}
