/**
 * Parsing of `run`'s store retention flags (--store-max-violations, --store-retention).
 *
 * The age is written as days and/or Go-style units ("30d", "12h", "1d12h", "90m"); Go's
 * ParseDuration has no days, and retention is naturally counted in days. Hand-written: a five-unit
 * grammar is smaller than a dependency, and it must refuse what it does not understand.
 */
import { InvalidArgumentError } from '@commander-js/extra-typings';

const UNIT_MS: Readonly<Record<string, number>> = {
  d: 86_400_000,
  h: 3_600_000,
  m: 60_000,
  s: 1000,
};

/** "30d" → ms; "0" or "off" → 0 (no age limit). Throws InvalidArgumentError on anything else. */
export function parseRetentionAge(value: string): number {
  const v = value.trim();
  if (v === '0' || v === 'off') return 0;
  if (!/^(\d+[dhms])+$/.test(v))
    throw new InvalidArgumentError('expected a duration such as 30d, 12h, 1d12h or 90m ("off" for no limit)');
  let ms = 0;
  for (const [, n, unit] of v.matchAll(/(\d+)([dhms])/g)) ms += Number(n) * UNIT_MS[unit!]!;
  if (!Number.isSafeInteger(ms)) throw new InvalidArgumentError('duration too large');
  return ms;
}

/** A row count: a non-negative integer; 0 = no cap. */
export function parseRowCap(value: string): number {
  const v = value.trim();
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(Number(v)))
    throw new InvalidArgumentError('expected a non-negative integer (0 for no cap)');
  return Number(v);
}
