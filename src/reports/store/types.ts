/** What the store returns: plain JSON-ready rows, shared by the HTTP API and the dashboard. */
import type { ActionOutcome } from '../../contracts/actions.js';
import type { Behavior, RuntimeEvent } from '../../events/types.js';
import type { FailureAction, ResourceRef } from '../../contracts/verdict.js';

/** A row's result, as in PolicyReport results: an exempted verdict is `skip`, not a violation. */
export const RESULTS = ['pass', 'fail', 'warn', 'error', 'skip'] as const;
export type StoredResult = (typeof RESULTS)[number];

export interface ViolationSummary {
  id: number;
  /** The latest verdict's result: `skip` when a PolicyException exempted it. */
  result: StoredResult;
  /** The PolicyException ("[namespace/]name") that exempted the latest verdict, for `skip`. */
  exception?: string;
  policy: string;
  policyNamespace?: string;
  rule: string;
  mode: FailureAction;
  behavior: Behavior;
  message: string;
  resource: ResourceRef;
  synthetic: boolean;
  container?: string;
  image?: string;
  node?: string;
  source: string;
  severity?: string;
  category?: string;
  process?: { binary?: string; args?: string[]; pid?: number; uid?: number };
  parent?: { binary?: string; args?: string[]; pid?: number };
  count: number;
  /** Event time of the first and last occurrence, as the tool reported it. */
  firstSeen: string;
  lastSeen: string;
  /** Wall-clock ms when the store last recorded an occurrence (ordering, `since`). */
  updatedAt: number;
  lastEventId: string;
}

export interface StoredAction extends ActionOutcome {
  id: number;
  eventId?: string;
}

export interface ViolationDetail extends ViolationSummary {
  lastEvent: RuntimeEvent;
  actions: StoredAction[];
}

export interface ViolationFilter {
  policy?: string;
  rule?: string;
  namespace?: string;
  pod?: string;
  behavior?: Behavior;
  mode?: FailureAction;
  result?: StoredResult;
  /** Case-insensitive substring over message, policy, rule, resource, container, image, binary. */
  q?: string;
  /** Only violations recorded at or after this wall-clock time (ms). */
  since?: number;
}

export interface PageRequest {
  /** 1..500, default 50. */
  limit?: number;
  /** Keyset cursor returned as `nextCursor` by the previous page. */
  cursor?: string;
  /** Offset paging, for jumping to a page; ignored when a cursor is given. */
  offset?: number;
}

export interface Page<T> {
  items: T[];
  /** Rows matching the filter (all pages). */
  total: number;
  nextCursor?: string;
}

export interface CountBy {
  key: string;
  /** Aggregated rows (policy/rule/resource). */
  violations: number;
  /** Occurrences (sum of counts). */
  occurrences: number;
}

export interface ViolationBreakdown {
  total: CountBy;
  byPolicy: CountBy[];
  byNamespace: CountBy[];
  /** key = "namespace/name" (kind Node: "node/<name>"). */
  byResource: CountBy[];
  byBehavior: CountBy[];
  /** Violations only: exempted rows (result `skip`) are counted under byResult, not under a mode. */
  byMode: CountBy[];
  /** key = result (fail, skip, ...): exempted rows are counted under `skip`. */
  byResult: CountBy[];
}

export interface StoredEvent {
  seq: number;
  eventId: string;
  time: string;
  recordedAt: number;
  source: string;
  behavior: Behavior;
  namespace?: string;
  pod?: string;
  binary?: string;
  verdicts: number;
  event: RuntimeEvent;
}

export interface TimelineBucket {
  /** Bucket start, unix ms. */
  t: number;
  evaluated: number;
  /** Verdicts that were violations (exempted ones are in `skipped`). */
  violations: number;
  /** Verdicts a PolicyException exempted. */
  skipped: number;
}

export interface StoreStats {
  path: string;
  schemaVersion: number;
  violations: number;
  occurrences: number;
  actions: number;
  events: number;
  timelineBuckets: number;
  pendingWrites: number;
  flushes: number;
  /** Last flush failure, if the most recent flush failed. */
  lastError?: string;
}
