/**
 * One retry for requests that die on a stale keep-alive connection.
 *
 * Why: with connection reuse (connection-pool.ts) a request can be written onto an idle connection
 * at the moment the server closes it (its idle timeout), and fails with ECONNRESET/EPIPE although
 * the server never read it. Go's net/http and browsers retry such requests once on a new
 * connection; node-fetch (under client-node) does not, so we do — only for requests that are safe
 * to send twice: GET, HEAD, PUT, DELETE, and PATCH with a merge/strategic-merge/apply body (they set
 * fields to values). POST (creates) and JSON Patch (`add` to an array is not idempotent) are never
 * retried; their callers see the error as before.
 *
 * The response body is read here, not later by the generated client, so that a connection lost
 * while the body streams (node-fetch: ERR_STREAM_PREMATURE_CLOSE, which node-fetch 2 can also raise
 * spuriously on reused sockets, node-fetch#1767) is caught and retried by the same rule. Nothing
 * that streams goes through the API clients (watches use their own connections), so buffering the
 * body costs nothing.
 */
import {
  IsomorphicFetchHttpLibrary,
  Observable,
  ResponseContext,
  type HttpLibrary,
  type RequestContext,
} from '@kubernetes/client-node';
import { k8sRequestResends } from '../observability/metrics.js';

const RETRIED_CODES = new Set(['ECONNRESET', 'EPIPE', 'ERR_STREAM_PREMATURE_CLOSE']);
const IDEMPOTENT_METHODS = new Set(['GET', 'HEAD', 'PUT', 'DELETE']);
const IDEMPOTENT_PATCH_TYPES = new Set([
  'application/merge-patch+json',
  'application/strategic-merge-patch+json',
  'application/apply-patch+yaml',
]);

/** True when `request` may be sent a second time without changing the outcome. */
export function isSafeToResend(request: RequestContext): boolean {
  const method = request.getHttpMethod().toString().toUpperCase();
  if (IDEMPOTENT_METHODS.has(method)) return true;
  if (method !== 'PATCH') return false;
  const contentType = request.getHeaders()['Content-Type'] ?? request.getHeaders()['content-type'];
  return IDEMPOTENT_PATCH_TYPES.has(contentType?.split(';')[0]?.trim() ?? '');
}

/** True for the errors a connection closed under a request produces. */
export function isStaleConnectionError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code: unknown = (err as Error & { code?: unknown }).code;
  return typeof code === 'string' && RETRIED_CODES.has(code);
}

export class StaleConnectionRetry implements HttpLibrary {
  /** Requests that were sent a second time (also counted in kyverno_runtime_k8s_request_resends_total). */
  retries = 0;
  private readonly inner = new IsomorphicFetchHttpLibrary();

  send(request: RequestContext): ReturnType<HttpLibrary['send']> {
    return new Observable(
      this.sendBuffered(request).catch((err: unknown) => {
        if (!isStaleConnectionError(err) || !isSafeToResend(request) || request.getSignal()?.aborted === true)
          throw err;
        this.retries++;
        k8sRequestResends.inc({ method: request.getHttpMethod().toString().toUpperCase() });
        return this.sendBuffered(request);
      }),
    );
  }

  /** Sends `request` and reads its whole body, so that a connection lost mid-body fails here. */
  private async sendBuffered(request: RequestContext): Promise<ResponseContext> {
    const response = await this.inner.send(request).toPromise();
    const body = await response.body.binary();
    return new ResponseContext(response.httpStatusCode, response.headers, {
      text: () => Promise.resolve(body.toString('utf8')),
      binary: () => Promise.resolve(body),
    });
  }
}
