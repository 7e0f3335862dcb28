/** Builds the lookup client of each container runtime socket (CRI over gRPC, Docker over HTTP). */
import { CONTAINER_RUNTIME_DEFAULTS, type RuntimeLookup, type RuntimeSocket } from './container-runtime.js';
import { DockerLookup } from './docker.js';

export async function createRuntimeLookups(
  sockets: readonly RuntimeSocket[],
  maxResponseBytes: number = CONTAINER_RUNTIME_DEFAULTS.maxResponseBytes,
): Promise<RuntimeLookup[]> {
  // The CRI client needs gRPC and the proto loader, a large module graph: loaded only for a CRI socket.
  const cri = sockets.some((s) => s.kind !== 'docker') ? await import('./cri.js') : undefined;
  return sockets.map((s) =>
    s.kind === 'docker' || cri === undefined
      ? new DockerLookup({ socket: s.path, maxResponseBytes })
      : new cri.CriLookup({ socket: s.path, maxResponseBytes }),
  );
}
