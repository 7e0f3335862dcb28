/** Events evaluated and violations per bucket (uPlot: small, fast, canvas). */
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { TimelineBucket } from '../api.js';

function cssVar(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || '#888';
}

export function Timeline({ buckets, theme }: { buckets: TimelineBucket[]; theme: string }) {
  const el = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);

  useEffect(() => {
    const host = el.current;
    if (!host) return;
    const axis = {
      stroke: cssVar('--muted'),
      grid: { stroke: cssVar('--grid'), width: 1 },
      ticks: { show: false },
    };
    const opts: uPlot.Options = {
      width: host.clientWidth,
      height: 220,
      legend: { live: false },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true }, v: { auto: true, range: (_u, _min, max) => [0, Math.max(1, max)] } },
      axes: [
        axis,
        { ...axis, scale: 'y' },
        // 1 = right. uPlot's Axis.Side is an ambient const enum, unreachable under isolatedModules.
        // eslint-disable-next-line @typescript-eslint/no-unsafe-enum-assignment
        { ...axis, scale: 'v', side: 1, grid: { show: false } },
      ],
      series: [
        {},
        {
          label: 'Events evaluated',
          stroke: cssVar('--accent'),
          fill: cssVar('--accent-fill'),
          width: 2,
          scale: 'y',
        },
        { label: 'Violations', stroke: cssVar('--danger'), width: 2, scale: 'v', points: { show: false } },
        {
          label: 'Skipped (exception)',
          stroke: cssVar('--muted'),
          width: 1,
          dash: [4, 4],
          scale: 'v',
          points: { show: false },
        },
      ],
    };
    plot.current = new uPlot(opts, [[], [], [], []], host);
    const ro = new ResizeObserver(() => plot.current?.setSize({ width: host.clientWidth, height: 220 }));
    ro.observe(host);
    return () => {
      ro.disconnect();
      plot.current?.destroy();
      plot.current = null;
    };
  }, [theme]);

  useEffect(() => {
    plot.current?.setData([
      buckets.map((b) => b.t / 1000),
      buckets.map((b) => b.evaluated),
      buckets.map((b) => b.violations),
      buckets.map((b) => b.skipped),
    ]);
  }, [buckets, theme]);

  return <div class="timeline" ref={el} role="img" aria-label="Events evaluated and violations over time" />;
}
