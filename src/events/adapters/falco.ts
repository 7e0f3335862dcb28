/**
 * Falco JSON alerts → RuntimeEvent: http_output / file / stdout with json_output, Falcosidekick
 * webhook payloads (same keys + uuid), and the legacy gRPC rendering ({seconds,nanos} time,
 * numeric priority). Context lives only in the flat `output_fields` map; every field is optional,
 * and null / "<NA>" mean absent. The text `output` is kept for display and never parsed.
 */
import { blankRecord } from '../../util/blank-record.js';
import type {
  AlertInfo,
  Behavior,
  ContainerInfo,
  FileInfo,
  FileOperation,
  NetworkInfo,
  ParentInfo,
  PodInfo,
  ProcessInfo,
  RuntimeEvent,
} from '../types.js';
import { eventContainerId } from '../container-id.js';
import {
  familyOf,
  fileOperationFromFlagNames,
  firstWord,
  isRfc3339,
  parseHostPort,
  splitOnSpaces,
  stableId,
  timeFromUnix,
  timeFromUnixNanos,
} from './common.js';
import {
  FALCO_EVT_TYPES,
  FALCO_OPEN_TYPES,
  FALCO_PRIORITIES,
  FALCO_RULES,
  type FalcoMapping,
} from './falco-rules.js';
import { emitted, skip, type AdaptOptions, type AdaptOutcome } from './outcome.js';
import {
  compact,
  int,
  isEmpty,
  isObject,
  obj,
  parseLabelList,
  port,
  str,
  stringMap,
  strArray,
  uint32,
  type JsonObject,
} from './read.js';

/** Falco text alerts: "HH:MM:SS.nnnnnnnnn: <Priority> …" (used by adaptLine to give a precise reason). */
const TEXT_ALERT =
  /^\d{2}:\d{2}:\d{2}\.\d{1,9}: (Emergency|Alert|Critical|Error|Warning|Notice|Informational|Info|Debug) /;

export function looksLikeFalcoText(line: string): boolean {
  return TEXT_ALERT.test(line);
}

/** Rule name; Go decoders are case-insensitive, so Talon test payloads say "Rule". */
function ruleOf(record: JsonObject): string | undefined {
  return str(record.rule) ?? str(record.Rule);
}

export function looksLikeFalco(record: JsonObject): boolean {
  return (
    ruleOf(record) !== undefined && ('output_fields' in record || 'output' in record || 'priority' in record)
  );
}

const EMPTY: JsonObject = {};

/**
 * The mapping tables as Maps: rule names and event types are strings JSON.parse just made, which a
 * Map hashes faster than an object's keyed load, and a rule named like an Object.prototype member
 * ("constructor") finds nothing.
 */
const RULES: ReadonlyMap<string, FalcoMapping> = new Map(Object.entries(FALCO_RULES));
const EVT_TYPES: ReadonlyMap<string, FalcoMapping> = new Map(Object.entries(FALCO_EVT_TYPES));

