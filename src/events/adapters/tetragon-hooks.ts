/**
 * Tetragon hook → behavior: ONE data table (documented in docs/events.md "Tetragon"). Keys are
 * normalised symbols: arch wrappers are stripped (`__x64_sys_mount` → `sys_mount`), tracepoints
 * `syscalls/sys_enter_X` become `sys_X`, LSM hooks are looked up as `security_<hook>` then `<hook>`.
 * A hook not in the table still produces an event: behavior `alert`, named by its TracingPolicy.
 */
import type { FileOperation } from '../types.js';

/** How the hook's arguments are read; each kind has one extractor in tetragon.ts. */
export type HookKind =
  | 'exec'
  | 'mount'
  | 'connect'
  | 'listen'
  /** An accepted inbound connection: the sock (often the kretprobe's return value) has both ends. */
  | 'accept'
  /** tcp_set_state(sock, int new_state): listen, connect or accept depending on the transition. */
  | 'tcp-state'
  /** security_file_permission: int mask, MAY_WRITE (2) / MAY_APPEND (8) → write, else read. */
  | 'file-permission'
  /** open-family: numeric open flags decide read / write / create. */
  | 'file-open'
  /** Always a write of the given operation (write, create, delete, rename, chmod). */
  | 'file-write'
  | 'file-read'
  | 'setuid'
  | 'setgid'
  | 'creds'
  | 'capability'
  | 'module'
  /** security_kernel_read_file: READING_MODULE (2) → module-load, else file-read. */
  | 'kernel-read-file'
  | 'ptrace'
  | 'namespace'
  | 'bpf';

export interface HookMapping {
  kind: HookKind;
  /** For file-write hooks: which operation. */
  op?: FileOperation;
}

const h = (kind: HookKind, op?: FileOperation): HookMapping => (op ? { kind, op } : { kind });

