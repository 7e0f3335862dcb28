/**
 * Work shared by rules written alike. Large policy sets repeat rule bodies: the same match block, the
 * same pattern, the same conditions or message, copied per team or per namespace. When several such
 * rules meet one event, each of those parts is evaluated once per event and its outcome reused.
 *
 * A part is shared only when its outcome is a pure function of the event and its attribution: match
 * blocks and variable-free patterns always are; conditions and messages are when every `{{ }}` in
 * them is a plain field path (no JMESPath function, which could read a clock or a random source).
 * Parts are identified at compile time by their JSON text, so only identically written parts share.
 */
import type { CompiledRestrict, CompiledRule } from '../api/compiled-policy.js';
import { everyVariableIs } from './variable-scan.js';

/** Slot of each part in the per-event memo; NOT_SHARED when the part is evaluated per rule. */
export interface SharedParts {
  match: number;
  pattern: number;
  conditions: number;
  message: number;
}

export const NOT_SHARED = -1;

/** `{{ a.b.c }}` (optionally `{{- … }}`) and nothing else between the braces. */
const PLAIN_VARIABLE = /^\{\{-?\s*[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*\s*\}\}$/;

/** True when every `{{ }}` in the JSON text is a plain field path (and no brace is left unpaired). */
const onlyPlainVariables = (json: string): boolean => everyVariableIs(json, PLAIN_VARIABLE);

/** Assigns one slot per distinct part text, across all rules of a policy set. */
export class SharedPartsInterner {
  private readonly slots = new Map<string, number>();

  get size(): number {
    return this.slots.size;
  }

  partsOf(rule: CompiledRule, restrict: CompiledRestrict): SharedParts {
    const raw = rule.raw.restrict as
      { pattern?: unknown; conditions?: unknown; message?: unknown } | undefined;
    const match = restrict.validating
      ? JSON.stringify(['matchConstraints', restrict.validating.matchKey])
      : JSON.stringify([rule.raw.match ?? null, rule.raw.exclude ?? null]);
    const pattern = restrict.pattern && raw?.pattern !== undefined ? JSON.stringify(raw.pattern) : undefined;
    const conditions =
      restrict.conditions && raw?.conditions !== undefined ? JSON.stringify(raw.conditions) : undefined;
    const message = restrict.message && typeof raw?.message === 'string' ? raw.message : undefined;
    return {
      match: this.slot('match', match),
      pattern: this.slot('pattern', pattern),
      conditions:
        conditions !== undefined && onlyPlainVariables(conditions)
          ? this.slot('conditions', conditions)
          : NOT_SHARED,
      message:
        message !== undefined && onlyPlainVariables(message) ? this.slot('message', message) : NOT_SHARED,
    };
  }

  private slot(kind: string, text: string | undefined): number {
    if (text === undefined) return NOT_SHARED;
    const key = `${kind}\u0000${text}`;
    let slot = this.slots.get(key);
    if (slot === undefined) {
      slot = this.slots.size;
      this.slots.set(key, slot);
    }
    return slot;
  }
}

/** An outcome that was a thrown error, kept so every rule sharing the part reports it. */
class Thrown {
  constructor(readonly error: unknown) {}
}

/**
 * Outcomes of shared parts for the event being evaluated. Slots are stamped with the event's epoch,
 * so starting a new event is one increment: nothing is cleared or allocated per event.
 */
export class SharedOutcomes {
  private epoch = 0;
  private readonly stamps: Uint32Array;
  private readonly values: unknown[];

  constructor(size: number) {
    this.stamps = new Uint32Array(size);
    this.values = new Array<unknown>(size).fill(undefined);
  }

  /** Forgets every outcome: called once per event. */
  nextEvent(): void {
    if (++this.epoch === 0xffffffff) {
      this.stamps.fill(0);
      this.epoch = 1;
    }
  }

  /**
   * The part's outcome for this event, computed on first use (and rethrown if it threw). `compute`
   * takes its inputs as arguments rather than capturing them: a closure per call would allocate on
   * every rule of every event.
   */
  get<A, B, T>(slot: number, compute: (a: A, b: B) => T, a: A, b: B): T {
    if (slot === NOT_SHARED) return compute(a, b);
    if (this.stamps[slot] !== this.epoch) {
      let value: unknown;
      try {
        value = compute(a, b);
      } catch (error) {
        value = new Thrown(error);
      }
      this.values[slot] = value;
      this.stamps[slot] = this.epoch;
    }
    const value = this.values[slot];
    if (value instanceof Thrown) throw value.error;
    return value as T;
  }
}
