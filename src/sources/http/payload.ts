/**
 * HTTP body → records → RuntimeEvents. Accepts, by Content-Type:
 * - application/json: one record (Falco http_output, a Falcosidekick webhook payload, a RuntimeEvent,
 *   any tool's JSON) or a JSON array of them (batch);
 * - application/x-ndjson, application/jsonl, application/json-seq-less NDJSON: one record per line;
 * - application/cloudevents+json (structured mode) and application/cloudevents-batch+json;
 * - CloudEvents binary mode: a JSON body plus ce-* headers.
 */
import type { RuntimeEvent } from '../../events/types.js';
import type { RecordReader } from '../record-reader.js';
import type { InputFormat } from '../records.js';

export type BodyKind = 'json' | 'ndjson' | 'cloudevent' | 'cloudevent-batch';

export const NDJSON_TYPES = [
  'application/x-ndjson',
  'application/ndjson',
  'application/jsonl',
  'application/x-jsonlines',
];
export const JSON_TYPES = ['application/json'];
export const CLOUDEVENT_TYPE = 'application/cloudevents+json';
export const CLOUDEVENT_BATCH_TYPE = 'application/cloudevents-batch+json';

export interface Skipped {
  /** "index 3" for batches, "line 7" for NDJSON, "body" for a single record. */
  at: string;
  reason: string;
  detail: string;
}

export type PayloadResult =
  | { ok: true; events: RuntimeEvent[]; records: number; skipped: Skipped[] }
  | {
      ok: false;
      reason: string;
      message: string;
      position?: { offset: number; line: number; column: number };
      /** A batch none of whose records was usable: each one, so each is counted. */
      skipped?: Skipped[];
    };

export function bodyKindOf(contentType: string | undefined): BodyKind | undefined {
  const mime = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (JSON_TYPES.includes(mime)) return 'json';
  if (NDJSON_TYPES.includes(mime)) return 'ndjson';
  if (mime === CLOUDEVENT_TYPE) return 'cloudevent';
  if (mime === CLOUDEVENT_BATCH_TYPE) return 'cloudevent-batch';
  return undefined;
}

/** CloudEvents binary-mode attributes from ce-* headers, when present. */
export type CeHeaders = Record<string, string>;

/** Splits a body into records and adapts each through the input's reader; counting is the caller's. */
export function parsePayload(
  body: string,
  kind: BodyKind,
  reader: RecordReader,
  format: InputFormat,
  ce?: CeHeaders,
): PayloadResult {
  if (kind === 'ndjson') return parseNdjson(body, reader, format);
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch (err) {
    return malformed(body, err);
  }
  if (kind === 'cloudevent' || kind === 'cloudevent-batch') format = 'cloudevents';
  if (ce && kind === 'json' && ce.specversion !== undefined) {
    // Binary mode: the body is `data`, the attributes travel as headers.
    parsed = { ...ce, data: parsed };
    format = 'cloudevents';
  }
  if (Array.isArray(parsed)) {
    const events: RuntimeEvent[] = [];
    const skipped: Skipped[] = [];
    parsed.forEach((record: unknown, i) => {
      const out = reader.adaptRecord(record, format);
      if (out.kind === 'events') events.push(...out.events);
      else skipped.push({ at: `index ${i}`, reason: out.reason, detail: out.detail });
    });
    if (parsed.length > 0 && events.length === 0 && skipped.length === parsed.length) {
      return {
        ok: false,
        reason: skipped[0]!.reason,
        message: `no record in the batch was usable; first: ${skipped[0]!.at}: ${skipped[0]!.detail}`,
        skipped,
      };
    }
    return { ok: true, events, records: parsed.length, skipped };
  }
  if (parsed === null || typeof parsed !== 'object') {
    return { ok: false, reason: 'bad-payload', message: 'expected a JSON object or an array of objects' };
  }
  const out = reader.adaptRecord(parsed, format);
  if (out.kind === 'skipped') return { ok: false, reason: out.reason, message: out.detail };
  return { ok: true, events: out.events, records: 1, skipped: [] };
}

function parseNdjson(body: string, reader: RecordReader, format: InputFormat): PayloadResult {
  const events: RuntimeEvent[] = [];
  const skipped: Skipped[] = [];
  let records = 0;
  let lineNo = 0;
  let start = 0;
  while (start <= body.length) {
    let nl = body.indexOf('\n', start);
    if (nl === -1) nl = body.length;
    lineNo++;
    const line = body.slice(start, nl).trim();
    start = nl + 1;
    if (line === '') continue;
    records++;
    const out = reader.adaptLine(line, format);
    if (out.kind === 'events') events.push(...out.events);
    else skipped.push({ at: `line ${lineNo}`, reason: out.reason, detail: out.detail });
  }
  if (records > 0 && events.length === 0) {
    return {
      ok: false,
      reason: skipped[0]!.reason,
      message: `no line was usable; first: ${skipped[0]!.at}: ${skipped[0]!.detail}`,
      skipped,
    };
  }
  return { ok: true, events, records, skipped };
}

/** 400 with where the JSON broke: V8 says "... at position N" (Node 20) — turned into line/column. */
function malformed(body: string, err: unknown): PayloadResult {
  const message = err instanceof Error ? err.message : String(err);
  const m = /position (\d+)/.exec(message);
  const offset = m ? Number(m[1]) : body.length;
  const before = body.slice(0, offset);
  const line = before.split('\n').length;
  const column = offset - before.lastIndexOf('\n');
  return { ok: false, reason: 'malformed-json', message, position: { offset, line, column } };
}