export const TETRAGON_HOOKS: Readonly<Record<string, HookMapping>> = {
  // process-exec
  sys_execve: h('exec'),
  sys_execveat: h('exec'),
  security_bprm_check: h('exec'),
  bprm_check_security: h('exec'),
  bprm_execve: h('exec'),
  // volume-mount
  sys_mount: h('mount'),
  sys_fsmount: h('mount'),
  sys_move_mount: h('mount'),
  sys_mount_setattr: h('mount'),
  sys_open_tree: h('mount'),
  security_sb_mount: h('mount'),
  sb_mount: h('mount'),
  security_move_mount: h('mount'),
  path_mount: h('mount'),
  do_mount: h('mount'),
  do_new_mount: h('mount'),
  // network-connect
  tcp_connect: h('connect'),
  tcp_v4_connect: h('connect'),
  tcp_v6_connect: h('connect'),
  ip4_datagram_connect: h('connect'),
  ip6_datagram_connect: h('connect'),
  sys_connect: h('connect'),
  security_socket_connect: h('connect'),
  socket_connect: h('connect'),
  // network-accept
  inet_csk_accept: h('accept'),
  security_socket_accept: h('accept'),
  socket_accept: h('accept'),
  sys_accept: h('accept'),
  sys_accept4: h('accept'),
  tcp_set_state: h('tcp-state'),
  // network-listen
  inet_csk_listen_start: h('listen'),
  sys_listen: h('listen'),
  security_socket_listen: h('listen'),
  socket_listen: h('listen'),
  sys_bind: h('listen'),
  security_socket_bind: h('listen'),
  socket_bind: h('listen'),
  inet_bind: h('listen'),
  // file-read / file-write
  security_file_permission: h('file-permission'),
  file_permission: h('file-permission'),
  sys_open: h('file-open'),
  sys_openat: h('file-open'),
  sys_openat2: h('file-open'),
  security_file_open: h('file-open'),
  file_open: h('file-open'),
  fd_install: h('file-open'),
  sys_write: h('file-write', 'write'),
  sys_pwrite64: h('file-write', 'write'),
  sys_writev: h('file-write', 'write'),
  vfs_write: h('file-write', 'write'),
  security_path_truncate: h('file-write', 'write'),
  security_file_truncate: h('file-write', 'write'),
  path_truncate: h('file-write', 'write'),
  sys_truncate: h('file-write', 'write'),
  sys_ftruncate: h('file-write', 'write'),
  sys_creat: h('file-write', 'create'),
  security_inode_create: h('file-write', 'create'),
  security_path_mknod: h('file-write', 'create'),
  security_path_mkdir: h('file-write', 'create'),
  security_inode_mkdir: h('file-write', 'create'),
  security_path_symlink: h('file-write', 'create'),
  security_path_link: h('file-write', 'create'),
  sys_unlink: h('file-write', 'delete'),
  sys_unlinkat: h('file-write', 'delete'),
  sys_rmdir: h('file-write', 'delete'),
  security_path_unlink: h('file-write', 'delete'),
  security_inode_unlink: h('file-write', 'delete'),
  security_path_rmdir: h('file-write', 'delete'),
  sys_rename: h('file-write', 'rename'),
  sys_renameat: h('file-write', 'rename'),
  sys_renameat2: h('file-write', 'rename'),
  security_path_rename: h('file-write', 'rename'),
  security_inode_rename: h('file-write', 'rename'),
  sys_chmod: h('file-write', 'chmod'),
  sys_fchmod: h('file-write', 'chmod'),
  sys_fchmodat: h('file-write', 'chmod'),
  security_path_chmod: h('file-write', 'chmod'),
  sys_read: h('file-read'),
  sys_pread64: h('file-read'),
  sys_readv: h('file-read'),
  vfs_read: h('file-read'),
  // privilege-escalation
  sys_setuid: h('setuid'),
  sys_setreuid: h('setuid'),
  sys_setresuid: h('setuid'),
  sys_setfsuid: h('setuid'),
  sys_setgid: h('setgid'),
  sys_setregid: h('setgid'),
  sys_setresgid: h('setgid'),
  sys_setfsgid: h('setgid'),
  commit_creds: h('creds'),
  security_task_fix_setuid: h('creds'),
  cap_capable: h('capability'),
  security_capable: h('capability'),
  // module-load
  do_init_module: h('module'),
  load_module: h('module'),
  find_module_sections: h('module'),
  sys_init_module: h('module'),
  sys_finit_module: h('module'),
  security_kernel_module_request: h('module'),
  kernel_module_request: h('module'),
  security_kernel_load_data: h('module'),
  security_kernel_read_file: h('kernel-read-file'),
  kernel_read_file: h('kernel-read-file'),
  // ptrace
  sys_ptrace: h('ptrace'),
  ptrace_attach: h('ptrace'),
  security_ptrace_access_check: h('ptrace'),
  ptrace_access_check: h('ptrace'),
  security_ptrace_traceme: h('ptrace'),
  ptrace_traceme: h('ptrace'),
  // namespace-change
  sys_setns: h('namespace'),
  sys_unshare: h('namespace'),
  create_new_namespaces: h('namespace'),
  switch_task_namespaces: h('namespace'),
  // bpf-load
  bpf_check: h('bpf'),
  sys_bpf: h('bpf'),
  security_bpf: h('bpf'),
  bpf: h('bpf'),
  security_bpf_prog: h('bpf'),
  bpf_prog: h('bpf'),
  security_bpf_prog_load: h('bpf'),
  bpf_prog_load: h('bpf'),
};

/** Actions that mean the kernel already stopped the operation or the process. */
export const ENFORCING_ACTIONS: ReadonlySet<string> = new Set([
  'KPROBE_ACTION_SIGKILL',
  'KPROBE_ACTION_OVERRIDE',
  'KPROBE_ACTION_NOTIFYENFORCER',
]);
