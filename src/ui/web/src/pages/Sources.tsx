import { api } from '../api.js';
import { useAsync } from '../hooks.js';
import { nf } from '../format.js';

export function SourcesPage() {
  const { data, error } = useAsync(() => Promise.all([api.sources(), api.stats()]), [], 2000);
  if (error && !data)
    return (
      <p class="error" role="alert">
        {error}
      </p>
    );
  if (!data) return <p class="muted">Loading…</p>;
  const [{ sources }, stats] = data;
  return (
    <>
      <section class="card" aria-label="Sources">
        <h3>Sources</h3>
        {sources.length === 0 ? <p class="muted">No sources running.</p> : null}
        <table>
          <thead>
            <tr>
              <th scope="col">Source</th>
              <th scope="col">Status</th>
              <th scope="col" class="num">
                Events/s
              </th>
              <th scope="col" class="num">
                Events in
              </th>
              <th scope="col">Drops by reason</th>
              <th scope="col">Last error</th>
            </tr>
          </thead>
          <tbody>
            {sources.map((s) => (
              <tr key={s.name}>
                <td>
                  <span class="strong">{s.name}</span>
                  <div class="muted small">{s.kind}</div>
                </td>
                <td>
                  <span class={`badge status-${s.status}`}>{s.status}</span>
                </td>
                <td class="num">{s.eventsPerSecond.toFixed(1)}</td>
                <td class="num">{nf.format(s.eventsIn)}</td>
                <td>
                  {Object.keys(s.dropped).length === 0 ? (
                    <span class="muted">none</span>
                  ) : (
                    Object.entries(s.dropped).map(([reason, n]) => (
                      <div key={reason} class="small">
                        <code>{reason}</code> {nf.format(n)}
                      </div>
                    ))
                  )}
                </td>
                <td class="small">{s.lastError ?? <span class="muted">—</span>}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
      <section class="card" aria-label="Store">
        <h3>Store</h3>
        <dl>
          <dt>File</dt>
          <dd class="mono small">{stats.store.path}</dd>
          <dt>Violations / occurrences</dt>
          <dd>
            {nf.format(stats.store.violations)} / {nf.format(stats.store.occurrences)}
          </dd>
          <dt>Recent events kept</dt>
          <dd>{nf.format(stats.store.events)}</dd>
          <dt>Stream clients</dt>
          <dd>{stats.streamClients}</dd>
          {stats.store.lastError ? (
            <>
              <dt>Last write error</dt>
              <dd class="error">{stats.store.lastError}</dd>
            </>
          ) : null}
        </dl>
      </section>
    </>
  );
}
