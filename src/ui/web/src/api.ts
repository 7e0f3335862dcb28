/** Typed calls to the local API. Types are shared with the server (type-only imports, erased at build). */
import type {
  Page,
  StoredEvent,
  StoreStats,
  TimelineBucket,
  ViolationBreakdown,
  ViolationDetail,
  ViolationSummary,
} from '../../../reports/store/types.js';
import type { PoliciesResponse, SourcesResponse } from '../../../server/wire.js';

export type { ViolationSummary, ViolationDetail, ViolationBreakdown, TimelineBucket };

const TOKEN_KEY = 'kyverno-runtime.token';

/** A token passed as `#token=…` is kept for the session and removed from the address bar. */
export function captureToken(): void {
  const m = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (!m?.[1]) return;
  sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(m[1]));
  history.replaceState(history.state, '', location.pathname + location.search);
}

export function authHeaders(): Record<string, string> {
  const token = sessionStorage.getItem(TOKEN_KEY);
  return token ? { authorization: `Bearer ${token}` } : {};
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function get<T>(path: string, params: Record<string, string | number | undefined> = {}): Promise<T> {
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') qs.set(k, String(v));
  const url = qs.size ? `${path}?${qs.toString()}` : path;
  const res = await fetch(url, { headers: authHeaders() });
  if (!res.ok) {
    const body = (await res.json().catch(() => ({}))) as { error?: { message?: string } };
    throw new ApiError(res.status, body.error?.message ?? `${res.status} ${res.statusText}`);
  }
  return (await res.json()) as T;
}

export type Filters = Partial<
  Record<'policy' | 'rule' | 'namespace' | 'pod' | 'behavior' | 'mode' | 'result' | 'q', string>
>;

export const api = {
  violations: (f: Filters, page: { limit?: number; cursor?: string }) =>
    get<Page<ViolationSummary>>('/api/violations', { ...f, ...page }),
  summary: (f: Filters) => get<ViolationBreakdown>('/api/violations/summary', { ...f, top: 8 }),
  violation: (id: number) => get<ViolationDetail>(`/api/violations/${id}`),
  timeline: (minutes: number) =>
    get<{ step: number; buckets: TimelineBucket[] }>('/api/timeline', { minutes }),
  policies: () => get<PoliciesResponse>('/api/policies'),
  sources: () => get<SourcesResponse>('/api/sources'),
  stats: () => get<{ store: StoreStats; streamClients: number }>('/api/stats'),
  events: (limit: number) => get<{ items: StoredEvent[] }>('/api/events', { limit }),
};
