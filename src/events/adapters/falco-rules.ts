/**
 * Falco → behavior: ONE place for both tables (documented in docs/events.md "Falco").
 * Order: the rule name table first (a rule states intent: "Write below etc" is a write even when the
 * alert lacks evt.type), then the evt.type table, else behavior `alert`.
 * Rule names are from falcosecurity/rules (stable, incubating and sandbox files).
 */
import type { Behavior, FileOperation } from '../types.js';

export interface FalcoMapping {
  behavior: Behavior;
  /** For file behaviors, the operation when evt.type does not say better. */
  op?: FileOperation;
}

const m = (behavior: Behavior, op?: FileOperation): FalcoMapping => (op ? { behavior, op } : { behavior });

export const FALCO_RULES: Readonly<Record<string, FalcoMapping>> = {
  // process-exec
  'Terminal shell in container': m('process-exec'),
  'Run shell untrusted': m('process-exec'),
  'Netcat Remote Code Execution in Container': m('process-exec'),
  'Drop and execute new binary in container': m('process-exec'),
  'Fileless execution via memfd_create': m('process-exec'),
  'Execution from /dev/shm': m('process-exec'),
  'Launch Package Management Process in Container': m('process-exec'),
  'Kubernetes Client Tool Launched in Container': m('process-exec'),
  'Launch Suspicious Network Tool in Container': m('process-exec'),
  'Launch Remote File Copy Tools in Container': m('process-exec'),
  'Launch Ingress Remote File Copy Tools in Container': m('process-exec'),
  'Debugfs Launched in Privileged Container': m('process-exec'),
  'Web Server Spawned Shell': m('process-exec'),
  'Search Private Keys or Passwords': m('process-exec'),
  'Find AWS Credentials': m('process-exec'),
  'System user interactive': m('process-exec'),
  // volume-mount
  'Mount Launched in Privileged Container': m('volume-mount'),
  // network-connect
  'Contact K8S API Server From Container': m('network-connect'),
  'Contact cloud metadata service from container': m('network-connect'),
  'Unexpected outbound connection destination': m('network-connect'),
  'Outbound Connection to C2 Servers': m('network-connect'),
  'Network Connection outside Local Subnet': m('network-connect'),
  'Detect outbound connections to common miner pool ports': m('network-connect'),
  'Interpreted procs outbound network activity': m('network-connect'),
  'Disallowed SSH Connection Non Standard Port': m('network-connect'),
  'Unexpected UDP Traffic': m('network-connect'),
  'Reverse Shell from Web Server': m('network-connect'),
  // network-accept (inbound connections; a `listen` evt.type on these rules is a network-listen)
  'Interpreted procs inbound network activity': m('network-accept'),
  'Unexpected inbound connection source': m('network-accept'),
  'Inbound Connection': m('network-accept'),
  // file-write
  'Write below etc': m('file-write', 'write'),
  'Write below binary dir': m('file-write', 'write'),
  'Write below root': m('file-write', 'write'),
  'Write below monitored dir': m('file-write', 'write'),
  'Write below rpm database': m('file-write', 'write'),
  'Modify binary dirs': m('file-write', 'rename'),
  'Mkdir binary dirs': m('file-write', 'create'),
  'Clear Log Activities': m('file-write', 'write'),
  'Detect release_agent File Container Escapes': m('file-write', 'write'),
  'Create Symlink Over Sensitive Files': m('file-write', 'create'),
  'Create Hardlink Over Sensitive Files': m('file-write', 'create'),
  'Delete or rename shell history': m('file-write', 'delete'),
  'Delete Bash History': m('file-write', 'delete'),
  'Container Drift Detected (chmod)': m('file-write', 'chmod'),
  'Container Drift Detected (open+create)': m('file-write', 'create'),
  'Set Setuid or Setgid bit': m('file-write', 'chmod'),
  // file-read
  'Read sensitive file untrusted': m('file-read', 'read'),
  'Read sensitive file trusted after startup': m('file-read', 'read'),
  'Read ssh information': m('file-read', 'read'),
  'Read environment variable from /proc files': m('file-read', 'read'),
  'Container Access to Host Sensitive Paths': m('file-read', 'read'),
  // privilege-escalation
  'Non sudo setuid': m('privilege-escalation'),
  'Sudo Potential Privilege Escalation': m('privilege-escalation'),
  'Polkit Local Privilege Escalation': m('privilege-escalation'),
  'Potential Local Privilege Escalation via Environment Variables Misuse': m('privilege-escalation'),
  // module-load
  'Linux Kernel Module Injection Detected': m('module-load'),
  // ptrace
  'PTRACE attached to process': m('ptrace'),
  'PTRACE anti-debug attempt': m('ptrace'),
  // namespace-change
  'Change thread namespace': m('namespace-change'),
  'Change namespace privileges via unshare': m('namespace-change'),
  // bpf-load
  'BPF Program Not Profiled': m('bpf-load'),
};

/** evt.type → behavior. `open*`/`creat` are decided by their flags in falco.ts. */
export const FALCO_EVT_TYPES: Readonly<Record<string, FalcoMapping>> = {
  execve: m('process-exec'),
  execveat: m('process-exec'),
  connect: m('network-connect'),
  listen: m('network-listen'),
  bind: m('network-listen'),
  accept: m('network-accept'),
  accept4: m('network-accept'),
  open: m('file-read', 'read'),
  openat: m('file-read', 'read'),
  openat2: m('file-read', 'read'),
  open_by_handle_at: m('file-read', 'read'),
  creat: m('file-write', 'create'),
  unlink: m('file-write', 'delete'),
  unlinkat: m('file-write', 'delete'),
  rmdir: m('file-write', 'delete'),
  rename: m('file-write', 'rename'),
  renameat: m('file-write', 'rename'),
  renameat2: m('file-write', 'rename'),
  mkdir: m('file-write', 'create'),
  mkdirat: m('file-write', 'create'),
  symlink: m('file-write', 'create'),
  symlinkat: m('file-write', 'create'),
  link: m('file-write', 'create'),
  linkat: m('file-write', 'create'),
  chmod: m('file-write', 'chmod'),
  fchmod: m('file-write', 'chmod'),
  fchmodat: m('file-write', 'chmod'),
  mount: m('volume-mount'),
  setuid: m('privilege-escalation'),
  setresuid: m('privilege-escalation'),
  setreuid: m('privilege-escalation'),
  setgid: m('privilege-escalation'),
  setresgid: m('privilege-escalation'),
  capset: m('privilege-escalation'),
  init_module: m('module-load'),
  finit_module: m('module-load'),
  ptrace: m('ptrace'),
  setns: m('namespace-change'),
  unshare: m('namespace-change'),
  bpf: m('bpf-load'),
};

/** Open-family syscalls whose flags turn a read into a write. */
export const FALCO_OPEN_TYPES: ReadonlySet<string> = new Set([
  'open',
  'openat',
  'openat2',
  'open_by_handle_at',
]);

/** Falco priorities by their numeric level (gRPC output printed numbers). */
export const FALCO_PRIORITIES = [
  'Emergency',
  'Alert',
  'Critical',
  'Error',
  'Warning',
  'Notice',
  'Informational',
  'Debug',
] as const;
