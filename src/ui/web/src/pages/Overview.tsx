/** Overview: breakdowns, the timeline, live verdicts and the violations table, all honouring the URL filters. */
import { useEffect, useRef, useState } from 'preact/hooks';
import {
  api,
  type Filters,
  type ViolationBreakdown,
  type ViolationSummary,
  type TimelineBucket,
} from '../api.js';
import { subscribe, type StreamState, type StreamVerdict } from '../stream.js';
import { BarList } from '../components/BarList.js';
import { FilterBar, urlWith } from '../components/FilterBar.js';
import { Timeline } from '../components/Timeline.js';
import { ViolationTable } from '../components/ViolationTable.js';
import { ModeBadge, ResultBadge } from '../components/Badges.js';
import { navigate } from '../router.js';
import { nf } from '../format.js';

const PAGE = 50;

interface LiveItem extends StreamVerdict {
  key: number;
  at: number;
}

export function Overview({ filters, theme }: { filters: Filters; theme: string }) {
  const [summary, setSummary] = useState<ViolationBreakdown>();
  const [items, setItems] = useState<ViolationSummary[]>([]);
  const [total, setTotal] = useState(0);
  const [cursor, setCursor] = useState<string>();
  const [timeline, setTimeline] = useState<TimelineBucket[]>([]);
  const [error, setError] = useState<string>();
  const [live, setLive] = useState<LiveItem[]>([]);
  const [stream, setStream] = useState<StreamState>('connecting');
  const [fresh, setFresh] = useState<ReadonlySet<number>>(new Set());
  const known = useRef(new Map<number, number>());
  const filterKey = JSON.stringify(filters);

  const refresh = async (markFresh: boolean): Promise<void> => {
    try {
      const [s, page, tl] = await Promise.all([
        api.summary(filters),
        api.violations(filters, { limit: PAGE }),
        api.timeline(60),
      ]);
      // Rows that are new or whose count grew since the last load are highlighted.
      const changed = new Set<number>();
      for (const v of page.items) {
        const before = known.current.get(v.id);
        if (markFresh && before !== v.count) changed.add(v.id);
        known.current.set(v.id, v.count);
      }
      setSummary(s);
      setItems(page.items);
      setTotal(page.total);
      setCursor(page.nextCursor);
      setTimeline(tl.buckets);
      setFresh(changed);
      setError(undefined);
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    }
  };

  useEffect(() => {
    known.current.clear();
    void refresh(false);
    const t = setInterval(() => void refresh(false), 15_000);
    return () => clearInterval(t);
  }, [filterKey]);

  // Live verdicts: shown at once in the feed; the table and charts reload, throttled.
  const pending = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  useEffect(() => {
    let n = 0;
    let lost = false;
    // Nothing is replayed after a reconnect, so reload what may have been missed.
    const onStreamState = (s: StreamState): void => {
      setStream(s);
      if (s === 'offline') lost = true;
      if (s === 'live' && lost) {
        lost = false;
        void refresh(true);
      }
    };
    const stop = subscribe((v) => {
      setLive((l) => [{ ...v, key: n++, at: Date.now() }, ...l].slice(0, 12));
      // Throttled, not debounced: a steady flood of verdicts must still refresh twice a second.
      pending.current ??= setTimeout(() => {
        pending.current = undefined;
        void refresh(true);
      }, 500);
    }, onStreamState);
    return () => {
      stop();
      clearTimeout(pending.current);
      pending.current = undefined;
    };
  }, [filterKey]);

  const more = async (): Promise<void> => {
    if (!cursor) return;
    const page = await api.violations(filters, { limit: PAGE, cursor });
    setItems((xs) => [...xs, ...page.items]);
    setCursor(page.nextCursor);
  };

  const openLive = async (v: StreamVerdict): Promise<void> => {
    const page = await api.violations(
      { policy: v.policy, rule: v.rule, namespace: v.resource.namespace, pod: v.resource.name },
      { limit: 1 },
    );
    const id = page.items[0]?.id;
    if (id !== undefined) navigate(`/violations/${id}`);
  };

  // Exempted rows are listed (as skipped) but are no violations: the KPI counts them apart.
  const skipped = summary?.byResult.find((x) => x.key === 'skip')?.violations ?? 0;
  const filterLink = (k: keyof Filters) => (key: string) => urlWith(filters, { [k]: key });
  const resourceLink = (key: string): string | undefined => {
    const [ns, name] = key.split('/');
    return ns && name && !key.startsWith('node/')
      ? urlWith(filters, { namespace: ns, pod: name })
      : undefined;
  };

  return (
    <>
      <FilterBar filters={filters} policies={summary?.byPolicy.map((p) => p.key) ?? []} />
      {error ? (
        <p class="error" role="alert">
          Could not load: {error}
        </p>
      ) : null}
      <div class="kpis">
        <div class="card kpi">
          <span class="muted">Violations</span>
          <strong data-testid="kpi-violations">
            {nf.format((summary?.total.violations ?? 0) - skipped)}
          </strong>
        </div>
        <div class="card kpi">
          <span class="muted">Skipped (exception)</span>
          <strong data-testid="kpi-skipped">{nf.format(skipped)}</strong>
        </div>
        <div class="card kpi">
          <span class="muted">Occurrences</span>
          <strong>{nf.format(summary?.total.occurrences ?? 0)}</strong>
        </div>
        {(['Enforce', 'Audit'] as const).map((m) => (
          <div class="card kpi" key={m}>
            <span class="muted">{m}</span>
            <strong data-testid={`kpi-mode-${m}`}>
              {nf.format(summary?.byMode.find((x) => x.key === m)?.violations ?? 0)}
            </strong>
          </div>
        ))}
        <div class="card kpi">
          <span class="muted">Stream</span>
          <strong class={`stream stream-${stream}`} data-testid="stream-state">
            {stream}
          </strong>
        </div>
      </div>
      <div class="grid-2">
        <section class="card" aria-label="Timeline">
          <h3>Last hour</h3>
          <Timeline buckets={timeline} theme={theme} />
        </section>
        <section class="card live" aria-label="Live verdicts" aria-live="polite">
          <h3>Live</h3>
          {live.length === 0 ? <p class="muted">Waiting for verdicts…</p> : null}
          <ul>
            {live.map((v) => (
              <li key={v.key}>
                <button type="button" class="live-item" onClick={() => void openLive(v)}>
                  {v.result === 'skip' ? (
                    <ResultBadge result={v.result} exception={v.exception} />
                  ) : (
                    <ModeBadge mode={v.mode} />
                  )}
                  <span class="strong">{v.policy}</span>
                  <span class="muted small">
                    {v.resource.namespace ? `${v.resource.namespace}/` : ''}
                    {v.resource.name}
                  </span>
                  <span class="small clip">{v.message}</span>
                </button>
              </li>
            ))}
          </ul>
        </section>
      </div>
      <div class="grid-3">
        <BarList title="By policy" rows={summary?.byPolicy ?? []} href={filterLink('policy')} />
        <BarList title="By namespace / pod" rows={summary?.byResource ?? []} href={resourceLink} />
        <BarList title="By behavior" rows={summary?.byBehavior ?? []} href={filterLink('behavior')} />
      </div>
      <section class="card" aria-label="Violations">
        <h3>
          Violations <span class="muted small">({nf.format(total)} matching)</span>
        </h3>
        {items.length === 0 ? (
          <p class="muted">
            No violations{Object.keys(filters).length ? ' match these filters' : ' recorded yet'}.
          </p>
        ) : (
          <ViolationTable items={items} fresh={fresh} />
        )}
        {cursor ? (
          <button type="button" class="more" onClick={() => void more()}>
            Load more
          </button>
        ) : null}
      </section>
    </>
  );
}
