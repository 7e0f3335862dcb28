import { useEffect, useState } from 'preact/hooks';

export interface Async<T> {
  data?: T;
  error?: string;
}

/** Loads `load()` when deps change and every `pollMs` (if given); keeps the last data while reloading. */
export function useAsync<T>(load: () => Promise<T>, deps: unknown[], pollMs?: number): Async<T> {
  const [state, setState] = useState<Async<T>>({});
  useEffect(() => {
    let alive = true;
    const run = (): void => {
      load().then(
        (data) => alive && setState({ data }),
        (err: unknown) =>
          alive && setState((s) => ({ ...s, error: err instanceof Error ? err.message : String(err) })),
      );
    };
    run();
    const t = pollMs ? setInterval(run, pollMs) : undefined;
    return () => {
      alive = false;
      if (t) clearInterval(t);
    };
  }, deps);
  return state;
}
