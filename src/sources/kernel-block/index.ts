/** `block` rules enforced in the kernel (cgroup connect4/connect6). See docs/enforcement.md. */
export {
  KernelBlocker,
  KERNEL_BLOCK_SOURCE_NAME,
  cgroupIdOf,
  encodeRules,
  findCgroup2Root,
  type KernelBlockerOptions,
  type KernelBlockLoad,
} from './blocker.js';
export {
  ensureKernelBlockLoader,
  KernelBlockError,
  KERNEL_BLOCK_INSTALL_COMMAND,
  type BuildOptions,
} from './build.js';
