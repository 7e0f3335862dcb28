/**
 * Streams events from a file or stdin through the adapters and the runtime engine: what
 * `apply -e` and runtime test files share. Memory stays bounded whatever the input size: lines are
 * processed as they arrive; only counts and the verdicts the caller keeps are retained.
 */
import { boundRaw } from '../events/adapters/guard.js';
import { createReadStream, statSync } from 'node:fs';
import { adaptLine, type SourceFormat } from '../events/adapters/index.js';
import type { RuleError, RuntimeEngine } from '../engine/runtime/index.js';
import type { RuntimeEvent } from '../events/types.js';
import type { Verdict } from '../contracts/verdict.js';
import { LineSplitter, type LinePiece } from '../sources/lines.js';

/** Lines longer than this are skipped and counted as "too-large". */
export const MAX_EVENT_LINE_BYTES = 1024 * 1024;

export interface ReplaySkip {
  line: number;
  reason: string;
  detail: string;
}

export interface ReplaySummary {
  /** Non-blank lines read. */
  read: number;
  /** Events produced by the adapters and evaluated. */
  evaluated: number;
  skipped: Record<string, number>;
  /** The first skips with their line numbers (bounded). */
  skips: ReplaySkip[];
  violations: number;
  /** Rule errors (a CEL or variable failure on an event): neither a pass nor a violation. */
  ruleErrors: number;
  /** Formats seen, with counts. */
  formats: Record<string, number>;
}

const MAX_LISTED_SKIPS = 50;

/**
 * Why `path` cannot be read as a stream of events (a directory, a missing file), checked before
 * reading so the user gets one clear line rather than a stack trace; undefined when it can.
 */
export function eventsPathProblem(path: string): string | undefined {
  if (path === '-') return undefined;
  let stat;
  try {
    stat = statSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return code === 'ENOENT' ? `${path}: no such file` : `${path}: cannot be read (${code ?? String(e)})`;
  }
  if (stat.isDirectory())
    return `${path}: is a directory; give a file of events, one JSON object per line (or - for stdin)`;
  return undefined;
}

export async function replayEvents(
  path: string,
  format: SourceFormat | 'auto',
  engine: RuntimeEngine,
  onVerdicts: (verdicts: Verdict[]) => void,
  onRuleErrors?: (errors: readonly RuleError[], event: RuntimeEvent) => void,
): Promise<ReplaySummary> {
  const summary: ReplaySummary = {
    read: 0,
    evaluated: 0,
    skipped: {},
    skips: [],
    violations: 0,
    ruleErrors: 0,
    formats: {},
  };
  const skip = (line: number, reason: string, detail: string): void => {
    summary.skipped[reason] = (summary.skipped[reason] ?? 0) + 1;
    if (summary.skips.length < MAX_LISTED_SKIPS) summary.skips.push({ line, reason, detail });
  };
  const handle = (piece: LinePiece): void => {
    if (piece.kind === 'blank') return;
    summary.read++;
    if (piece.kind === 'too-large') {
      skip(piece.lineNo, 'too-large', `line longer than ${MAX_EVENT_LINE_BYTES} bytes`);
      return;
    }
    const outcome = adaptLine(piece.text, format);
    if (outcome.kind === 'skipped') {
      skip(piece.lineNo, outcome.reason, outcome.detail);
      return;
    }
    summary.formats[outcome.format] = (summary.formats[outcome.format] ?? 0) + outcome.events.length;
    for (const event of outcome.events) {
      summary.evaluated++;
      const verdicts = engine.evaluate(event);
      if (verdicts.length > 0) {
        summary.violations += verdicts.length;
        boundRaw(event); // printed with its verdicts: bounded as the pipeline bounds a kept event
        onVerdicts(verdicts);
      }
      // Drained after every event, so each error is told with the event that caused it.
      const errors = engine.takeRuleErrors();
      if (errors.count > 0) {
        summary.ruleErrors += errors.count;
        onRuleErrors?.(errors.recent, event);
      }
    }
  };

  const splitter = new LineSplitter(MAX_EVENT_LINE_BYTES);
  const stream = path === '-' ? process.stdin : createReadStream(path);
  for await (const chunk of stream) {
    for (const piece of splitter.feed(chunk as Buffer)) handle(piece);
  }
  const last = splitter.flush();
  if (last) handle(last);
  return summary;
}

export function formatSummary(summary: ReplaySummary): string {
  const skipped = Object.values(summary.skipped).reduce((a, b) => a + b, 0);
  const reasons = Object.entries(summary.skipped)
    .map(([reason, n]) => `${reason}=${n}`)
    .join(', ');
  return (
    `events: ${summary.read} read, ${skipped} skipped${reasons ? ` (${reasons})` : ''}, ` +
    `${summary.evaluated} evaluated, ${summary.violations} violations` +
    (summary.ruleErrors > 0 ? `, ${summary.ruleErrors} rule errors` : '')
  );
}
