/**
 * KubeArmor alerts and logs (`karmor logs --json`, relay WatchAlerts/WatchLogs) → RuntimeEvent.
 * PascalCase keys from protobuf/kubearmor.proto. `Data` and `Resource` are "key=value" lists
 * (space- or comma-separated); the syscall / LSM hook / kfunc in `Data` decides the behavior
 * within an Operation. Mapping table: docs/events.md "KubeArmor".
 */
import { blankRecord } from '../../util/blank-record.js';
import { eventContainerId } from '../container-id.js';
import type { AlertInfo, Behavior, FileOperation, MountInfo, NetworkInfo, RuntimeEvent } from '../types.js';
import { mountKind } from './bpftrace.js';
import {
  familyOf,
  fileOperationFromFlagNames,
  isRfc3339,
  splitOnSpaces,
  stableId,
  timeFromUnix,
} from './common.js';
import { emitted, skip, type AdaptOptions, type AdaptOutcome } from './outcome.js';
import { compact, int, obj, parseLabelList, port, str, strArray, uint32, type JsonObject } from './read.js';

export function looksLikeKubeArmor(record: JsonObject): boolean {
  return typeof record.Operation === 'string' && ('HostName' in record || 'Type' in record);
}

/** Syscall → behavior for Operation "Syscall" and "File" (KubeArmor prints SYS_<NAME>). */
const SYSCALLS: Readonly<Record<string, { behavior: Behavior; op?: FileOperation }>> = {
  SYS_UNLINK: { behavior: 'file-write', op: 'delete' },
  SYS_UNLINKAT: { behavior: 'file-write', op: 'delete' },
  SYS_RMDIR: { behavior: 'file-write', op: 'delete' },
  SYS_RENAME: { behavior: 'file-write', op: 'rename' },
  SYS_RENAMEAT: { behavior: 'file-write', op: 'rename' },
  SYS_RENAMEAT2: { behavior: 'file-write', op: 'rename' },
  SYS_MKDIR: { behavior: 'file-write', op: 'create' },
  SYS_MKDIRAT: { behavior: 'file-write', op: 'create' },
  SYS_CHMOD: { behavior: 'file-write', op: 'chmod' },
  SYS_FCHMODAT: { behavior: 'file-write', op: 'chmod' },
  SYS_CHOWN: { behavior: 'file-write', op: 'chmod' },
  SYS_FCHOWNAT: { behavior: 'file-write', op: 'chmod' },
  // Unmounts (SYS_UMOUNT2) attach nothing: no behavior (an alert on one stays an alert).
  SYS_MOUNT: { behavior: 'volume-mount' },
  SYS_SETUID: { behavior: 'privilege-escalation' },
  SYS_SETREUID: { behavior: 'privilege-escalation' },
  SYS_SETRESUID: { behavior: 'privilege-escalation' },
  SYS_SETGID: { behavior: 'privilege-escalation' },
  SYS_SETREGID: { behavior: 'privilege-escalation' },
  SYS_SETRESGID: { behavior: 'privilege-escalation' },
  SYS_INIT_MODULE: { behavior: 'module-load' },
  SYS_FINIT_MODULE: { behavior: 'module-load' },
  SYS_PTRACE: { behavior: 'ptrace' },
  SYS_SETNS: { behavior: 'namespace-change' },
  SYS_UNSHARE: { behavior: 'namespace-change' },
  SYS_BPF: { behavior: 'bpf-load' },
  SYS_EXECVE: { behavior: 'process-exec' },
  SYS_EXECVEAT: { behavior: 'process-exec' },
};

/**
 * Network hooks (syscall, LSM hook or kernel function; upper-cased, KubeArmor prints kprobes in
 * lower case) that mean an outbound connection, a listener, an accepted inbound connection.
 */
