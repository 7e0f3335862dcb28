/** Filters and search, bound to the URL query string (replaceState: typing does not flood history). */
import { useEffect, useState } from 'preact/hooks';
import type { Filters } from '../api.js';
import { navigate } from '../router.js';
// The engine's vocabulary itself (a dependency-free module), so the filter can never drift from it.
import { BEHAVIORS } from '../../../../events/types.js';

export const FILTER_KEYS = ['q', 'policy', 'rule', 'namespace', 'pod', 'behavior', 'mode', 'result'] as const;

export function filtersFrom(search: URLSearchParams): Filters {
  const f: Filters = {};
  for (const k of FILTER_KEYS) {
    const v = search.get(k);
    if (v) f[k] = v;
  }
  return f;
}

export function urlWith(filters: Filters, patch: Filters): string {
  const qs = new URLSearchParams();
  for (const k of FILTER_KEYS) {
    const v = k in patch ? patch[k] : filters[k];
    if (v) qs.set(k, v);
  }
  return qs.size ? `/?${qs.toString()}` : '/';
}

export function FilterBar({ filters, policies }: { filters: Filters; policies: string[] }) {
  const [q, setQ] = useState(filters.q ?? '');
  useEffect(() => setQ(filters.q ?? ''), [filters.q]);
  useEffect(() => {
    if ((filters.q ?? '') === q) return;
    const t = setTimeout(() => navigate(urlWith(filters, { q }), true), 250);
    return () => clearTimeout(t);
  }, [q]);
  const set = (k: keyof Filters) => (e: Event) =>
    navigate(urlWith(filters, { [k]: (e.currentTarget as HTMLInputElement).value }), true);
  const active = FILTER_KEYS.some((k) => filters[k]);
  return (
    <form class="filters" role="search" onSubmit={(e) => e.preventDefault()}>
      <label class="grow">
        <span>Search</span>
        <input
          type="search"
          name="q"
          placeholder="message, pod, image, binary…"
          value={q}
          onInput={(e) => setQ(e.currentTarget.value)}
        />
      </label>
      <label>
        <span>Policy</span>
        <select name="policy" value={filters.policy ?? ''} onChange={set('policy')}>
          <option value="">All</option>
          {[...new Set([...policies, ...(filters.policy ? [filters.policy] : [])])].map((p) => (
            <option key={p} value={p}>
              {p}
            </option>
          ))}
        </select>
      </label>
      <label>
        <span>Behavior</span>
        <select name="behavior" value={filters.behavior ?? ''} onChange={set('behavior')}>
          <option value="">All</option>
          {BEHAVIORS.map((b) => (
            <option key={b} value={b}>
              {b}
            </option>
          ))}
        </select>
      </label>
      <label>
        <span>Mode</span>
        <select name="mode" value={filters.mode ?? ''} onChange={set('mode')}>
          <option value="">All</option>
          <option value="Audit">Audit</option>
          <option value="Enforce">Enforce</option>
        </select>
      </label>
      <label>
        <span>Result</span>
        <select name="result" value={filters.result ?? ''} onChange={set('result')}>
          <option value="">All</option>
          <option value="fail">Violations</option>
          <option value="skip">Skipped (exception)</option>
        </select>
      </label>
      <label>
        <span>Namespace</span>
        <input name="namespace" value={filters.namespace ?? ''} onChange={set('namespace')} size={12} />
      </label>
      <label>
        <span>Pod</span>
        <input name="pod" value={filters.pod ?? ''} onChange={set('pod')} size={14} />
      </label>
      {active ? (
        <button type="button" class="link" onClick={() => navigate('/', true)}>
          Clear filters
        </button>
      ) : null}
    </form>
  );
}
