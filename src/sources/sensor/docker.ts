/**
 * Docker Engine API on its unix socket: `GET /containers/<id>/json` names a container and its
 * image. The reply is read up to a byte cap (beyond it the request is aborted) and the whole call
 * is under the caller's deadline.
 *
 * Docker merges the image's LABELs into the container's labels, so an image author can write
 * `io.kubernetes.pod.namespace=kube-system` into an image: pod fields from these labels are only
 * used when their pod uid equals the one the kernel's cgroup path gives (the caller checks).
 */
import { request } from 'node:http';
import {
  boundedLabels,
  boundedText,
  RuntimeLookupError,
  type ContainerMetadata,
  type RuntimeLookup,
} from './container-runtime.js';

export interface DockerClientOptions {
  socket: string;
  maxResponseBytes: number;
}

function record(v: unknown): Record<string, unknown> | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
    ? (v as Record<string, unknown>)
    : undefined;
}

export class DockerLookup implements RuntimeLookup {
  readonly runtime = 'docker';
  constructor(private readonly opts: DockerClientOptions) {}

  lookup(id: string, deadline: number): Promise<ContainerMetadata> {
    return this.get(`/containers/${encodeURIComponent(id)}/json`, deadline).then((body) => {
      let doc: unknown;
      try {
        doc = JSON.parse(body);
      } catch {
        throw new RuntimeLookupError('error', 'reply is not JSON');
      }
      const c = record(doc);
      if (!c) throw new RuntimeLookupError('error', 'reply is not an object');
      const config = record(c.Config);
      const labels = boundedLabels(config?.Labels);
      const out: ContainerMetadata = { runtime: 'docker', podFromRuntime: false };
      const name = labels['io.kubernetes.container.name'] ?? boundedText(c.Name)?.replace(/^\//, '');
      if (name) out.containerName = name;
      const image = boundedText(config?.Image);
      if (image) out.image = image;
      const uid = labels['io.kubernetes.pod.uid'];
      if (uid) {
        out.pod = {
          uid,
          name: labels['io.kubernetes.pod.name'],
          namespace: labels['io.kubernetes.pod.namespace'],
        };
      }
      return out;
    });
  }

  private get(path: string, deadline: number): Promise<string> {
    const timeout = Math.max(1, deadline - Date.now());
    return new Promise((resolve, reject) => {
      const req = request({
        socketPath: this.opts.socket,
        path,
        method: 'GET',
        signal: AbortSignal.timeout(timeout),
      });
      req.on('response', (res) => {
        if (res.statusCode === 404) {
          res.resume();
          reject(new RuntimeLookupError('not-found', `container not found (${path})`));
          return;
        }
        if (res.statusCode !== 200) {
          res.resume();
          reject(new RuntimeLookupError('error', `HTTP ${String(res.statusCode)}`));
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > this.opts.maxResponseBytes) {
            req.destroy();
            reject(
              new RuntimeLookupError('too-large', `reply larger than ${this.opts.maxResponseBytes} bytes`),
            );
            return;
          }
          chunks.push(chunk);
        });
        res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
        res.on('error', (err) => reject(asLookupError(err)));
      });
      req.on('error', (err) => reject(asLookupError(err)));
      req.end();
    });
  }

  close(): void {
    // One request per lookup, no pooled connection to close.
  }
}

function asLookupError(err: Error): RuntimeLookupError {
  if (err instanceof RuntimeLookupError) return err;
  if (err.name === 'AbortError' || err.name === 'TimeoutError')
    return new RuntimeLookupError('timeout', err.message);
  return new RuntimeLookupError('error', err.message);
}