const CONNECT_HOOKS: ReadonlySet<string> = new Set([
  'SYS_CONNECT',
  'SOCKET_CONNECT',
  'SECURITY_SOCKET_CONNECT',
  'SOCKET_SENDMSG',
  'SECURITY_SOCKET_SENDMSG',
  'TCP_CONNECT',
  'UDP_SENDMSG',
  'SYS_SENDTO',
]);
const LISTEN_HOOKS: ReadonlySet<string> = new Set([
  'SYS_BIND',
  'SYS_LISTEN',
  'SOCKET_LISTEN',
  'SECURITY_SOCKET_LISTEN',
  'SOCKET_BIND',
  'SECURITY_SOCKET_BIND',
]);
const ACCEPT_HOOKS: ReadonlySet<string> = new Set([
  'SYS_ACCEPT',
  'SYS_ACCEPT4',
  'TCP_ACCEPT',
  'SOCKET_ACCEPT',
  'SECURITY_SOCKET_ACCEPT',
]);
/** Hooks whose bare (non key=value) Resource is the DNS name asked for. */
const DNS_HOOKS: ReadonlySet<string> = new Set(['SOCKET_SENDMSG', 'SECURITY_SOCKET_SENDMSG', 'UDP_SENDMSG']);

/**
 * BPF-LSM file hooks by the suffix of their name (the enforcer prints them with or without a
 * SECURITY_/PATH_ prefix): the operation each one is. FILE_PERMISSION is where KubeArmor's BPF-LSM
 * enforcer denies writes to read-only paths (it checks MAY_WRITE there), so it is a write; FILE_OPEN
 * carries no open mode and stays a read.
 */
const LSM_FILE_OPS: readonly (readonly [string, FileOperation])[] = [
  ['FILE_PERMISSION', 'write'],
  // UNLINK before LINK: the suffixes are tested in order.
  ['UNLINK', 'delete'],
  ['RMDIR', 'delete'],
  ['MKNOD', 'create'],
  ['MKDIR', 'create'],
  ['SYMLINK', 'create'],
  ['LINK', 'create'],
  ['RENAME', 'rename'],
  ['CHMOD', 'chmod'],
  ['CHOWN', 'chmod'],
  ['TRUNCATE', 'write'],
];

function lsmFileOperation(hook: string): FileOperation | undefined {
  for (const [suffix, op] of LSM_FILE_OPS) if (hook.endsWith(suffix)) return op;
  return undefined;
}

/** Parses "k=v k2=v2" or "k=v,k2=v2" (values never contain spaces or commas in KubeArmor output). */
function keyValues(text: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  if (text === undefined) return out;
  let start = 0;
  for (let i = 0; i <= text.length; i++) {
    const c = i < text.length ? text.charCodeAt(i) : 32;
    if (c !== 32 && c !== 44) continue; // space, comma
    if (i > start) {
      const part = text.slice(start, i);
      const eq = part.indexOf('=');
      if (eq > 0) out.set(part.slice(0, eq), part.slice(eq + 1));
    }
    start = i + 1;
  }
  return out;
}

export function adaptKubeArmor(record: JsonObject, options: AdaptOptions): AdaptOutcome {
  const operation = str(record.Operation);
  if (operation === undefined) return skip('invalid-event', 'kubearmor: missing "Operation"');
  const updated = str(record.UpdatedTime);
  const seconds = int(record.Timestamp);
  const time =
    (updated !== undefined && isRfc3339(updated) ? updated : undefined) ??
    (seconds !== undefined ? timeFromUnix(seconds) : undefined) ??
    options.fallbackTime;
  if (time === undefined) return skip('missing-time', 'kubearmor: no UpdatedTime or Timestamp');

  const type = str(record.Type);
  const policy = str(record.PolicyName);
  const isAlert = policy !== undefined || (type !== undefined && type.startsWith('Matched'));
  const data = keyValues(str(record.Data));
  const resource = str(record.Resource);
  const lsm = data.get('lsm');
  const rawHook = data.get('syscall') ?? lsm ?? data.get('kfunc') ?? data.get('kprobe');
  const hook = rawHook?.toUpperCase();

  const event: RuntimeEvent = {
    id: stableId('kubearmor', [
      str(record.HostName),
      updated ?? seconds,
      uint32(record.HostPID),
      operation,
      resource,
      str(record.Data),
      policy,
    ]),
    time,
    source: 'kubearmor',
    behavior: 'alert',
    sourceEvent: rawHook !== undefined ? `${operation}:${rawHook}` : operation,
  };
  const node = str(record.HostName);
  if (node !== undefined) event.node = node;
  if (record.Action === 'Block') event.enforced = true;
  if (isAlert) {
    const tagsText = str(record.Tags);
    event.alert = compact({
      rule: policy,
      priority: str(record.Severity),
      tags: strArray(record.ATags) ?? (tagsText !== undefined ? tagsText.split(',') : undefined),
      output: str(record.Message),
    });
  }
  fillContext(event, record, operation, resource);

  const behavior = behaviorOf(event, operation, hook, lsm !== undefined, data, resource);
  if (behavior === undefined) {
    if (!isAlert)
      return skip('no-behavior', `kubearmor: ${operation} ${hook ?? ''} log carries no behavior`.trimEnd());
    event.behavior = 'alert';
    // Set in place (the block is this event's own): a spread that adds a key is slow in V8.
    const alert: AlertInfo = event.alert ?? blankRecord();
    alert.rule = policy ?? type ?? operation;
    event.alert = alert;
  } else {
    event.behavior = behavior;
  }
  if (options.keepRaw !== false) event.raw = record;
  return emitted('kubearmor', event);
}

