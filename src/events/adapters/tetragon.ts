/**
 * Tetragon export JSON (`tetra getevents -o json`, the export file, export-stdout) → RuntimeEvent.
 * Protojson rules: snake_case keys, 64-bit ints as strings, zero values omitted, unknown keys
 * ignored; re-serialised captures add explicit nulls, which read as absent here.
 */
import { blankRecord } from '../../util/blank-record.js';
import type {
  AlertInfo,
  Behavior,
  ContainerInfo,
  NetworkInfo,
  ParentInfo,
  PodInfo,
  ProcessInfo,
  RuntimeEvent,
} from '../types.js';
import { eventContainerId } from '../container-id.js';
import {
  familyOf,
  fileOperationFromOpenFlags,
  isRfc3339,
  normaliseSyscallSymbol,
  splitCommandLine,
  stableId,
} from './common.js';
import { emitted, skip, type AdaptOptions, type AdaptOutcome } from './outcome.js';
import {
  compact,
  int,
  isEmpty,
  isObject,
  obj,
  port,
  str,
  stringMap,
  strArray,
  uint32,
  type JsonObject,
} from './read.js';
import { ENFORCING_ACTIONS, TETRAGON_HOOKS, type HookMapping } from './tetragon-hooks.js';

/**
 * The hook table as a Map: a symbol from the event is looked up by a string JSON.parse just made,
 * which a Map hashes faster than an object's keyed load, and a symbol named like an Object.prototype
 * member ("constructor") finds nothing.
 */
const HOOKS: ReadonlyMap<string, HookMapping> = new Map(Object.entries(TETRAGON_HOOKS));

/** Envelope keys of GetEventsResponse that are not the event itself. */
const ENVELOPE_KEYS: ReadonlySet<string> = new Set([
  'node_name',
  'time',
  'cluster_name',
  'node_labels',
  'aggregation_info',
]);

/** Hook events: their args are mapped through TETRAGON_HOOKS. */
const HOOK_TYPES: ReadonlySet<string> = new Set([
  'process_kprobe',
  'process_tracepoint',
  'process_lsm',
  'process_uprobe',
  'process_usdt',
]);

/** Known event types that carry no behavior of the vocabulary (counted as "no-behavior"). */
const NO_BEHAVIOR_TYPES: ReadonlySet<string> = new Set(['process_exit', 'process_loader', 'process_close']);

/** Tetragon's own housekeeping notices (counted as "tool-internal"). */
const INTERNAL_TYPES: ReadonlySet<string> = new Set(['process_throttle', 'rate_limit_info', 'test']);

/** True when the object looks like a Tetragon GetEventsResponse (used by auto-detection). */
export function looksLikeTetragon(record: JsonObject): boolean {
  if (!('time' in record) && !('node_name' in record)) return false;
  const key = eventKey(record);
  return key !== undefined && (key.startsWith('process_') || INTERNAL_TYPES.has(key));
}

/** The oneof key holding the event: the first non-envelope key whose value is an object. */
function eventKey(record: JsonObject): string | undefined {
  for (const key in record) {
    if (ENVELOPE_KEYS.has(key)) continue;
    if (isObject(record[key])) return key;
  }
  return undefined;
}

