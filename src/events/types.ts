/**
 * The common event model: every source adapter turns its tool's output into a
 * RuntimeEvent. Versioned as runtime.kyverno.io/v1alpha1; the JSON Schema in schemas/ mirrors it.
 */

export const BEHAVIORS = [
  'process-exec',
  'volume-mount',
  'network-connect',
  'network-listen',
  'network-accept',
  'file-read',
  'file-write',
  'privilege-escalation',
  'module-load',
  'ptrace',
  'namespace-change',
  'bpf-load',
  'alert',
] as const;

export type Behavior = (typeof BEHAVIORS)[number];

export function isBehavior(value: unknown): value is Behavior {
  return typeof value === 'string' && (BEHAVIORS as readonly string[]).includes(value);
}

export type FileOperation = 'read' | 'write' | 'create' | 'delete' | 'rename' | 'chmod';

export interface ProcessInfo {
  pid?: number;
  /** Process start time (kernel boot-relative ns or wall clock ISO), used to check a pid is still the same process. */
  startTime?: string;
  uid?: number;
  binary?: string;
  args?: string[];
  cwd?: string;
  execId?: string;
}

export interface ParentInfo {
  pid?: number;
  binary?: string;
  args?: string[];
}

export interface ContainerInfo {
  id?: string;
  name?: string;
  image?: string;
}

export interface PodInfo {
  namespace?: string;
  name?: string;
  uid?: string;
  labels?: Record<string, string>;
  /** Owning workload when the tool knows it (Tetragon's pod.workload / workload_kind). */
  workload?: string;
  workloadKind?: string;
}

/**
 * What a mount call did, in the kernel's order of precedence: `remount` (MS_REMOUNT, with or without
 * MS_BIND), `bind` (MS_BIND, open_tree clone), `propagation` (only MS_SHARED/MS_PRIVATE/MS_SLAVE/
 * MS_UNBINDABLE: no filesystem is attached, nothing becomes visible), `move` (MS_MOVE, move_mount),
 * `filesystem` (a new mount of a filesystem: tmpfs, a block device, fsmount).
 */
export const MOUNT_KINDS = ['filesystem', 'bind', 'remount', 'propagation', 'move'] as const;
export type MountKind = (typeof MOUNT_KINDS)[number];

export interface MountInfo {
  source?: string;
  target?: string;
  fstype?: string;
  flags?: string[];
  /** Set by sources that know the mount flags (the built-in sensor); absent otherwise. */
  kind?: MountKind;
}

/**
 * Addresses are from the observed process's side: `saddr`/`sport` are local, `daddr`/`dport` the
 * remote peer. So a connect has the server in `daddr:dport`, an accepted connection has the client
 * in `daddr:dport` and the serving address in `saddr:sport`, and a listener only `saddr:sport`.
 */
export interface NetworkInfo {
  protocol?: string;
  family?: 'ipv4' | 'ipv6' | 'unix';
  saddr?: string;
  sport?: number;
  daddr?: string;
  dport?: number;
  /** DNS name involved, when the tool reports one (KubeArmor DNS visibility, Falco fd.sip.name). */
  domain?: string;
}

export interface FileInfo {
  path?: string;
  operation?: FileOperation;
}

export interface PrivilegeInfo {
  /** Effective uid before the change (sources that know it). */
  fromUid?: number;
  /** Effective uid after the change; for a failed attempt, the one asked for. */
  toUid?: number;
  /** Whether the change happened; absent when the source reports attempts without their outcome. */
  result?: 'succeeded' | 'failed';
  /** Target group id for setgid-family calls. */
  toGid?: number;
  capability?: string;
}

export interface ModuleInfo {
  name?: string;
}

export interface AlertInfo {
  rule?: string;
  priority?: string;
  tags?: string[];
  output?: string;
}

/** The version every RuntimeEvent belongs to; the JSON Schema is schemas/runtime-event.schema.json. */
export const RUNTIME_EVENT_API_VERSION = 'runtime.kyverno.io/v1alpha1';

export interface RuntimeEvent {
  /** Optional in JSON input; when present it must be runtime.kyverno.io/v1alpha1. */
  apiVersion?: typeof RUNTIME_EVENT_API_VERSION;
  /** Optional in JSON input; when present it must be RuntimeEvent. */
  kind?: 'RuntimeEvent';
  /** Unique; stable for the same raw event so duplicates can be dropped. */
  id: string;
  /** RFC 3339 with nanoseconds when the tool gives them. */
  time: string;
  /** tetragon | falco | kubearmor | tracee | bpftrace | <custom>. */
  source: string;
  node?: string;
  behavior: Behavior;
  process?: ProcessInfo;
  parent?: ParentInfo;
  container?: ContainerInfo;
  pod?: PodInfo;
  mount?: MountInfo;
  network?: NetworkInfo;
  file?: FileInfo;
  privilege?: PrivilegeInfo;
  module?: ModuleInfo;
  alert?: AlertInfo;
  /** True when the tool already blocked the behavior in the kernel (e.g. Tetragon Sigkill/Override). */
  enforced?: boolean;
  /**
   * The tool-level event that produced this one (Tetragon hook function, Falco evt.type, KubeArmor
   * syscall/LSM hook, Tracee event name), for reports and troubleshooting mappings.
   */
  sourceEvent?: string;
  /** Cgroup id / path as seen by the sensor, for attribution. */
  cgroup?: { id?: string; path?: string };
  /** The original event, kept for reports and forensics. */
  raw?: unknown;
}