export function adaptFalco(record: JsonObject, options: AdaptOptions): AdaptOutcome {
  const rule = ruleOf(record);
  if (rule === undefined) return skip('invalid-event', 'falco: missing "rule"');
  const fields = obj(record.output_fields) ?? EMPTY;
  const source = normaliseSource(str(record.source));
  if (source === 'internal' || rule.startsWith('Falco internal:')) {
    return skip('tool-internal', `falco: internal alert "${rule}"`);
  }

  const time = falcoTime(record.time, fields, options);
  if (time === null) return skip('invalid-event', 'falco: "time" is not RFC 3339');
  if (time === undefined) return skip('missing-time', 'falco: no "time" and no evt.time');

  const evtType = str(fields['evt.type']);
  const typeMapping = evtType !== undefined ? EVT_TYPES.get(evtType) : undefined;
  const mapped = RULES.get(rule) ?? typeMapping;
  let behavior: Behavior = mapped?.behavior ?? 'alert';
  // Inbound rules also fire on listen(2)/bind(2): those are listeners, not accepted connections.
  if (behavior === 'network-accept' && typeMapping?.behavior === 'network-listen')
    behavior = 'network-listen';
  let operation: FileOperation | undefined = mapped?.op;
  // An evt.type that names the operation precisely wins over the rule's default operation.
  const typeOp = typeMapping?.op;
  if (typeOp !== undefined && (behavior === 'file-read' || behavior === 'file-write')) operation = typeOp;
  if (
    evtType !== undefined &&
    FALCO_OPEN_TYPES.has(evtType) &&
    (behavior === 'file-read' || behavior === 'file-write')
  ) {
    const flags = str(fields['evt.arg.flags']);
    const isWrite = fields['evt.is_open_write'] === true || fields['evt.is_open_write'] === 'true';
    const fromFlags = flags !== undefined ? fileOperationFromFlagNames(flags) : undefined;
    if (isWrite || (fromFlags !== undefined && fromFlags !== 'read')) {
      behavior = 'file-write';
      operation = fromFlags === 'create' ? 'create' : 'write';
    } else if (mapped === typeMapping) {
      operation = 'read';
    }
  }

  const node = str(fields['evt.hostname']) ?? str(record.hostname);
  const output = str(record.output);
  const event: RuntimeEvent = {
    id: stableId('falco', [node, time, rule, output]),
    time,
    source: 'falco',
    behavior,
    sourceEvent: evtType ?? rule,
    alert: alertInfo(rule, normalisePriority(record.priority), strArray(record.tags), output),
  };
  if (node !== undefined) event.node = node;
  fillWorkload(event, fields);
  fillProcess(event, fields);

  // Only the block(s) relevant to the behavior; an `alert` keeps whatever context it carries.
  if (
    behavior === 'network-connect' ||
    behavior === 'network-listen' ||
    behavior === 'network-accept' ||
    behavior === 'alert'
  ) {
    // A listener or an accepted connection is the server end; a connect the client end.
    const network = networkInfo(fields, behavior === 'network-accept' || behavior === 'network-listen');
    if (network) event.network = network;
  }
  if (behavior === 'file-read' || behavior === 'file-write' || behavior === 'alert') {
    const path = filePath(fields);
    if (path !== undefined || behavior !== 'alert') {
      const file: FileInfo = blankRecord();
      if (path !== undefined) file.path = path;
      if (behavior !== 'alert' && operation !== undefined) file.operation = operation;
      if (!isEmpty(file)) event.file = file;
    }
  }
  if (behavior === 'volume-mount') {
    event.mount = compact({
      source: str(fields['evt.arg.dev']) ?? str(fields['evt.arg.source']),
      target: str(fields['evt.arg.dir']) ?? str(fields['evt.arg.target']),
      fstype: str(fields['evt.arg.type']),
    });
  }
  if (behavior === 'privilege-escalation') {
    event.privilege = compact({
      fromUid: uint32(fields['user.uid']),
      toUid: uidValue(fields['evt.arg.uid']),
    });
  }
  if (behavior === 'module-load') {
    event.module = compact({ name: str(fields['evt.arg.name']) ?? str(fields['proc.args']) });
  }
  if (options.keepRaw !== false) event.raw = record;
  return emitted('falco', event);
}

/** Falcosidekick defaults a missing source to "syscalls" (plural); Falco says "syscall". */
function normaliseSource(source: string | undefined): string | undefined {
  return source === 'syscalls' ? 'syscall' : source;
}

/** The alert's time; null when present but invalid, undefined when absent everywhere. */
function falcoTime(value: unknown, fields: JsonObject, options: AdaptOptions): string | null | undefined {
  if (typeof value === 'string') return isRfc3339(value) ? value : null;
  if (isObject(value)) {
    // gRPC rendering: {seconds, nanos}
    const seconds = int(value.seconds);
    const nanos = int(value.nanos) ?? 0;
    return seconds !== undefined ? (timeFromUnix(seconds, nanos) ?? null) : null;
  }
  if (value !== undefined && value !== null) return null;
  return timeFromUnixNanos(fields['evt.time']) ?? options.fallbackTime;
}