export function adaptTetragon(record: JsonObject, options: AdaptOptions): AdaptOutcome {
  const type = eventKey(record);
  if (type === undefined)
    return skip('invalid-event', 'tetragon: no event key (process_exec, process_kprobe, …)');
  const body = record[type] as JsonObject;

  if (NO_BEHAVIOR_TYPES.has(type)) return skip('no-behavior', `tetragon: ${type} carries no behavior`);
  if (INTERNAL_TYPES.has(type)) return skip('tool-internal', `tetragon: ${type} is an agent notice`);
  const known = type === 'process_exec' || type === 'process_connect' || type === 'process_listen';
  if (!known && !HOOK_TYPES.has(type)) {
    // Tetragon event keys are process_*; anything else (and no envelope) is not a Tetragon event.
    const envelope = 'time' in record || 'node_name' in record;
    if (!envelope || !type.startsWith('process_'))
      return skip('invalid-event', `tetragon: not an event (key ${type})`);
    return skip('unsupported-type', `tetragon: unsupported event type ${type}`);
  }

  const rawTime = str(record.time);
  // process_exec without an envelope time (Tetragon's own testdata): the exec time is the event time.
  const execTime = type === 'process_exec' ? str(obj(body.process)?.start_time) : undefined;
  const time =
    rawTime !== undefined && isRfc3339(rawTime)
      ? rawTime
      : execTime !== undefined && isRfc3339(execTime)
        ? execTime
        : options.fallbackTime;
  if (time === undefined) return skip('missing-time', `tetragon: ${type} without a valid time`);

  const node = str(record.node_name);
  const processObj = obj(body.process);
  const event: RuntimeEvent = {
    id: '',
    time,
    source: 'tetragon',
    behavior: 'alert',
    sourceEvent: type,
  };
  if (node !== undefined) event.node = node;
  if (processObj) fillProcess(event, processObj);
  const parentObj = obj(body.parent);
  const parent = parentObj && parentInfo(parentObj);
  if (parent) event.parent = parent;

  let functionName: string | undefined;
  if (type === 'process_exec') {
    event.behavior = 'process-exec';
  } else if (type === 'process_connect' || type === 'process_listen') {
    legacyNetwork(event, type, body);
  } else {
    functionName = hookEvent(event, type, body);
  }

  event.id = stableId('tetragon', [node, time, str(processObj?.exec_id), type, functionName]);
  if (options.keepRaw !== false) event.raw = record;
  return emitted('tetragon', event);
}

// The info blocks below are filled field by field, in output order, instead of built as literals
// with undefined values and passed through compact(): these run for every event, and a generic
// compact over many object shapes was among the adapter's top costs.

function fillProcess(event: RuntimeEvent, p: JsonObject): void {
  const process: ProcessInfo = blankRecord();
  const pid = uint32(p.pid);
  if (pid !== undefined) process.pid = pid;
  const uid = uint32(p.uid);
  if (uid !== undefined) process.uid = uid;
  const binary = str(p.binary);
  if (binary !== undefined) process.binary = binary;
  const arguments_ = str(p.arguments);
  if (arguments_ !== undefined) process.args = splitCommandLine(arguments_);
  const cwd = str(p.cwd);
  if (cwd !== undefined) process.cwd = cwd;
  const execId = str(p.exec_id);
  if (execId !== undefined) process.execId = execId;
  const startTime = str(p.start_time);
  if (startTime !== undefined) process.startTime = startTime;
  if (!isEmpty(process)) event.process = process;

  const pod = obj(p.pod);
  const containerObj = obj(pod?.container);
  const container: ContainerInfo = blankRecord();
  const containerId = str(containerObj?.id) ?? str(p.docker);
  if (containerId !== undefined) container.id = eventContainerId(containerId);
  const containerName = str(containerObj?.name);
  if (containerName !== undefined) container.name = containerName;
  const image = obj(containerObj?.image);
  const imageName = str(image?.name) ?? str(image?.id);
  if (imageName !== undefined) container.image = imageName;
  if (!isEmpty(container)) event.container = container;

  if (pod) {
    const info: PodInfo = blankRecord();
    const namespace = str(pod.namespace);
    if (namespace !== undefined) info.namespace = namespace;
    const name = str(pod.name);
    if (name !== undefined) info.name = name;
    const podUid = str(pod.uid);
    if (podUid !== undefined) info.uid = podUid;
    const labels = stringMap(pod.pod_labels);
    if (labels !== undefined) info.labels = labels;
    const workload = str(pod.workload);
    if (workload !== undefined) info.workload = workload;
    const workloadKind = str(pod.workload_kind);
    if (workloadKind !== undefined) info.workloadKind = workloadKind;
    if (!isEmpty(info)) event.pod = info;
  }
}

function parentInfo(p: JsonObject): ParentInfo | undefined {
  const parent: ParentInfo = blankRecord();
  const pid = uint32(p.pid);
  if (pid !== undefined) parent.pid = pid;
  const binary = str(p.binary);
  if (binary !== undefined) parent.binary = binary;
  const arguments_ = str(p.arguments);
  if (arguments_ !== undefined) parent.args = splitCommandLine(arguments_);
  return isEmpty(parent) ? undefined : parent;
}

