/**
 * Tracee events → RuntimeEvent, both shapes:
 *  - legacy `trace.Event` (Tracee 0.x): eventName, processId/hostProcessId, args [{name,type,value}],
 *    container/pod fields flat (≤ v0.13) or nested in `container {}` / `kubernetes {}`; signatures add
 *    `metadata {Description, Properties {signatureID, signatureName, Severity, …}}`;
 *  - `v1beta1.Event`: name, timestamp (RFC 3339 or {seconds,nanos}), workload {process, container,
 *    k8s}, data [{name, <typed value>}] (or an object in detector sketches), threat {…}.
 * Event name → behavior: TRACEE_EVENTS below (docs/events.md "Tracee"); detections → `alert`.
 */
import type { Behavior, FileOperation, RuntimeEvent } from '../types.js';
import { eventContainerId } from '../container-id.js';
import {
  familyOf,
  fileOperationFromFlagNames,
  fileOperationFromOpenFlags,
  isRfc3339,
  stableId,
  timeFromUnix,
  timeFromUnixNanos,
} from './common.js';
import { emitted, skip, type AdaptOptions, type AdaptOutcome } from './outcome.js';
import {
  compact,
  int,
  isObject,
  obj,
  port,
  str,
  stringMap,
  strArray,
  uint32,
  type JsonObject,
} from './read.js';

type TraceeKind =
  | 'exec'
  | 'mount'
  | 'connect'
  | 'listen'
  | 'accept'
  | 'open'
  | 'read'
  | 'write'
  | 'creds'
  | 'setid'
  | 'module'
  | 'ptrace'
  | 'namespace'
  | 'bpf';

interface TraceeMapping {
  kind: TraceeKind;
  op?: FileOperation;
}

const t = (kind: TraceeKind, op?: FileOperation): TraceeMapping => (op ? { kind, op } : { kind });

export const TRACEE_EVENTS: Readonly<Record<string, TraceeMapping>> = {
  sched_process_exec: t('exec'),
  execve: t('exec'),
  execveat: t('exec'),
  security_bprm_check: t('exec'),
  security_sb_mount: t('mount'),
  mount: t('mount'),
  do_mount: t('mount'),
  security_socket_connect: t('connect'),
  connect: t('connect'),
  security_socket_listen: t('listen'),
  listen: t('listen'),
  security_socket_bind: t('listen'),
  bind: t('listen'),
  security_socket_accept: t('accept'),
  accept: t('accept'),
  accept4: t('accept'),
  security_file_open: t('open'),
  open: t('open'),
  openat: t('open'),
  openat2: t('open'),
  vfs_read: t('read'),
  vfs_readv: t('read'),
  read: t('read'),
  vfs_write: t('write', 'write'),
  vfs_writev: t('write', 'write'),
  magic_write: t('write', 'write'),
  write: t('write', 'write'),
  creat: t('write', 'create'),
  security_inode_unlink: t('write', 'delete'),
  unlink: t('write', 'delete'),
  unlinkat: t('write', 'delete'),
  rmdir: t('write', 'delete'),
  security_inode_rename: t('write', 'rename'),
  rename: t('write', 'rename'),
  renameat: t('write', 'rename'),
  renameat2: t('write', 'rename'),
  chmod: t('write', 'chmod'),
  fchmodat: t('write', 'chmod'),
  commit_creds: t('creds'),
  setuid: t('setid'),
  setreuid: t('setid'),
  setresuid: t('setid'),
  setgid: t('setid'),
  setregid: t('setid'),
  setresgid: t('setid'),
  init_module: t('module'),
  finit_module: t('module'),
  do_init_module: t('module'),
  module_load: t('module'),
  security_kernel_module_request: t('module'),
  ptrace: t('ptrace'),
  setns: t('namespace'),
  unshare: t('namespace'),
  switch_task_ns: t('namespace'),
  bpf: t('bpf'),
  security_bpf: t('bpf'),
  security_bpf_prog: t('bpf'),
  bpf_attach: t('bpf'),
};