/** Falco's priority spellings, and every lower-cased form (plus the short "info") mapped to them. */
const CANONICAL_PRIORITIES: ReadonlySet<string> = new Set(FALCO_PRIORITIES);
const PRIORITY_BY_LOWER_CASE: ReadonlyMap<string, string> = new Map([
  ...FALCO_PRIORITIES.map((p) => [p.toLowerCase(), p] as const),
  ['info', 'Informational'],
]);

function normalisePriority(value: unknown): string | undefined {
  if (typeof value === 'number') return FALCO_PRIORITIES[value];
  const s = str(value);
  if (s === undefined) return undefined;
  // Most alerts already spell it Falco's way: no lower-casing (an allocation) for those.
  if (CANONICAL_PRIORITIES.has(s)) return s;
  return PRIORITY_BY_LOWER_CASE.get(s.toLowerCase()) ?? s;
}

/** The alert block (rule is always known), filled field by field in output order. */
function alertInfo(
  rule: string,
  priority: string | undefined,
  tags: string[] | undefined,
  output: string | undefined,
): AlertInfo {
  const alert: AlertInfo = { rule };
  if (priority !== undefined) alert.priority = priority;
  if (tags !== undefined) alert.tags = tags;
  if (output !== undefined) alert.output = output;
  return alert;
}

// The blocks below are filled field by field, in output order, rather than built with undefined
// values and compacted: they run for every alert, and a generic compact over many object shapes
// was among the adapter's top costs.

function fillWorkload(event: RuntimeEvent, f: JsonObject): void {
  const labelsValue = f['k8s.pod.labels'];
  const labels = typeof labelsValue === 'string' ? parseLabelList(labelsValue, ':') : stringMap(labelsValue);
  let namespace = str(f['k8s.ns.name']) ?? str(f['k8smeta.ns.name']);
  let name = str(f['k8s.pod.name']) ?? str(f['k8smeta.pod.name']);
  // k8s_audit alerts about a pod (Attach/Exec Pod) name it as the audit target.
  if (name === undefined && f['ka.target.resource'] === 'pods') {
    name = str(f['ka.target.name']);
    namespace ??= str(f['ka.target.namespace']);
  }
  const pod: PodInfo = blankRecord();
  if (namespace !== undefined) pod.namespace = namespace;
  if (name !== undefined) pod.name = name;
  const uid = str(f['k8s.pod.uid']) ?? str(f['k8s.pod.id']) ?? str(f['k8smeta.pod.uid']);
  if (uid !== undefined) pod.uid = uid;
  if (labels !== undefined) pod.labels = labels;
  const deployment = str(f['k8smeta.deployment.name']);
  if (deployment !== undefined) {
    pod.workload = deployment;
    pod.workloadKind = 'Deployment';
  }
  if (!isEmpty(pod)) event.pod = pod;

  const id = str(f['container.full_id']) ?? str(f['container.id']);
  if (id === 'host') return; // a host process: no container
  const repository = str(f['container.image.repository']);
  const tag = str(f['container.image.tag']);
  const image =
    str(f['container.image']) ??
    (repository !== undefined && tag !== undefined ? `${repository}:${tag}` : repository);
  const container: ContainerInfo = blankRecord();
  if (id !== undefined) container.id = eventContainerId(id);
  const containerName = str(f['container.name']);
  if (containerName !== undefined) container.name = containerName;
  if (image !== undefined) container.image = image;
  if (!isEmpty(container)) event.container = container;
}

function fillProcess(event: RuntimeEvent, f: JsonObject): void {
  const name = str(f['proc.name']);
  const cmdline = str(f['proc.cmdline']);
  const argsText = str(f['proc.args']);
  const process: ProcessInfo = blankRecord();
  const pid = uint32(f['proc.pid']);
  if (pid !== undefined) process.pid = pid;
  const uid = uint32(f['user.uid']);
  if (uid !== undefined) process.uid = uid;
  const binary =
    str(f['proc.exepath']) ??
    str(f['proc.exe']) ??
    name ??
    (cmdline !== undefined ? firstWord(cmdline) : undefined);
  if (binary !== undefined) process.binary = binary;
  if (argsText !== undefined) process.args = splitOnSpaces(argsText);
  else if (cmdline !== undefined) process.args = splitOnSpaces(cmdline, 1);
  const cwd = str(f['proc.cwd']);
  if (cwd !== undefined) process.cwd = cwd;
  if (!isEmpty(process)) event.process = process;

  const pcmdline = str(f['proc.pcmdline']);
  const parent: ParentInfo = blankRecord();
  const ppid = uint32(f['proc.ppid']);
  if (ppid !== undefined) parent.pid = ppid;
  const parentBinary = str(f['proc.pexepath']) ?? str(f['proc.pname']);
  if (parentBinary !== undefined) parent.binary = parentBinary;
  if (pcmdline !== undefined) parent.args = splitOnSpaces(pcmdline, 1);
  if (!isEmpty(parent)) event.parent = parent;
}