/** Enterprise-only 2022 events (process_connect / process_listen), still seen in old exports. */
function legacyNetwork(event: RuntimeEvent, type: string, body: JsonObject): void {
  const protocol = str(body.protocol)?.toLowerCase();
  if (type === 'process_connect') {
    event.behavior = 'network-connect';
    const daddr = str(body.destination_ip);
    event.network = compact({
      protocol,
      family: daddr !== undefined ? familyOf(daddr) : undefined,
      saddr: str(body.source_ip),
      sport: port(body.source_port),
      daddr,
      dport: port(body.destination_port),
    });
  } else {
    event.behavior = 'network-listen';
    const saddr = str(body.ip);
    event.network = compact({
      protocol,
      family: saddr !== undefined ? familyOf(saddr) : undefined,
      saddr,
      sport: port(body.port),
    });
  }
}

/** One hook argument, typed by its single key (file_arg, int_arg, …) plus an optional label. */
interface HookArgs {
  strings: string[];
  ints: number[];
  paths: string[];
  sock?: JsonObject;
  sockaddr?: JsonObject;
  module?: JsonObject;
  creds?: JsonObject;
  capability?: JsonObject;
  /** Values by label, when the TracingPolicy labels its args (created only then). */
  labelled?: Map<string, unknown>;
}

function readArgs(value: unknown): HookArgs {
  const args: HookArgs = { strings: [], ints: [], paths: [] };
  if (!Array.isArray(value)) return args;
  for (const item of value) {
    if (!isObject(item)) continue;
    const label = str(item.label);
    for (const key in item) {
      if (key === 'label') continue;
      const v = item[key];
      if (v === null || v === undefined) continue;
      if (label !== undefined) (args.labelled ??= new Map()).set(label, v);
      switch (key) {
        case 'string_arg': {
          const s = str(v);
          if (s !== undefined) args.strings.push(s);
          break;
        }
        case 'int_arg':
        case 'uint_arg':
        case 'long_arg':
        case 'size_arg': {
          const n = int(v);
          if (n !== undefined) args.ints.push(n);
          break;
        }
        case 'file_arg':
        case 'path_arg':
        case 'linux_binprm_arg': {
          const p = str(obj(v)?.path);
          if (p !== undefined) args.paths.push(p);
          break;
        }
        case 'sock_arg':
        case 'skb_arg':
          args.sock ??= obj(v);
          break;
        case 'sockaddr_arg':
          args.sockaddr ??= obj(v);
          break;
        case 'module_arg':
          args.module ??= obj(v);
          break;
        case 'process_credentials_arg':
          args.creds ??= obj(v);
          break;
        case 'capability_arg':
          args.capability ??= obj(v);
          break;
        default:
          break;
      }
    }
  }
  return args;
}

/** Maps a hook event; returns the function/tracepoint name (part of the id). */
function hookEvent(event: RuntimeEvent, type: string, body: JsonObject): string | undefined {
  let name: string | undefined;
  let mapping: HookMapping | undefined;
  if (type === 'process_tracepoint') {
    const subsys = str(body.subsys);
    const tp = str(body.event);
    name = subsys !== undefined && tp !== undefined ? `${subsys}/${tp}` : tp;
    if (tp !== undefined) mapping = HOOKS.get(tracepointSymbol(tp));
  } else if (type === 'process_uprobe' || type === 'process_usdt') {
    name = str(body.symbol) ?? str(body.name) ?? str(body.path);
  } else {
    name = str(body.function_name);
    if (name !== undefined) mapping = lookupHook(name, type === 'process_lsm');
  }
  event.sourceEvent = name !== undefined ? `${type}:${name}` : type;

  const action = str(body.action);
  const returnAction = str(body.return_action);
  if ((action && ENFORCING_ACTIONS.has(action)) || (returnAction && ENFORCING_ACTIONS.has(returnAction))) {
    event.enforced = true;
  }

  const policy = str(body.policy_name);
  const tags = nonEmpty(strArray(body.tags));
  const message = str(body.message);
  if (policy !== undefined || tags !== undefined || message !== undefined) {
    const alert: AlertInfo = blankRecord();
    if (policy !== undefined) alert.rule = policy;
    if (tags !== undefined) alert.tags = tags;
    if (message !== undefined) alert.output = message;
    event.alert = alert;
  }

  let behavior: Behavior | undefined;
  if (mapping) {
    const args = readArgs(body.args);
    // A kretprobe's returnArg (inet_csk_accept's new sock) arrives in "return", not in "args".
    const returned = obj(body.return);
    if (returned && !args.sock) args.sock = readArgs([returned]).sock;
    behavior = applyHook(event, mapping, args);
  }
  if (behavior) {
    event.behavior = behavior;
  } else {
    // A hook no row maps: still a detection by the TracingPolicy that selected it.
    event.behavior = 'alert';
    // Set in place (the block is this event's own): a spread that adds a key is slow in V8.
    const alert: AlertInfo = event.alert ?? blankRecord();
    alert.rule = policy ?? name ?? type;
    event.alert = alert;
  }
  return name;
}

