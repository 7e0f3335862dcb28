/** One violation: what rule, on what, by which process, what was done about it, and the raw event. */
import { api } from '../api.js';
import { useAsync } from '../hooks.js';
import { ModeBadge, Chip, ResultBadge } from '../components/Badges.js';
import { commandLine, nf, relativeTime, resourceLabel } from '../format.js';

function Field({ label, children }: { label: string; children: preact.ComponentChildren }) {
  return (
    <>
      <dt>{label}</dt>
      <dd>{children ?? '—'}</dd>
    </>
  );
}

export function ViolationPage({ id }: { id: number }) {
  const { data: v, error } = useAsync(() => api.violation(id), [id], 5000);
  if (error && !v)
    return (
      <p class="error" role="alert">
        {error}
      </p>
    );
  if (!v) return <p class="muted">Loading…</p>;
  const e = v.lastEvent;
  return (
    <article class="detail">
      <p>
        <a
          href="/"
          onClick={(ev) => (history.length > 1 ? (ev.preventDefault(), history.back()) : undefined)}
        >
          ← Back
        </a>
      </p>
      <h2>
        {v.policy} <span class="muted">/</span> {v.rule}{' '}
        <ResultBadge result={v.result} exception={v.exception} /> <ModeBadge mode={v.mode} />
      </h2>
      {v.result === 'skip' ? (
        <p class="exempted" data-testid="exempted">
          Skipped: exempted by PolicyException <span class="mono">{v.exception ?? '(unknown)'}</span>. Not a
          violation; no actions run.
        </p>
      ) : null}
      <p class="message">{v.message}</p>
      <div class="grid-2">
        <section class="card" aria-label="Resource">
          <h3>Resource</h3>
          <dl>
            <Field label="Resource">
              {v.resource.kind} {resourceLabel(v.resource)}
              {v.synthetic ? <span class="muted small"> (from the event; no cluster)</span> : null}
            </Field>
            <Field label="Container">{v.container}</Field>
            <Field label="Image">{v.image ? <span class="mono">{v.image}</span> : undefined}</Field>
            <Field label="Node">{v.node}</Field>
            <Field label="Behavior">
              <Chip>{v.behavior}</Chip>
            </Field>
            <Field label="Source">{v.source}</Field>
          </dl>
        </section>
        <section class="card" aria-label="Process">
          <h3>Process</h3>
          <dl>
            <Field label="Binary">
              {v.process?.binary ? <span class="mono">{v.process.binary}</span> : undefined}
            </Field>
            <Field label="Arguments">
              {v.process?.args?.length ? (
                <code>{commandLine(v.process.binary, v.process.args)}</code>
              ) : undefined}
            </Field>
            <Field label="PID / UID">
              {v.process ? `${v.process.pid ?? '?'} / ${v.process.uid ?? '?'}` : undefined}
            </Field>
            <Field label="Parent">
              {v.parent ? <code>{commandLine(v.parent.binary, v.parent.args)}</code> : undefined}
            </Field>
            <Field label="Parent PID">{v.parent?.pid}</Field>
          </dl>
        </section>
      </div>
      <div class="grid-2">
        <section class="card" aria-label="Occurrences">
          <h3>Occurrences</h3>
          <dl>
            <Field label="Count">{nf.format(v.count)}</Field>
            <Field label="First seen">{v.firstSeen}</Field>
            <Field label="Last seen">
              {v.lastSeen} <span class="muted small">(recorded {relativeTime(v.updatedAt)})</span>
            </Field>
            <Field label="Last event">
              <span class="mono small">{v.lastEventId}</span>
            </Field>
          </dl>
        </section>
        <section class="card" aria-label="Actions">
          <h3>Actions</h3>
          {v.actions.length === 0 ? (
            <p class="muted">
              {v.result === 'skip'
                ? 'Exempted by a PolicyException: no actions run.'
                : v.mode === 'Audit'
                  ? 'Audit mode: no actions run.'
                  : 'No actions recorded.'}
            </p>
          ) : (
            <table>
              <thead>
                <tr>
                  <th scope="col">Action</th>
                  <th scope="col">Outcome</th>
                  <th scope="col">Detail</th>
                  <th scope="col">Time</th>
                </tr>
              </thead>
              <tbody>
                {v.actions.map((a) => (
                  <tr key={a.id}>
                    <td>{a.action}</td>
                    <td>
                      <span class={`badge outcome-${a.outcome}`}>{a.outcome}</span>
                    </td>
                    <td class="small">{a.detail ?? ''}</td>
                    <td class="small">{a.time}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </section>
      </div>
      <section class="card" aria-label="Raw event">
        <h3>Event</h3>
        <pre class="raw" tabIndex={0}>
          {JSON.stringify(e, null, 2)}
        </pre>
      </section>
    </article>
  );
}
