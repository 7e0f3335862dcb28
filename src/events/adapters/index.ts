/**
 * CONTRACT (owned by the events work; replace the body, keep the signatures):
 * raw tool output → RuntimeEvent. Pure, no I/O, never throws on bad input.
 */
import type { RuntimeEvent } from '../types.js';

export type SourceFormat = 'tetragon' | 'falco' | 'kubearmor' | 'tracee' | 'runtime' | 'cloudevents';

export type AdaptOutcome =
  | { kind: 'events'; format: SourceFormat; events: RuntimeEvent[] }
  /** Counted and skipped; `reason` is a short stable token used as a metric label. */
  | { kind: 'skipped'; reason: string; detail: string };

export function adaptRecord(_record: unknown, _format: SourceFormat | 'auto'): AdaptOutcome {
  throw new Error('not implemented');
}

/** JSON.parse + adaptRecord; malformed JSON gives reason "malformed-json". */
export function adaptLine(_line: string, _format: SourceFormat | 'auto'): AdaptOutcome {
  throw new Error('not implemented');
}