function nonEmpty(values: string[] | undefined): string[] | undefined {
  return values && values.length > 0 ? values : undefined;
}

function tracepointSymbol(tp: string): string {
  if (tp.startsWith('sys_enter_')) return 'sys_' + tp.slice(10);
  if (tp.startsWith('sys_exit_')) return 'sys_' + tp.slice(9);
  return tp;
}

function lookupHook(name: string, lsm: boolean): HookMapping | undefined {
  const symbol = normaliseSyscallSymbol(name.startsWith('bpf_lsm_') ? name.slice(8) : name);
  if (lsm) return HOOKS.get(`security_${symbol}`) ?? HOOKS.get(symbol);
  return HOOKS.get(symbol);
}

const MAY_WRITE = 2;
const MAY_APPEND = 8;
const READING_MODULE = 2;

function applyHook(event: RuntimeEvent, mapping: HookMapping, args: HookArgs): Behavior | undefined {
  switch (mapping.kind) {
    case 'exec':
      if (args.paths[0] !== undefined || args.strings[0] !== undefined) {
        event.file = { path: (args.paths[0] ?? args.strings[0])! };
      }
      return 'process-exec';
    case 'mount': {
      const labelled = (key: string): string | undefined => str(args.labelled?.get(key));
      // sys_mount(source, target, fstype, …) as strings; LSM/path hooks give the target as a path.
      const target = labelled('target') ?? labelled('dir_name') ?? args.paths[0] ?? args.strings[1];
      const fstype =
        labelled('fstype') ?? labelled('type') ?? (args.paths[0] ? args.strings[1] : args.strings[2]);
      event.mount = compact({
        source: labelled('source') ?? labelled('dev_name') ?? args.strings[0],
        target,
        fstype,
      });
      return 'volume-mount';
    }
    case 'connect':
      event.network = socketInfo(args, 'connect');
      return 'network-connect';
    case 'listen':
      event.network = socketInfo(args, 'listen');
      return 'network-listen';
    case 'accept':
      // A socket's saddr/daddr are its own local/remote ends, as the event model orients them; a
      // sockaddr argument (accept(2)'s) is the peer.
      event.network = socketInfo(args, 'connect');
      return 'network-accept';
    case 'tcp-state': {
      const direction = tcpTransition(str(args.sock?.state), args.ints[0]);
      if (direction === undefined) return undefined;
      event.network = socketInfo(args, direction === 'listen' ? 'listen' : 'connect');
      return direction === 'listen'
        ? 'network-listen'
        : direction === 'accept'
          ? 'network-accept'
          : 'network-connect';
    }
    case 'file-permission': {
      const mask = args.ints[0] ?? 0;
      const write = (mask & (MAY_WRITE | MAY_APPEND)) !== 0;
      event.file = compact({
        path: args.paths[0],
        operation: write ? ('write' as const) : ('read' as const),
      });
      return write ? 'file-write' : 'file-read';
    }
    case 'file-open': {
      const labelled = int(args.labelled?.get('flags'));
      // openat(dirfd, path, flags): the flags are the int after the path, i.e. the last int.
      const flags = labelled ?? (args.ints.length > 1 ? args.ints[args.ints.length - 1] : args.ints[0]) ?? 0;
      const operation = fileOperationFromOpenFlags(flags);
      event.file = compact({ path: args.paths[0] ?? args.strings[0], operation });
      return operation === 'read' ? 'file-read' : 'file-write';
    }
    case 'file-write':
      event.file = compact({ path: args.paths[0] ?? args.strings[0], operation: mapping.op ?? 'write' });
      return 'file-write';
    case 'file-read':
      event.file = compact({ path: args.paths[0] ?? args.strings[0], operation: 'read' as const });
      return 'file-read';
    case 'setuid':
      event.privilege = compact({ fromUid: event.process?.uid, toUid: targetId(args.ints) });
      return 'privilege-escalation';
    case 'setgid':
      event.privilege = compact({ fromUid: event.process?.uid, toGid: targetId(args.ints) });
      return 'privilege-escalation';
    case 'creds': {
      const creds = args.creds;
      event.privilege = compact({
        fromUid: event.process?.uid,
        toUid: uint32(creds?.euid) ?? uint32(creds?.uid),
        toGid: uint32(creds?.egid) ?? uint32(creds?.gid),
      });
      return 'privilege-escalation';
    }
    case 'capability':
      event.privilege = compact({ fromUid: event.process?.uid, capability: str(args.capability?.name) });
      return 'privilege-escalation';
    case 'module':
      event.module = compact({ name: str(args.module?.name) ?? args.strings[0] ?? args.paths[0] });
      return 'module-load';
    case 'kernel-read-file':
      if (args.ints[0] === READING_MODULE) {
        event.module = compact({ name: args.paths[0] });
        return 'module-load';
      }
      event.file = compact({ path: args.paths[0], operation: 'read' as const });
      return 'file-read';
    case 'ptrace':
      return 'ptrace';
    case 'namespace':
      return 'namespace-change';
    case 'bpf':
      return 'bpf-load';
  }
}

