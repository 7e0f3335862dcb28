/**
 * Parses bpftrace `-f json` output lines into complete sensor records: a head tuple plus the
 * continuation strings that followed it (see program.ts for the protocol). Every line is untrusted
 * (strings come from arbitrary processes): a line that does not parse is counted and skipped with
 * a reason, never thrown.
 */
import {
  RecordKind,
  TRUNCATED_MARK,
  type RecordHead,
  type RecordKindCode,
  type SensorRecord,
} from '../../events/adapters/bpftrace.js';
import {
  CONTINUATIONS,
  LEAF_BYTES,
  MAX_WALK_STEPS,
  PathStatus,
  RESOLVED_PATH_KINDS,
  SENSOR_STRLEN,
} from './program.js';

/** What the parser tells its owner besides records. */
export type ParserSignal =
  /** `kernelKill`: the probe sent SIGKILL for this record (index in the program's kill table). */
  | { type: 'record'; record: SensorRecord; kernelKill?: number }
  /** Every probe is attached (the program's BEGIN block ran). */
  | { type: 'ready' }
  | { type: 'lost'; events: number }
  /** A line or record skipped; `reason` is a stable code (docs/sensor.md "Drops"). */
  | { type: 'malformed'; reason: 'sensor-malformed' | 'sensor-orphan' | 'sensor-incomplete'; detail: string };

const VALID_KINDS = new Set<number>(Object.values(RecordKind));

/**
 * bpftrace 0.17 escapes bytes >= 0x80 in JSON strings as `\uffffffXX` (a sign-extended char). The
 * line still parses, but as garbage. Rewrite each to `\u00XX` (one code unit per byte), then
 * re-decode those strings from Latin-1 bytes to UTF-8. An escaped backslash (`\\uffff…`) is left
 * alone: only an odd run of backslashes starts an escape.
 */
const SIGN_EXTENDED = /(?<!\\)((?:\\\\)*)\\uffffff([0-9a-f]{2})/g;

export function repairBpftraceJson(line: string): { text: string; repaired: boolean } {
  // Almost every line is ASCII: a substring search is far cheaper than the look-behind regex.
  if (!line.includes('\\uffffff')) return { text: line, repaired: false };
  let repaired = false;
  const text = line.replace(SIGN_EXTENDED, (_m, slashes: string, hex: string) => {
    repaired = true;
    return `${slashes}\\u00${hex}`;
  });
  return { text, repaired };
}

function latin1ToUtf8(s: string): string {
  return Buffer.from(s, 'latin1').toString('utf8');
}

/** Decodes the `%rx` hex dump of NUL-separated argv bytes. */
export function decodeArgv(hexEscaped: string): string[] | undefined {
  const body = hexEscaped.trimEnd();
  if (body.length === 0) return [];
  if (!/^(\\x[0-9a-f]{2})+$/i.test(body)) return undefined;
  const bytes = Buffer.from(body.replace(/\\x/g, ''), 'hex');
  const parts = bytes.toString('utf8').split('\0');
  if (parts.length > 0 && parts[parts.length - 1] === '') parts.pop(); // trailing NUL
  return parts;
}

