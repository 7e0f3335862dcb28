/** The built-in eBPF sensor (bpftrace). See docs/sensor.md. */
export {
  BpftraceSensor,
  DEFAULT_ATTACH_TIMEOUT_MS,
  SENSOR_DROP_REASONS,
  SensorAttachTimeoutError,
  type BpftraceSensorOptions,
  type SensorHintsLike,
} from './sensor.js';
export {
  ensureSensorPrerequisites,
  PrerequisiteError,
  INSTALL_COMMAND,
  TRACEFS_MOUNT,
  type SensorHost,
  type PrerequisiteOptions,
} from './prerequisites.js';
export { generateProgram, type GeneratedProgram } from './program.js';
export { parseCgroupPath, parseProcCgroup, type CgroupIdentity } from './cgroup.js';
export {
  ContainerMetadataEnricher,
  CONTAINER_RUNTIME_DEFAULTS,
  DEFAULT_RUNTIME_SOCKETS,
  parseRuntimeSocket,
  runtimeSocketsToUse,
  type ContainerEnrichment,
  type RuntimeSocket,
} from './container-runtime.js';
export { createRuntimeLookups } from './runtime-clients.js';