const TCP_ESTABLISHED = 1;
const TCP_SYN_SENT = 2;
const TCP_LISTEN = 10;

/**
 * tcp_set_state(sk, state): the sock argument shows the state being left. Entering LISTEN is a
 * listener, SYN_SENT an outbound connect, ESTABLISHED from SYN_RECV an accepted connection (from
 * SYN_SENT the connect already reported). Other transitions are no behavior of ours.
 */
function tcpTransition(
  from: string | undefined,
  to: number | undefined,
): 'listen' | 'connect' | 'accept' | undefined {
  if (to === TCP_LISTEN) return 'listen';
  if (to === TCP_SYN_SENT) return 'connect';
  if (to === TCP_ESTABLISHED && (from === 'TCP_SYN_RECV' || from === 'TCP_NEW_SYN_RECV')) return 'accept';
  return undefined;
}

/** setuid(uid) / setreuid(r, e) / setresuid(r, e, s): the effective id, -1 meaning "unchanged". */
function targetId(ints: number[]): number | undefined {
  const effective = ints.length > 1 && ints[1] !== -1 ? ints[1] : ints[0];
  return effective !== undefined && effective >= 0 ? uint32(effective) : undefined;
}

const FAMILIES: Readonly<Record<string, 'ipv4' | 'ipv6' | 'unix'>> = {
  AF_INET: 'ipv4',
  AF_INET6: 'ipv6',
  AF_UNIX: 'unix',
  AF_LOCAL: 'unix',
};

function socketInfo(args: HookArgs, direction: 'connect' | 'listen'): RuntimeEvent['network'] {
  // Fields are assigned one by one in the output order, rather than spread and compacted: a spread
  // plus a generic compact was this adapter's top cost on connect-heavy streams.
  const network: NetworkInfo = blankRecord();
  const sock = args.sock;
  if (sock) {
    const saddr = str(sock.saddr);
    const protocol = protocolName(str(sock.protocol) ?? str(sock.proto));
    const family = FAMILIES[str(sock.family) ?? ''] ?? (saddr ? familyOf(saddr) : undefined);
    if (protocol !== undefined) network.protocol = protocol;
    if (family !== undefined) network.family = family;
    if (saddr !== undefined) network.saddr = saddr;
    const sport = port(sock.sport);
    if (sport !== undefined) network.sport = sport;
    if (direction === 'connect') {
      const daddr = str(sock.daddr);
      if (daddr !== undefined) network.daddr = daddr;
      const dport = port(sock.dport);
      if (dport !== undefined) network.dport = dport;
    }
    return isEmpty(network) ? undefined : network;
  }
  const sa = args.sockaddr;
  if (sa) {
    const addr = str(sa.addr);
    const family = FAMILIES[str(sa.family) ?? ''] ?? (addr ? familyOf(addr) : undefined);
    if (family !== undefined) network.family = family;
    const p = port(sa.port);
    if (direction === 'listen') {
      if (addr !== undefined) network.saddr = addr;
      if (p !== undefined) network.sport = p;
    } else {
      if (addr !== undefined) network.daddr = addr;
      if (p !== undefined) network.dport = p;
    }
    return isEmpty(network) ? undefined : network;
  }
  return undefined;
}

function protocolName(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  return value.startsWith('IPPROTO_') ? value.slice(8).toLowerCase() : value.toLowerCase();
}