export function looksLikeTracee(record: JsonObject): boolean {
  if (typeof record.eventName === 'string')
    return 'processId' in record || 'hostProcessId' in record || 'timestamp' in record;
  return (
    typeof record.name === 'string' &&
    'timestamp' in record &&
    (isObject(record.workload) || 'data' in record || isObject(record.threat) || isObject(record.policies))
  );
}

/** v1beta1 wrappers print as {value: n}; unwrap once. */
function unwrap(value: unknown): unknown {
  return isObject(value) && 'value' in value ? value.value : value;
}

export function adaptTracee(record: JsonObject, options: AdaptOptions): AdaptOutcome {
  return typeof record.eventName === 'string' ? adaptLegacy(record, options) : adaptV1beta1(record, options);
}

function adaptLegacy(r: JsonObject, options: AdaptOptions): AdaptOutcome {
  const name = r.eventName as string;
  const time = timeFromUnixNanos(r.timestamp) ?? options.fallbackTime;
  if (time === undefined) return skip('missing-time', 'tracee: no timestamp');
  const args = new Map<string, unknown>();
  if (Array.isArray(r.args)) {
    for (const a of r.args) if (isObject(a) && typeof a.name === 'string') args.set(a.name, a.value);
  }

  const nested = obj(r.container);
  const k8s = obj(r.kubernetes);
  const containerId = str(r.containerId) ?? str(nested?.id);
  const event: RuntimeEvent = {
    id: stableId('tracee', [
      str(r.hostName),
      String(r.timestamp),
      uint32(r.hostProcessId),
      uint32(r.hostThreadId),
      name,
    ]),
    time,
    source: 'tracee',
    behavior: 'alert',
    sourceEvent: name,
  };
  // hostName is the UTS name: the node for host processes, the pod's hostname inside containers.
  const hostName = str(r.hostName);
  if (hostName !== undefined && containerId === undefined) event.node = hostName;
  const container = compact({
    id: containerId !== undefined ? eventContainerId(containerId) : undefined,
    name: str(r.containerName) ?? str(nested?.name),
    image: str(r.containerImage) ?? str(nested?.image),
  });
  if (container) event.container = container;
  const pod = compact({
    namespace: str(r.podNamespace) ?? str(k8s?.podNamespace),
    name: str(r.podName) ?? str(k8s?.podName),
    uid: str(r.podUID) ?? str(k8s?.podUID),
  });
  if (pod) event.pod = pod;
  const process = compact({
    pid: uint32(r.hostProcessId) ?? uint32(r.processId),
    uid: uint32(r.userId),
    binary: str(obj(r.executable)?.path) ?? str(r.processName),
  });
  if (process) event.process = process;
  const parent = compact({ pid: uint32(r.hostParentProcessId) ?? uint32(r.parentProcessId) });
  if (parent) event.parent = parent;

  const metadata = obj(r.metadata);
  const eventId = int(r.eventId);
  if (metadata || (eventId !== undefined && eventId >= 6000)) {
    // A signature / derived detection: behavior alert, named by the signature.
    const props = obj(metadata?.Properties);
    const tags = [
      str(props?.signatureID),
      str(props?.Category),
      str(props?.Technique),
      str(props?.external_id),
    ].filter((x): x is string => x !== undefined);
    event.alert = compact({
      rule: str(props?.signatureName) ?? name,
      priority: severityText(props?.Severity),
      tags: tags.length > 0 ? tags : undefined,
      output: str(metadata?.Description),
    });
    const path = str(args.get('path')) ?? str(args.get('pathname')) ?? str(args.get('cmdpath'));
    if (path !== undefined) event.file = { path };
  } else if (!mapBehavior(event, name, args)) {
    return skip('no-behavior', `tracee: ${name} carries no behavior`);
  }
  if (options.keepRaw !== false) event.raw = r;
  return emitted('tracee', event);
}

