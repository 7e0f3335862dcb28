/** Events per second per source, from successive cumulative `eventsIn` readings (sliding window). */
interface Sample {
  t: number;
  n: number;
}

export class RateTracker {
  private readonly samples = new Map<string, Sample[]>();

  constructor(
    private readonly windowMs = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Records the cumulative count and returns the rate over the window (0 until two samples exist). */
  rate(name: string, cumulative: number): number {
    const t = this.now();
    const list = this.samples.get(name) ?? [];
    // A counter that went down means the source restarted: start over.
    if (list.length > 0 && cumulative < list.at(-1)!.n) list.length = 0;
    list.push({ t, n: cumulative });
    while (list.length > 2 && t - list[1]!.t >= this.windowMs) list.shift();
    this.samples.set(name, list);
    const first = list[0]!;
    const dt = (t - first.t) / 1000;
    return dt > 0 ? (cumulative - first.n) / dt : 0;
  }
}