/**
 * Network context in the event model's orientation: `saddr:sport` local, `daddr:dport` the remote
 * peer. Falco's fd.lip/lport/rip/rport already say local/remote; fd.cip/sip and the "client->server"
 * tuple in fd.name (all the default rules print) say client/server, so which side is local depends on
 * the direction: the client for an outbound connect, the server for a listener or an accepted one.
 */
function networkInfo(f: JsonObject, serverSide: boolean): NetworkInfo | undefined {
  const network: NetworkInfo = blankRecord();
  let client: { addr?: string; port?: number } = { addr: str(f['fd.cip']), port: port(f['fd.cport']) };
  let server: { addr?: string; port?: number } = { addr: str(f['fd.sip']), port: port(f['fd.sport']) };
  const tuple = str(f['fd.name']);
  const arrow = tuple !== undefined ? tuple.indexOf('->') : -1;
  if (tuple !== undefined && arrow > 0) {
    const c = parseHostPort(tuple.slice(0, arrow));
    const s = parseHostPort(tuple.slice(arrow + 2));
    client = { addr: client.addr ?? c?.addr, port: client.port ?? c?.port };
    server = { addr: server.addr ?? s?.addr, port: server.port ?? s?.port };
  }
  const local = serverSide ? server : client;
  const remote = serverSide ? client : server;
  const saddr = str(f['fd.lip']) ?? local.addr;
  if (saddr !== undefined) network.saddr = saddr;
  const sport = port(f['fd.lport']) ?? local.port;
  if (sport !== undefined) network.sport = sport;
  const daddr = str(f['fd.rip']) ?? remote.addr;
  if (daddr !== undefined) network.daddr = daddr;
  const dport = port(f['fd.rport']) ?? remote.port;
  if (dport !== undefined) network.dport = dport;
  const protocol = str(f['fd.l4proto']);
  if (protocol !== undefined) network.protocol = protocol.toLowerCase();
  const domain = str(f['fd.rip.name']) ?? str(f[serverSide ? 'fd.cip.name' : 'fd.sip.name']);
  if (domain !== undefined) network.domain = domain;
  const fdType = str(f['fd.type']);
  const family = fdType === 'ipv4' || fdType === 'ipv6' || fdType === 'unix' ? fdType : undefined;
  const anyAddr = network.daddr ?? network.saddr;
  const resolved = family ?? (anyAddr !== undefined ? familyOf(anyAddr) : undefined);
  if (resolved !== undefined) network.family = resolved;
  return Object.keys(network).length > 0 ? network : undefined;
}

function filePath(f: JsonObject): string | undefined {
  const fdName = str(f['fd.name']);
  if (fdName !== undefined && !fdName.includes('->') && fdName.startsWith('/')) return fdName;
  return (
    str(f['evt.arg.path']) ??
    str(f['evt.arg.name']) ??
    str(f['evt.arg.filename']) ??
    str(f['evt.arg.pathname']) ??
    str(f['fs.path.name'])
  );
}

/** evt.arg.uid is a number, a decimal string, or (rendered) a user name: only "root" is known. */
function uidValue(value: unknown): number | undefined {
  if (value === 'root') return 0;
  if (typeof value === 'string') {
    const paren = value.indexOf('('); // "0(root)"
    if (paren > 0) return uint32(value.slice(0, paren));
  }
  return uint32(value);
}
