/**
 * A read-only client of the Kubernetes CRI API (containerd, CRI-O) on the runtime's unix socket:
 * what a container id names (container name, image, labels) and its pod sandbox (pod name,
 * namespace, uid, pod labels), the way Falco's container metadata is gathered. Three unary calls,
 * each under the caller's deadline; replies are capped in size by the channel (a larger one fails
 * with RESOURCE_EXHAUSTED before it is decoded).
 */
import { existsSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { packagePath } from '../../package-root.js';
import {
  boundedLabels,
  boundedText,
  RuntimeLookupError,
  type ContainerMetadata,
  type RuntimeLookup,
} from './container-runtime.js';

/** proto/cri-runtime-v1.proto, shipped in the package. */
function criProtoPath(): string {
  const p = packagePath('proto', 'cri-runtime-v1.proto');
  if (!existsSync(p)) throw new Error(`proto/cri-runtime-v1.proto not found in the package (${p})`);
  return p;
}

let loaded: grpc.ServiceClientConstructor | undefined;

/** The RuntimeService client constructor (also used by tests to serve the same service). */
export function criRuntimeService(): grpc.ServiceClientConstructor {
  if (loaded) return loaded;
  const def = protoLoader.loadSync(criProtoPath(), {
    keepCase: true,
    longs: String,
    enums: String,
    defaults: false,
    oneofs: false,
  });
  const pkg = grpc.loadPackageDefinition(def) as unknown as {
    runtime: { v1: { RuntimeService: grpc.ServiceClientConstructor } };
  };
  loaded = pkg.runtime.v1.RuntimeService;
  return loaded;
}

type Unary = (
  req: object,
  md: grpc.Metadata,
  opts: grpc.CallOptions,
  cb: (err: grpc.ServiceError | null, res?: unknown) => void,
) => void;

function record(v: unknown): Record<string, unknown> | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
    ? (v as Record<string, unknown>)
    : undefined;
}

function lookupError(err: grpc.ServiceError): RuntimeLookupError {
  const byCode: Partial<Record<grpc.status, 'not-found' | 'timeout' | 'too-large'>> = {
    [grpc.status.NOT_FOUND]: 'not-found',
    [grpc.status.DEADLINE_EXCEEDED]: 'timeout',
    [grpc.status.RESOURCE_EXHAUSTED]: 'too-large',
  };
  const result = byCode[err.code];
  return result !== undefined
    ? new RuntimeLookupError(result, err.details)
    : new RuntimeLookupError('error', `${grpc.status[err.code] ?? err.code}: ${err.details}`);
}

export interface CriClientOptions {
  /** Path of the runtime's unix socket. */
  socket: string;
  /** Largest reply accepted, bytes. */
  maxResponseBytes: number;
}

/** The CRI lookup of one runtime socket. */
export class CriLookup implements RuntimeLookup {
  readonly runtime = 'cri';
  private readonly client: grpc.Client;

  constructor(opts: CriClientOptions) {
    const Service = criRuntimeService();
    this.client = new Service(`unix://${opts.socket}`, grpc.credentials.createInsecure(), {
      'grpc.max_receive_message_length': opts.maxResponseBytes,
      'grpc.max_send_message_length': 64 * 1024,
      // A runtime that is down must not be hammered: grpc-js backs off between connection attempts.
      'grpc.initial_reconnect_backoff_ms': 1000,
      'grpc.max_reconnect_backoff_ms': 30_000,
    });
  }

  private call(method: string, req: object, deadline: number): Promise<Record<string, unknown>> {
    const fn = (this.client as unknown as Record<string, Unary>)[method];
    if (!fn) return Promise.reject(new RuntimeLookupError('error', `no method ${method}`));
    return new Promise((resolve, reject) => {
      fn.call(this.client, req, new grpc.Metadata(), { deadline }, (err, res) => {
        if (err) reject(lookupError(err));
        else resolve(record(res) ?? {});
      });
    });
  }

  /**
   * ContainerStatus names the container and its image; ListContainers gives its sandbox id (the
   * status does not); PodSandboxStatus names the pod as the kubelet created it, with its labels.
   */
  async lookup(id: string, deadline: number): Promise<ContainerMetadata> {
    const [status, list] = await Promise.all([
      this.call('ContainerStatus', { container_id: id }, deadline),
      this.call('ListContainers', { filter: { id } }, deadline),
    ]);
    const st = record(status.status);
    if (!st) throw new RuntimeLookupError('not-found', `no status for container ${id}`);
    const labels = boundedLabels(st.labels);
    const out: ContainerMetadata = { runtime: 'cri', podFromRuntime: false };
    const name = boundedText(record(st.metadata)?.name) ?? labels['io.kubernetes.container.name'];
    if (name) out.containerName = name;
    const image = boundedText(record(st.image)?.image) ?? boundedText(st.image_ref);
    if (image) out.image = image;
    // Labels the kubelet put on the container; used only when they agree with the cgroup's pod uid.
    const labelUid = labels['io.kubernetes.pod.uid'];
    if (labelUid) {
      out.pod = {
        uid: labelUid,
        name: labels['io.kubernetes.pod.name'],
        namespace: labels['io.kubernetes.pod.namespace'],
      };
    }
    const containers = Array.isArray(list.containers) ? list.containers : [];
    const sandboxId = boundedText(
      containers.map(record).find((c) => c?.id === st.id || c?.id === id)?.pod_sandbox_id,
    );
    if (sandboxId === undefined) return out;
    const sandbox = record(
      (await this.call('PodSandboxStatus', { pod_sandbox_id: sandboxId }, deadline)).status,
    );
    const meta = record(sandbox?.metadata);
    const uid = boundedText(meta?.uid);
    if (!sandbox || !meta || !uid) return out;
    out.pod = {
      uid,
      ...(boundedText(meta.name) !== undefined && { name: boundedText(meta.name) }),
      ...(boundedText(meta.namespace) !== undefined && { namespace: boundedText(meta.namespace) }),
      labels: podLabels(boundedLabels(sandbox.labels)),
    };
    out.podFromRuntime = true;
    return out;
  }

  close(): void {
    this.client.close();
  }
}

/** The kubelet adds its own io.kubernetes.* bookkeeping to the sandbox labels: not the pod's labels. */
function podLabels(labels: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(labels).filter(([k]) => !k.startsWith('io.kubernetes.')));
}