function adaptV1beta1(r: JsonObject, options: AdaptOptions): AdaptOutcome {
  const name = str(r.name);
  if (name === undefined) return skip('invalid-event', 'tracee: missing event name');
  const time = v1beta1Time(r.timestamp) ?? options.fallbackTime;
  if (time === undefined) return skip('missing-time', 'tracee: no valid timestamp');

  const args = new Map<string, unknown>();
  if (Array.isArray(r.data)) {
    for (const d of r.data) {
      if (!isObject(d) || typeof d.name !== 'string') continue;
      for (const key in d) if (key !== 'name') args.set(d.name, unwrap(d[key]));
    }
  } else if (isObject(r.data)) {
    for (const key in r.data) args.set(key, r.data[key]);
  }

  const workload = obj(r.workload);
  const p = obj(workload?.process);
  const c = obj(workload?.container);
  const k8s = obj(workload?.k8s);
  const event: RuntimeEvent = {
    id: stableId('tracee', [
      JSON.stringify(r.timestamp),
      uint32(unwrap(p?.host_pid)),
      uint32(unwrap(p?.pid)),
      name,
      String(r.id),
    ]),
    time,
    source: 'tracee',
    behavior: 'alert',
    sourceEvent: name,
  };
  const process = compact({
    pid: uint32(unwrap(p?.host_pid)) ?? uint32(unwrap(p?.pid)),
    uid: uint32(unwrap(obj(p?.real_user)?.id)),
    binary: str(obj(p?.executable)?.path) ?? str(obj(p?.thread)?.name),
  });
  if (process) event.process = process;
  const ancestors = Array.isArray(p?.ancestors) ? p.ancestors : [];
  const first = obj(ancestors[0]);
  const parent = first
    ? compact({
        pid: uint32(unwrap(first.host_pid)) ?? uint32(unwrap(first.pid)),
        binary: str(obj(first.executable)?.path) ?? str(obj(first.thread)?.name),
      })
    : undefined;
  if (parent) event.parent = parent;
  const containerId = str(c?.id);
  const container = compact({
    id: containerId !== undefined ? eventContainerId(containerId) : undefined,
    name: str(c?.name),
    image: str(obj(c?.image)?.name) ?? str(c?.image),
  });
  if (container) event.container = container;
  const podObj = obj(k8s?.pod);
  const pod = compact({
    namespace: str(obj(k8s?.namespace)?.name),
    name: str(podObj?.name),
    uid: str(podObj?.uid),
    labels: stringMap(podObj?.labels),
  });
  if (pod) event.pod = pod;

  const threat = obj(r.threat);
  if (threat) {
    const mitre = obj(threat.mitre);
    const tags = [
      str(obj(mitre?.technique)?.id) ?? str(mitre?.technique),
      str(obj(mitre?.tactic)?.name),
    ].filter((x): x is string => x !== undefined);
    event.alert = compact({
      rule: str(threat.name) ?? name,
      priority: severityText(threat.severity),
      tags: tags.length > 0 ? tags : undefined,
      output: str(threat.description),
    });
    const path = str(args.get('file_path')) ?? str(args.get('pathname')) ?? str(args.get('path'));
    if (path !== undefined) event.file = { path };
  } else if (!mapBehavior(event, name, args)) {
    return skip('no-behavior', `tracee: ${name} carries no behavior`);
  }
  if (options.keepRaw !== false) event.raw = r;
  return emitted('tracee', event);
}

function v1beta1Time(value: unknown): string | undefined {
  if (typeof value === 'string') return isRfc3339(value) ? value : undefined;
  if (isObject(value)) {
    const seconds = int(value.seconds);
    return seconds !== undefined ? timeFromUnix(seconds, int(value.nanos) ?? 0) : undefined;
  }
  return timeFromUnixNanos(value);
}

function severityText(value: unknown): string | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return str(value);
}

/** Sets the behavior of a Tracee event that is not a signature; false when its name maps to none. */
function mapBehavior(event: RuntimeEvent, name: string, args: Map<string, unknown>): boolean {
  const mapping = TRACEE_EVENTS[name];
  const behavior = mapping ? applyMapping(event, mapping, args) : undefined;
  if (!behavior) return false;
  event.behavior = behavior;
  return true;
}

