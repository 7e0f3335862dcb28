/**
 * Live verdicts from /api/stream. EventSource cannot send an Authorization header, so this reads the
 * SSE stream with fetch and parses it (the format is four line types); it reconnects with backoff.
 */
import { authHeaders } from './api.js';
import type { StreamVerdict } from '../../../server/wire.js';

export type { StreamVerdict };
export type StreamState = 'connecting' | 'live' | 'offline';

export function subscribe(
  onVerdict: (v: StreamVerdict) => void,
  onState: (s: StreamState) => void,
): () => void {
  const ac = new AbortController();
  let delay = 1000;

  const run = async (): Promise<void> => {
    while (!ac.signal.aborted) {
      onState('connecting');
      try {
        const res = await fetch('/api/stream', { headers: authHeaders(), signal: ac.signal });
        if (!res.ok || !res.body) throw new Error(`stream ${res.status}`);
        onState('live');
        delay = 1000;
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        let buf = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += value;
          let end: number;
          while ((end = buf.indexOf('\n\n')) >= 0) {
            const block = buf.slice(0, end);
            buf = buf.slice(end + 2);
            let event = 'message';
            let data = '';
            for (const line of block.split('\n')) {
              if (line.startsWith('event:')) event = line.slice(6).trim();
              else if (line.startsWith('data:')) data += line.slice(5).trimStart();
            }
            if (event === 'verdict' && data) onVerdict(JSON.parse(data) as StreamVerdict);
          }
        }
      } catch {
        if (ac.signal.aborted) return;
      }
      onState('offline');
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 15_000);
    }
  };
  void run();
  return () => ac.abort();
}
