/** Builds the lookup client of each container runtime socket (CRI over gRPC, Docker over HTTP). */
import { CONTAINER_RUNTIME_DEFAULTS, type RuntimeLookup, type RuntimeSocket } from './container-runtime.js';
import { CriLookup } from './cri.js';
import { DockerLookup } from './docker.js';

export function createRuntimeLookups(
  sockets: readonly RuntimeSocket[],
  maxResponseBytes: number = CONTAINER_RUNTIME_DEFAULTS.maxResponseBytes,
): RuntimeLookup[] {
  return sockets.map((s) =>
    s.kind === 'docker'
      ? new DockerLookup({ socket: s.path, maxResponseBytes })
      : new CriLookup({ socket: s.path, maxResponseBytes }),
  );
}
