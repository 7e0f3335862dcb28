/**
 * Size caps for rendered text. A message or an action payload string holds event data (process names,
 * arguments, paths) that the workload chooses, so what reaches a report, a log line, a Kubernetes Event or
 * an annotation is cut at a fixed size, with a visible marker, and every cut is counted. The counts live
 * here (no dependency on the metrics registry, so the engine stays importable on its own); the Prometheus
 * counter `kyverno_runtime_render_truncated_total` reads them.
 */

/** Longest rendered rule message, in UTF-16 code units (reports, logs, the verdict, event notes). */
export const MAX_MESSAGE_LENGTH = 4096;
/** Longest rendered string inside an action payload (annotate, label, patch, event note). */
export const MAX_PAYLOAD_STRING_LENGTH = 4096;

export type TruncationKind = 'message' | 'action';

const counts: Record<TruncationKind, number> = { message: 0, action: 0 };

/** Truncations so far, by kind (monotonic; read by the metrics registry). */
export function renderTruncations(): Readonly<Record<TruncationKind, number>> {
  return counts;
}

/**
 * `text` when it fits in `max`, else its start plus a `…[truncated from N chars]` marker, `max` long in total;
 * the cut is counted under `kind`.
 */
export function capRendered(text: string, max: number, kind: TruncationKind): string {
  if (text.length <= max) return text;
  counts[kind]++;
  const marker = `…[truncated from ${text.length} chars]`;
  let end = Math.max(0, max - marker.length);
  // Never leave half of a surrogate pair before the marker.
  const last = text.charCodeAt(end - 1);
  if (end > 0 && last >= 0xd800 && last <= 0xdbff) end--;
  return text.slice(0, end) + marker;
}
