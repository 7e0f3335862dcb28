/** A ranked list with proportional bars; each row sets a filter (a link, so it is keyboard-usable). */
import type { ViolationBreakdown } from '../api.js';
import { nf } from '../format.js';

type Row = ViolationBreakdown['byPolicy'][number];

export function BarList({
  title,
  rows,
  href,
}: {
  title: string;
  rows: Row[];
  href: (key: string) => string | undefined;
}) {
  const max = Math.max(1, ...rows.map((r) => r.occurrences));
  return (
    <section class="card bars" aria-label={title}>
      <h3>{title}</h3>
      {rows.length === 0 ? <p class="muted">Nothing yet.</p> : null}
      <ul>
        {rows.map((r) => {
          const link = href(r.key);
          const body = (
            <>
              <span class="bar" style={{ width: `${(100 * r.occurrences) / max}%` }} />
              <span class="bar-label">{r.key}</span>
              <span class="bar-value" title={`${r.violations} results, ${r.occurrences} occurrences`}>
                {nf.format(r.occurrences)}
              </span>
            </>
          );
          return <li key={r.key}>{link ? <a href={link}>{body}</a> : <div>{body}</div>}</li>;
        })}
      </ul>
    </section>
  );
}
