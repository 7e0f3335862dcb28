/**
 * client-node 1.x throws ApiException with `.code` and the raw Status body as a string; parse it
 * once here so callers branch on reason codes (NotFound, Conflict, AlreadyExists, Expired) instead
 * of message text. Network errors (no HTTP response) are `code: 0, reason: 'Unreachable'`.
 */
export interface ApiStatus {
  code: number;
  reason: string;
  message: string;
}

function hasCode(e: unknown): e is { code: unknown; body?: unknown } {
  return e !== null && typeof e === 'object' && 'code' in e;
}

export function apiStatus(err: unknown): ApiStatus {
  if (hasCode(err) && typeof err.code === 'number' && err.code >= 100) {
    let reason = '';
    let message = '';
    const body =
      typeof err.body === 'string'
        ? err.body
        : Buffer.isBuffer(err.body)
          ? err.body.toString('utf8')
          : undefined;
    if (body !== undefined) {
      try {
        const parsed = JSON.parse(body) as { reason?: unknown; message?: unknown };
        reason = typeof parsed.reason === 'string' ? parsed.reason : '';
        message = typeof parsed.message === 'string' ? parsed.message : '';
      } catch {
        message = body.slice(0, 200);
      }
    } else if (err.body !== null && typeof err.body === 'object') {
      const b = err.body as { reason?: unknown; message?: unknown };
      reason = typeof b.reason === 'string' ? b.reason : '';
      message = typeof b.message === 'string' ? b.message : '';
    }
    return {
      code: err.code,
      reason: reason || defaultReason(err.code),
      message: message || `HTTP ${err.code}`,
    };
  }
  const message = err instanceof Error ? err.message : String(err);
  return { code: 0, reason: 'Unreachable', message };
}

function defaultReason(code: number): string {
  switch (code) {
    case 404:
      return 'NotFound';
    case 409:
      return 'Conflict';
    case 410:
      return 'Expired';
    case 422:
      return 'Invalid';
    case 429:
      return 'TooManyRequests';
    default:
      return code >= 500 ? 'InternalError' : 'Unknown';
  }
}

export const isNotFound = (e: unknown): boolean => apiStatus(e).code === 404;
export const isConflict = (e: unknown): boolean => apiStatus(e).code === 409;
/** Worth retrying later: the server was unreachable, overloaded or failing. */
export const isTransient = (e: unknown): boolean => {
  const c = apiStatus(e).code;
  return c === 0 || c === 429 || c >= 500;
};
