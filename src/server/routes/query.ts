/** Query-string schemas for the API: parsed once at the edge into typed values (zod). */
import { z } from 'zod';
import { BEHAVIORS } from '../../events/types.js';
import { RESULTS } from '../../reports/store/types.js';

const text = (max: number) => z.string().trim().min(1).max(max);

/** ISO 8601 time or unix ms. */
const instant = z.union([
  z
    .string()
    .regex(/^\d{1,16}$/)
    .transform(Number),
  z.iso.datetime({ offset: true }).transform((s) => Date.parse(s)),
]);

export const violationFilterQuery = z.object({
  policy: text(253).optional(),
  rule: text(253).optional(),
  namespace: text(253).optional(),
  pod: text(253).optional(),
  behavior: z.enum(BEHAVIORS).optional(),
  mode: z.enum(['Audit', 'Enforce']).optional(),
  /** `skip`: verdicts a PolicyException exempted; `fail`: violations. */
  result: z.enum(RESULTS).optional(),
  q: text(200).optional(),
  since: instant.optional(),
});

export const violationListQuery = violationFilterQuery.extend({
  limit: z.coerce.number().int().min(1).max(500).optional(),
  cursor: text(200).optional(),
  offset: z.coerce.number().int().min(0).max(1_000_000).optional(),
});

export const summaryQuery = violationFilterQuery.extend({
  top: z.coerce.number().int().min(1).max(100).optional(),
});

export const idParams = z.object({ id: z.coerce.number().int().min(1) });

export const eventsQuery = z.object({
  limit: z.coerce.number().int().min(1).max(500).optional(),
  before: z.coerce.number().int().min(1).optional(),
});

export const timelineQuery = z.object({
  /** Window ending now, in minutes (default 60, at most 7 days). */
  minutes: z.coerce
    .number()
    .int()
    .min(1)
    .max(7 * 24 * 60)
    .optional(),
  /** Minutes per bucket (default: chosen so the window has at most ~120 buckets). */
  step: z.coerce
    .number()
    .int()
    .min(1)
    .max(24 * 60)
    .optional(),
});

/** Drops undefined keys so the result satisfies exact optional properties downstream. */
export function compact<T extends Record<string, unknown>>(
  o: T,
): { [K in keyof T]?: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as {
    [K in keyof T]?: Exclude<T[K], undefined>;
  };
}
