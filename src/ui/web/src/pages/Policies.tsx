import { api } from '../api.js';
import { useAsync } from '../hooks.js';
import { ModeBadge, Chip } from '../components/Badges.js';

export function PoliciesPage() {
  const { data, error } = useAsync(() => api.policies(), [], 10_000);
  if (error && !data)
    return (
      <p class="error" role="alert">
        {error}
      </p>
    );
  if (!data) return <p class="muted">Loading…</p>;
  return (
    <>
      {data.errors.length > 0 ? (
        <section class="card errors" aria-label="Load errors">
          <h3>Load errors ({data.errors.length})</h3>
          <ul>
            {data.errors.map((e, i) => (
              <li key={i}>
                <code>
                  {e.file}:{e.line}:{e.col}
                </code>{' '}
                {e.policy ? <span class="strong">{e.policy}: </span> : null}
                {e.message}
              </li>
            ))}
          </ul>
        </section>
      ) : null}
      <section class="card" aria-label="Policies">
        <h3>Policies ({data.policies.length})</h3>
        {data.kernel ? (
          <p class="muted small" data-testid="kernel">
            In-kernel kill: {data.kernel.inKernelKill ? 'on' : `off (${data.kernel.inKernelKillDetail})`}. BPF
            LSM: {data.kernel.bpfLsm ? 'available' : `not available (${data.kernel.bpfLsmDetail})`}.
          </p>
        ) : null}
        {data.policies.length === 0 ? <p class="muted">No policies loaded.</p> : null}
        <table>
          <thead>
            <tr>
              <th scope="col">Policy</th>
              <th scope="col">Mode</th>
              <th scope="col">Rules</th>
              <th
                scope="col"
                title="Rules that could not be evaluated on an event since start (result error)"
              >
                Rule errors
              </th>
              <th scope="col">Source</th>
            </tr>
          </thead>
          <tbody>
            {data.policies.map((p) => (
              <tr key={`${p.namespace ?? ''}/${p.name}`}>
                <td>
                  <a class="strong" href={`/?policy=${encodeURIComponent(p.name)}`}>
                    {p.name}
                  </a>
                  <div class="muted small">
                    {p.kind}
                    {p.namespace ? ` in ${p.namespace}` : ''}
                  </div>
                </td>
                <td>
                  <ModeBadge mode={p.mode} />
                </td>
                <td>
                  <ul class="rules">
                    {p.rules.map((r) => (
                      <li key={r.name}>
                        <span class="strong">{r.name}</span> <span class="muted small">{r.type}</span>{' '}
                        {r.behaviors.map((b) => (
                          <Chip key={b}>{b}</Chip>
                        ))}
                        {r.actions.length ? <span class="small"> → {r.actions.join(', ')}</span> : null}
                        {r.enforcement && r.enforcement.path !== 'report-only' ? (
                          <div class="small" data-testid="enforcement" title={r.enforcement.reason}>
                            <span class="strong">{r.enforcement.path}</span>{' '}
                            <span class="muted">{r.enforcement.reason}</span>
                          </div>
                        ) : null}
                        {r.enforcement?.warning ? (
                          <div class="small error" role="note">
                            {r.enforcement.warning}
                          </div>
                        ) : null}
                      </li>
                    ))}
                  </ul>
                </td>
                <td class={p.ruleErrors ? 'error' : 'muted'} data-testid="rule-errors">
                  {p.ruleErrors ?? 0}
                </td>
                <td class="mono small">
                  {p.source.file}:{p.source.line}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
    </>
  );
}