function fillContext(
  event: RuntimeEvent,
  r: JsonObject,
  operation: string,
  resource: string | undefined,
): void {
  const labels = str(r.Labels);
  const owner = obj(r.Owner);
  const pod = compact({
    namespace: str(r.NamespaceName),
    name: str(r.PodName),
    labels: labels !== undefined ? parseLabelList(labels, '=') : undefined,
    workload: str(owner?.Name),
    workloadKind: str(owner?.Ref),
  });
  if (pod) event.pod = pod;
  const containerId = str(r.ContainerID);
  const container = compact({
    id: containerId !== undefined ? eventContainerId(containerId) : undefined,
    name: str(r.ContainerName),
    image: str(r.ContainerImage),
  });
  if (container) event.container = container;

  const words = operation === 'Process' && resource !== undefined ? splitOnSpaces(resource) : undefined;
  const process = compact({
    pid: uint32(r.HostPID) ?? uint32(r.PID),
    uid: uint32(r.UID),
    binary: str(r.ProcessName) ?? words?.[0],
    args: words?.slice(1),
    cwd: str(r.Cwd),
  });
  if (process) event.process = process;
  const parent = compact({ pid: uint32(r.HostPPID) ?? uint32(r.PPID), binary: str(r.ParentProcessName) });
  if (parent) event.parent = parent;
}

function behaviorOf(
  event: RuntimeEvent,
  operation: string,
  hook: string | undefined,
  lsm: boolean,
  data: Map<string, string>,
  resource: string | undefined,
): Behavior | undefined {
  switch (operation) {
    case 'Process':
      // ptrace is logged under Process: Resource (and Data process=) name the traced binary.
      return hook === 'SYS_PTRACE' ? 'ptrace' : 'process-exec';
    case 'File': {
      const mapped = hook !== undefined ? SYSCALLS[hook] : undefined;
      if (mapped?.behavior === 'file-write') {
        event.file = compact({ path: resource, operation: mapped.op });
        return 'file-write';
      }
      const lsmOp = lsm && hook !== undefined ? lsmFileOperation(hook) : undefined;
      if (lsmOp !== undefined) {
        event.file = compact({ path: resource, operation: lsmOp });
        return 'file-write';
      }
      const flags = data.get('flags');
      const op = flags !== undefined ? fileOperationFromFlagNames(flags) : 'read';
      event.file = compact({ path: resource, operation: op });
      return op === 'read' ? 'file-read' : 'file-write';
    }
    case 'Network':
      return networkBehavior(event, hook, data, resource);
    case 'NetworkFirewall': {
      // Source → Destination is the packet's direction; the event model is local → remote, so an
      // INGRESS (the workload accepting) swaps the two ends.
      const ingress = resource === 'INGRESS';
      if (!ingress && resource !== 'EGRESS') return undefined;
      const src = { addr: data.get('SourceIP'), port: port(Number(data.get('SourcePort'))) };
      const dst = { addr: data.get('DestinationIP'), port: port(Number(data.get('DestinationPort'))) };
      const local = ingress ? dst : src;
      const remote = ingress ? src : dst;
      const anyAddr = remote.addr ?? local.addr;
      event.network = compact<NetworkInfo>({
        protocol: data.get('Protocol')?.toLowerCase(),
        family: anyAddr !== undefined ? familyOf(anyAddr) : undefined,
        saddr: local.addr,
        sport: local.port,
        daddr: remote.addr,
        dport: remote.port,
      });
      return ingress ? 'network-accept' : 'network-connect';
    }
    case 'Capabilities':
      event.privilege = compact({ fromUid: event.process?.uid, capability: data.get('cap') ?? resource });
      return 'privilege-escalation';
    case 'Syscall': {
      const mapped = hook !== undefined ? SYSCALLS[hook] : undefined;
      if (!mapped) return undefined;
      if (mapped.behavior === 'file-write') event.file = compact({ path: resource, operation: mapped.op });
      if (mapped.behavior === 'privilege-escalation') {
        const id = uint32(Number(data.get('userid')));
        const gid = hook?.includes('GID') === true;
        event.privilege = compact({
          fromUid: event.process?.uid,
          toUid: gid ? undefined : id,
          toGid: gid ? id : undefined,
        });
      }
      if (mapped.behavior === 'volume-mount') event.mount = mountInfo(data, resource);
      return mapped.behavior;
    }
    default:
      return undefined;
  }
}

