/** SQLite rows → API shapes. Columns are NULL where the event did not say; the API omits them. */
import type { Behavior, RuntimeEvent } from '../../events/types.js';
import type { FailureAction } from '../../contracts/verdict.js';
import type { StoredEvent, StoredResult, ViolationSummary } from './types.js';

export interface ViolationRow {
  id: number;
  policy: string;
  policy_namespace: string;
  rule: string;
  resource_api_version: string;
  resource_kind: string;
  resource_namespace: string;
  resource_name: string;
  resource_uid: string | null;
  synthetic: number;
  mode: string;
  behavior: string;
  severity: string | null;
  category: string | null;
  message: string;
  container: string | null;
  image: string | null;
  node: string | null;
  source: string;
  process_binary: string | null;
  process_args: string | null;
  process_pid: number | null;
  process_uid: number | null;
  parent_binary: string | null;
  parent_args: string | null;
  parent_pid: number | null;
  count: number;
  first_seen: string;
  last_seen: string;
  updated_at: number;
  last_event_id: string;
  result: string;
  exception: string | null;
}

export interface EventRow {
  seq: number;
  event_id: string;
  time: string;
  recorded_at: number;
  source: string;
  behavior: string;
  namespace: string | null;
  pod: string | null;
  binary: string | null;
  verdicts: number;
  json: string;
}

/** Drops null/undefined values so optional fields are absent rather than null in JSON. */
function defined<T extends Record<string, unknown>>(o: T): { [K in keyof T]: Exclude<T[K], null> } {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== null && v !== undefined)) as {
    [K in keyof T]: Exclude<T[K], null>;
  };
}

function args(json: string | null): string[] | undefined {
  return json === null ? undefined : (JSON.parse(json) as string[]);
}

export function violationFromRow(r: ViolationRow): ViolationSummary {
  const process = defined({
    binary: r.process_binary,
    args: args(r.process_args),
    pid: r.process_pid,
    uid: r.process_uid,
  });
  const parent = defined({ binary: r.parent_binary, args: args(r.parent_args), pid: r.parent_pid });
  return {
    id: r.id,
    result: r.result as StoredResult,
    ...(r.exception !== null ? { exception: r.exception } : {}),
    policy: r.policy,
    ...(r.policy_namespace ? { policyNamespace: r.policy_namespace } : {}),
    rule: r.rule,
    mode: r.mode as FailureAction,
    behavior: r.behavior as Behavior,
    message: r.message,
    resource: {
      apiVersion: r.resource_api_version,
      kind: r.resource_kind,
      name: r.resource_name,
      ...defined({ namespace: r.resource_namespace || null, uid: r.resource_uid }),
    },
    synthetic: r.synthetic === 1,
    ...defined({
      container: r.container,
      image: r.image,
      node: r.node,
      severity: r.severity,
      category: r.category,
    }),
    source: r.source,
    ...(Object.keys(process).length ? { process } : {}),
    ...(Object.keys(parent).length ? { parent } : {}),
    count: r.count,
    firstSeen: r.first_seen,
    lastSeen: r.last_seen,
    updatedAt: r.updated_at,
    lastEventId: r.last_event_id,
  };
}

export function eventFromRow(r: EventRow): StoredEvent {
  return {
    seq: r.seq,
    eventId: r.event_id,
    time: r.time,
    recordedAt: r.recorded_at,
    source: r.source,
    behavior: r.behavior as Behavior,
    ...defined({ namespace: r.namespace, pod: r.pod, binary: r.binary }),
    verdicts: r.verdicts,
    event: JSON.parse(r.json) as RuntimeEvent,
  };
}