function applyMapping(
  event: RuntimeEvent,
  mapping: TraceeMapping,
  args: Map<string, unknown>,
): Behavior | undefined {
  const path = str(args.get('pathname')) ?? str(args.get('path')) ?? str(args.get('syscall_pathname'));
  switch (mapping.kind) {
    case 'exec': {
      const argv = strArray(args.get('argv'));
      const binary = path ?? str(args.get('cmdpath'));
      if (binary !== undefined || argv !== undefined) {
        event.process = { ...event.process, ...compact({ binary, args: argv?.slice(1) }) };
      }
      return 'process-exec';
    }
    case 'mount':
      event.mount = compact({
        source: str(args.get('dev_name')) ?? str(args.get('source')),
        target: str(args.get('path')) ?? str(args.get('dir_name')) ?? str(args.get('target')),
        fstype: str(args.get('type')) ?? str(args.get('filesystemtype')),
      });
      return 'volume-mount';
    case 'connect':
    case 'listen':
    case 'accept': {
      // connect's remote_addr is the server; accept(2)'s addr the peer; security_socket_accept
      // only knows the listening socket's local_addr; bind/listen their own local address.
      const remoteSide = mapping.kind === 'connect' || (mapping.kind === 'accept' && args.has('addr'));
      const sockaddr = obj(args.get('remote_addr')) ?? obj(args.get('addr')) ?? obj(args.get('local_addr'));
      const addr = str(sockaddr?.sin_addr) ?? str(sockaddr?.sin6_addr);
      const p =
        port(sockaddr?.sin_port) ?? port(Number(sockaddr?.sin_port)) ?? port(Number(sockaddr?.sin6_port));
      const familyText = str(sockaddr?.sa_family);
      const family =
        familyText === 'AF_INET'
          ? ('ipv4' as const)
          : familyText === 'AF_INET6'
            ? ('ipv6' as const)
            : familyText === 'AF_UNIX'
              ? ('unix' as const)
              : addr !== undefined
                ? familyOf(addr)
                : undefined;
      event.network = remoteSide
        ? compact({ family, daddr: addr, dport: p })
        : compact({ family, saddr: addr, sport: p });
      return mapping.kind === 'connect'
        ? 'network-connect'
        : mapping.kind === 'accept'
          ? 'network-accept'
          : 'network-listen';
    }
    case 'open': {
      const flags = args.get('flags');
      const op =
        typeof flags === 'string'
          ? fileOperationFromFlagNames(flags)
          : typeof flags === 'number'
            ? fileOperationFromOpenFlags(flags)
            : 'read';
      event.file = compact({ path, operation: op });
      return op === 'read' ? 'file-read' : 'file-write';
    }
    case 'read':
      event.file = compact({ path, operation: 'read' as const });
      return 'file-read';
    case 'write':
      event.file = compact({ path, operation: mapping.op ?? 'write' });
      return 'file-write';
    case 'creds': {
      // Tracee's SlimCred keys: Uid, Euid, Suid, Fsuid, Gid, Egid, … (the effective id decides).
      const previous = obj(args.get('old_cred'));
      const next = obj(args.get('new_cred'));
      event.privilege = compact({
        fromUid: uint32(previous?.Euid) ?? uint32(previous?.Uid) ?? event.process?.uid,
        toUid: uint32(next?.Euid) ?? uint32(next?.Uid),
        toGid: uint32(next?.Egid) ?? uint32(next?.Gid),
      });
      return 'privilege-escalation';
    }
    case 'setid':
      event.privilege = compact({
        fromUid: event.process?.uid,
        toUid: uint32(args.get('uid')) ?? uint32(args.get('euid')),
      });
      return 'privilege-escalation';
    case 'module':
      event.module = compact({ name: str(args.get('name')) ?? str(args.get('module_name')) ?? path });
      return 'module-load';
    case 'ptrace':
      return 'ptrace';
    case 'namespace':
      return 'namespace-change';
    case 'bpf':
      return 'bpf-load';
  }
}