/** KubeArmor logs mount(2) as "source=… target=… filesystem=… mountflag=<int> data=…" in Data. */
function mountInfo(data: Map<string, string>, resource: string | undefined): MountInfo | undefined {
  const flags = int(Number(data.get('mountflag')));
  return compact<MountInfo>({
    source: nonEmpty(data.get('source')),
    target: nonEmpty(data.get('target')) ?? nonEmpty(resource),
    fstype: nonEmpty(data.get('filesystem')),
    kind: flags !== undefined ? mountKind(flags) : undefined,
  });
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

const FAMILY_NAMES: Readonly<Record<string, 'ipv4' | 'ipv6' | 'unix'>> = {
  AF_INET: 'ipv4',
  AF_INET6: 'ipv6',
  AF_UNIX: 'unix',
};

/** Protocol names the BPF-LSM enforcer prints as a bare Resource ("TCP", "UDP", …). */
const BARE_PROTOCOLS: ReadonlySet<string> = new Set(['TCP', 'UDP', 'ICMP', 'ICMPV6', 'RAW', 'SCTP']);

function networkBehavior(
  event: RuntimeEvent,
  hook: string | undefined,
  data: Map<string, string>,
  resource: string | undefined,
): Behavior | undefined {
  if (hook === undefined) return undefined;
  const accept = ACCEPT_HOOKS.has(hook);
  if (!accept && !CONNECT_HOOKS.has(hook) && !LISTEN_HOOKS.has(hook)) return undefined;
  const res = keyValues(resource);
  const bare = resource !== undefined && resource !== '' && !resource.includes('=') ? resource : undefined;
  const familyName =
    FAMILY_NAMES[res.get('sa_family') ?? res.get('domain') ?? data.get('domain') ?? ''] ?? undefined;
  // kprobe=tcp_connect / tcp_accept: "remoteip=… port=… protocol=TCP"; syscalls: a sockaddr.
  const addr = res.get('remoteip') ?? res.get('sin_addr') ?? res.get('sin6_addr');
  const addrPort = port(Number(res.get('port') ?? res.get('sin_port') ?? res.get('sin6_port')));
  const protocolText =
    res.get('protocol') ?? (bare !== undefined && BARE_PROTOCOLS.has(bare.toUpperCase()) ? bare : undefined);
  const protocol =
    hook === 'UDP_SENDMSG'
      ? 'udp'
      : hook === 'TCP_CONNECT' || hook === 'TCP_ACCEPT'
        ? 'tcp'
        : protocolText !== undefined && /^[A-Za-z]+$/.test(protocolText)
          ? protocolText.toLowerCase()
          : undefined;
  const family = familyName ?? (addr !== undefined ? familyOf(addr) : undefined);
  if (CONNECT_HOOKS.has(hook)) {
    const daddr = addr ?? data.get('daddr');
    const domain = DNS_HOOKS.has(hook) ? (data.get('domain') ?? bare) : undefined;
    event.network = compact<NetworkInfo>({
      protocol,
      family: family ?? (daddr !== undefined ? familyOf(daddr) : undefined),
      daddr,
      dport: addrPort,
      domain,
    });
    return 'network-connect';
  }
  // An accepted connection: the address KubeArmor reports is the peer's (remote); a listener's is its own.
  event.network = compact<NetworkInfo>(
    accept
      ? { protocol, family, daddr: addr, dport: addrPort }
      : { protocol, family, saddr: addr, sport: addrPort },
  );
  return accept ? 'network-accept' : 'network-listen';
}