function isIntLike(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

function parseHead(data: unknown[]): RecordHead | string {
  if (data.length < 10) return `head tuple too short (${data.length} fields)`;
  const [kind, tid, pid, ppid, uid, nsecs, cgroupId, startBootNs, execId, comm, ...fields] = data;
  if (!isIntLike(kind) || !VALID_KINDS.has(kind)) return `unknown record kind ${JSON.stringify(kind)}`;
  for (const [name, v] of [
    ['tid', tid],
    ['pid', pid],
    ['ppid', ppid],
    ['uid', uid],
    ['nsecs', nsecs],
    ['cgroup', cgroupId],
    ['start', startBootNs],
    ['execId', execId],
  ] as const) {
    if (!isIntLike(v)) return `field ${name} is not a number`;
  }
  if (typeof comm !== 'string') return 'comm is not a string';
  const typedFields: (number | string)[] = [];
  for (const f of fields) {
    if (typeof f !== 'number' && typeof f !== 'string') return 'kind-specific field of unexpected type';
    typedFields.push(f);
  }
  return {
    kind: kind as RecordKindCode,
    tid: tid as number,
    pid: pid as number,
    ppid: ppid as number,
    uid: uid as number,
    nsecs: nsecs as number,
    cgroupId: cgroupId as number,
    startBootNs: startBootNs as number,
    execId: execId as number,
    comm,
    fields: typedFields,
  };
}

interface Pending {
  record: SensorRecord;
  needStrings: number;
  needArgv: boolean;
  kernelKill?: number;
}

/**
 * Kill marks waiting for their record's head. A mark whose head was lost would otherwise wait for
 * the thread id's reuse and mark an unrelated record as killed; marks are therefore dropped on lost
 * events and beyond this bound (oldest first, counted as orphans).
 */
export const MAX_KILL_MARKS = 1024;
/**
 * A kill mark and its record are printed by the same probe run (or the entry and exit of one
 * syscall), microseconds apart: a mark older than this found no record (the exit filtered it out)
 * and is dropped, so a reused thread id can never inherit it.
 */
export const KILL_MARK_MAX_AGE_MS = 1000;

/** Threads with path components waiting for their head; beyond it the oldest are dropped (counted). */
const MAX_COMPONENT_THREADS = 1024;

/** Where the head's component count and PathStatus are, per kind that carries a resolved path. */
const PATH_FIELDS: Partial<Record<number, number>> = {
  [RecordKind.exec]: 1,
  [RecordKind.identity]: 1,
  [RecordKind.open]: 2,
};

/** Stateful line parser: feed lines in order, receive signals. */
export class RecordParser {
  private readonly pending = new Map<number, Pending>();
  /** Kill marks by thread: the rule index and when the mark arrived. */
  private readonly killMarks = new Map<number, { rule: number; at: number }>();
  /** Components of a resolved path (deepest first) by thread, until their head arrives. */
  private readonly components = new Map<number, string[]>();

  /**
   * @param prefixDirs The directory components (top first) of each path prefix the program filters
   *   opens on, in its order (GeneratedProgram.prefixDirs): an open that matched prefix i arrives
   *   without them.
   */
  constructor(
    private readonly signal: (s: ParserSignal) => void,
    private readonly prefixDirs: readonly (readonly string[])[] = [],
  ) {}

  /** Number of heads waiting for continuations (bounded by the number of threads mid-event). */
  get pendingCount(): number {
    return this.pending.size;
  }

  line(raw: string): void {
    const trimmed = raw.trim();
    if (trimmed.length === 0) return;
    if (!trimmed.startsWith('{')) {
      this.signal({
        type: 'malformed',
        reason: 'sensor-malformed',
        detail: `not JSON: ${trimmed.slice(0, 80)}`,
      });
      return;
    }
    const { text, repaired } = repairBpftraceJson(trimmed);
    let msg: unknown;
    try {
      msg = JSON.parse(text);
    } catch (err) {
      this.signal({
        type: 'malformed',
        reason: 'sensor-malformed',
        detail: `bad JSON: ${(err as Error).message}`,
      });
      return;
    }
    if (typeof msg !== 'object' || msg === null) return;
    const { type, data } = msg as { type?: unknown; data?: unknown };
    switch (type) {
      case 'value':
        if (Array.isArray(data)) this.value(repaired ? data.map(fixString) : data);
        else
          this.signal({ type: 'malformed', reason: 'sensor-malformed', detail: 'value without array data' });
        return;
      case 'printf':
        if (typeof data === 'string') this.printf(data);
        return;
      case 'lost_events': {
        const events = (data as { events?: unknown } | undefined)?.events;
        if (isIntLike(events)) {
          this.killMarks.clear();
          this.signal({ type: 'lost', events });
        }
        return;
      }
      default:
        return; // maps printed at exit, time stamps, …: not events
    }
  }

  /** Emits every record still waiting (at stop); incomplete ones are counted. */
  flush(): void {
    for (const p of this.pending.values()) this.complete(p, true);
    this.pending.clear();
    this.killMarks.clear();
  }

  private value(data: unknown[]): void {
    if (data[0] === RecordKind.component) {
      const [, tid, name] = data;
      if (!isIntLike(tid) || typeof name !== 'string') {
        this.signal({ type: 'malformed', reason: 'sensor-malformed', detail: 'bad path component tuple' });
        return;
      }
      let list = this.components.get(tid);
      if (!list) {
        if (this.components.size >= MAX_COMPONENT_THREADS) {
          const oldest = this.components.keys().next().value as number;
          this.components.delete(oldest);
          this.signal({
            type: 'malformed',
            reason: 'sensor-orphan',
            detail: `path components of tid ${oldest}`,
          });
        }
        list = [];
        this.components.set(tid, list);
      }
      // The kernel sends at most MAX_WALK_STEPS; more means a lost head: keep the latest walk's.
      if (list.length >= MAX_WALK_STEPS) list.length = 0;
      list.push(name);
      return;
    }
    if (data[0] === RecordKind.continuation) {
      const [, tid, str] = data;
      if (!isIntLike(tid) || typeof str !== 'string') {
        this.signal({ type: 'malformed', reason: 'sensor-malformed', detail: 'bad continuation tuple' });
        return;
      }
      const p = this.pending.get(tid);
      if (!p || p.needStrings === 0) {
        this.signal({ type: 'malformed', reason: 'sensor-orphan', detail: `continuation for tid ${tid}` });
        return;
      }
      p.record.strings.push(str);
      p.needStrings--;
      this.maybeComplete(tid, p);
      return;
    }
    const head = parseHead(data);
    if (typeof head === 'string') {
      this.signal({ type: 'malformed', reason: 'sensor-malformed', detail: head });
      return;
    }
    const previous = this.pending.get(head.tid);
    if (previous) {
      // A thread is in one syscall at a time: a new head means the old one lost its tail.
      this.pending.delete(head.tid);
      this.complete(previous, true);
    }
    const record: SensorRecord = { ...head, strings: [] };
    if (RESOLVED_PATH_KINDS.has(head.kind)) {
      const comps = this.components.get(head.tid) ?? [];
      this.components.delete(head.tid);
      if (head.kind === RecordKind.open) {
        // The file's own name, when short, came in the head (deepest component).
        const leaf = packedLeaf(head.fields, OPEN_LEAF_FIELD);
        if (leaf === null) {
          this.signal({ type: 'malformed', reason: 'sensor-malformed', detail: 'bad packed file name' });
          return;
        }
        if (leaf !== undefined) comps.unshift(leaf);
      }
      // An open's status says, in its second byte, which prefix (1-based) the kernel matched: the
      // prefix's directories were not sent, they are put back on top.
      const status = head.fields[(PATH_FIELDS[head.kind] ?? 0) + 1];
      const clause = head.kind === RecordKind.open && typeof status === 'number' ? (status >> 8) & 0xff : 0;
      if (clause > 0) {
        const dirs = this.prefixDirs[clause - 1];
        if (dirs === undefined) {
          this.signal({ type: 'malformed', reason: 'sensor-malformed', detail: `unknown prefix ${clause}` });
          return;
        }
        for (let i = dirs.length - 1; i >= 0; i--) comps.push(dirs[i]!);
      }
      record.resolved = resolvedPath(comps, head.fields, PATH_FIELDS[head.kind] ?? 0);
    }
    const needStrings = CONTINUATIONS[head.kind] ?? 0;
    const needArgv = head.kind === RecordKind.exec || head.kind === RecordKind.identity;
    const p: Pending = {
      record,
      needStrings: needArgv ? needStrings - 1 : needStrings,
      needArgv,
    };
    // An identity sent ahead of the record a kill mark belongs to does not take the mark.
    const mark = head.kind === RecordKind.identity ? undefined : this.killMarks.get(head.tid);
    if (mark !== undefined) {
      this.killMarks.delete(head.tid);
      if (Date.now() - mark.at <= KILL_MARK_MAX_AGE_MS) p.kernelKill = mark.rule;
    }
    if (p.needStrings === 0 && !p.needArgv) {
      this.emit(p);
      return;
    }
    this.pending.set(head.tid, p);
  }

  private printf(data: string): void {
    if (data === 'R\n') {
      this.signal({ type: 'ready' });
      return;
    }
    // "K <tid> <rule>": the probe killed this thread's process; its record follows.
    const k = /^K (\d+) (\d+)\n$/.exec(data);
    if (k) {
      const tid = Number(k[1]);
      this.killMarks.delete(tid);
      this.killMarks.set(tid, { rule: Number(k[2]), at: Date.now() });
      if (this.killMarks.size > MAX_KILL_MARKS) {
        const oldest = this.killMarks.keys().next().value as number;
        this.killMarks.delete(oldest);
        this.signal({ type: 'malformed', reason: 'sensor-orphan', detail: `kill mark for tid ${oldest}` });
      }
      return;
    }
    // "A <tid> <hex argv>": exec arguments.
    const m = /^A (\d+) (.*)$/s.exec(data);
    if (!m) return;
    const tid = Number(m[1]);
    const p = this.pending.get(tid);
    if (!p?.needArgv) {
      this.signal({ type: 'malformed', reason: 'sensor-orphan', detail: `argv for tid ${tid}` });
      return;
    }
    const argv = decodeArgv(m[2] ?? '');
    if (argv === undefined) {
      this.signal({ type: 'malformed', reason: 'sensor-malformed', detail: 'argv is not a hex dump' });
    } else {
      p.record.argv = argv;
    }
    p.needArgv = false;
    this.maybeComplete(tid, p);
  }

  private maybeComplete(tid: number, p: Pending): void {
    if (p.needStrings > 0 || p.needArgv) return;
    this.pending.delete(tid);
    this.complete(p, false);
  }

  private complete(p: Pending, incomplete: boolean): void {
    if (incomplete) {
      this.signal({
        type: 'malformed',
        reason: 'sensor-incomplete',
        detail: `record kind ${p.record.kind} for tid ${p.record.tid} lost part of its data`,
      });
    }
    this.emit(p);
  }

  private emit(p: Pending): void {
    this.signal(
      p.kernelKill === undefined
        ? { type: 'record', record: p.record }
        : { type: 'record', record: p.record, kernelKill: p.kernelKill },
    );
  }
}

function fixString(v: unknown): unknown {
  return typeof v === 'string' ? latin1ToUtf8(v) : v;
}

/** Where an open head carries its file name's length, followed by its bytes (LEAF_BYTES / 6 numbers). */
const OPEN_LEAF_FIELD = 5;

/**
 * The file name an open's head carries as numbers (six bytes each, little-endian): undefined when
 * there is none (length 0: sent as a component), null when the fields cannot be one.
 */
export function packedLeaf(fields: readonly (number | string)[], at: number): string | undefined | null {
  const len = fields[at];
  if (len === undefined || len === 0) return undefined;
  if (typeof len !== 'number' || !Number.isInteger(len) || len < 0 || len > LEAF_BYTES) return null;
  const bytes = Buffer.alloc(LEAF_BYTES);
  for (let i = 0; i < LEAF_BYTES / 6; i++) {
    const v = fields[at + 1 + i];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0 || v >= 2 ** 48) return null;
    bytes.writeUIntLE(v, i * 6, 6);
  }
  const name = bytes.subarray(0, len);
  // A dentry name never holds a slash or a NUL, nor is it "." or "..".
  if (name.includes(0x2f) || name.includes(0)) return null;
  const text = name.toString('utf8');
  return text === '.' || text === '..' ? null : text;
}

/**
 * Joins the components of a resolved path (sent deepest first). A component of the string cap's
 * length may have been cut, a walk deeper than the bound lost its top, and a count that does not
 * match the head lost components in the ring: each says so (`complete: false`).
 */
function resolvedPath(
  comps: string[],
  fields: (number | string)[],
  at: number,
): NonNullable<SensorRecord['resolved']> {
  const n = fields[at];
  const status = fields[at + 1];
  const st = typeof status === 'number' ? status : PathStatus.truncated;
  const path = '/' + [...comps].reverse().join('/');
  const cut = comps.some((c) => Buffer.byteLength(c, 'latin1') >= SENSOR_STRLEN - 1);
  const truncated = (st & PathStatus.truncated) !== 0;
  return {
    path: truncated ? `${TRUNCATED_MARK}${path}` : path,
    complete: !truncated && n === comps.length && !cut,
    outsideRoot: (st & PathStatus.outsideRoot) !== 0,
    ...(truncated ? { truncated: true as const } : {}),
  };
}
