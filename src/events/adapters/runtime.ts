/**
 * Events sent directly in the common model: RuntimeEvent JSON (validated against the published
 * schema) and CloudEvents 1.0 structured mode. The CloudEvents envelope is checked by hand: the
 * JavaScript SDK validates with its own bundled ajv per event and pulls in an HTTP stack; the four
 * required attributes are a dozen lines.
 */
import { validateRuntimeEvent } from '../validate.js';
import { adaptFalco } from './falco.js';
import { emitted, skip, type AdaptOptions, type AdaptOutcome } from './outcome.js';
import { isObject, str, type JsonObject } from './read.js';

/** CloudEvents `type` for a RuntimeEvent in `data`. */
export const RUNTIME_EVENT_CLOUDEVENT_TYPE = 'io.kyverno.runtime.event.v1alpha1';
/** Falcosidekick's cloudevents output: `data` is the Falco payload. */
export const FALCO_CLOUDEVENT_TYPE = 'falco.rule.output.v1';

export function looksLikeRuntimeEvent(record: JsonObject): boolean {
  return typeof record.behavior === 'string' && typeof record.source === 'string' && 'id' in record;
}

export function looksLikeCloudEvent(record: JsonObject): boolean {
  return 'specversion' in record;
}

export function adaptRuntimeEvent(record: unknown, options: AdaptOptions = {}): AdaptOutcome {
  const result = validateRuntimeEvent(record);
  if (!result.ok) return skip('invalid-event', `runtime event: ${result.errors.join('; ')}`);
  if (options.keepRaw === false && result.event.raw !== undefined) {
    const { raw: _raw, ...rest } = result.event; // copy only on this opt-in path
    return emitted('runtime', rest);
  }
  return emitted('runtime', result.event);
}

export function adaptCloudEvent(record: JsonObject, options: AdaptOptions): AdaptOutcome {
  if (record.specversion !== '1.0') {
    return skip(
      'invalid-event',
      `cloudevents: specversion must be "1.0", got ${JSON.stringify(record.specversion) ?? 'nothing'}`,
    );
  }
  for (const attribute of ['id', 'source', 'type'] as const) {
    if (str(record[attribute]) === undefined) {
      return skip(
        'invalid-event',
        `cloudevents: required attribute "${attribute}" missing or not a non-empty string`,
      );
    }
  }
  const type = record.type as string;
  const contentType = str(record.datacontenttype);
  if (contentType !== undefined && !isJsonContentType(contentType)) {
    return skip('invalid-event', `cloudevents: datacontenttype ${contentType} is not JSON`);
  }
  if ('data_base64' in record)
    return skip('invalid-event', 'cloudevents: data_base64 is not supported; send JSON data');
  const data = record.data;
  if (!isObject(data)) return skip('invalid-event', 'cloudevents: "data" must be a JSON object');

  const time = str(record.time);
  if (type === RUNTIME_EVENT_CLOUDEVENT_TYPE) {
    // The envelope's id/time stand in when the data omits them (shallow copy on that rare path only).
    const needsId = !('id' in data);
    const needsTime = !('time' in data) && time !== undefined;
    const event: JsonObject = needsId || needsTime ? { ...data } : data;
    if (needsId) event.id = record.id;
    if (needsTime) event.time = time;
    const outcome = adaptRuntimeEvent(event, options);
    return outcome.kind === 'events' ? { ...outcome, format: 'cloudevents' } : outcome;
  }
  if (type === FALCO_CLOUDEVENT_TYPE) {
    const outcome = adaptFalco(
      data,
      time !== undefined ? { ...options, fallbackTime: options.fallbackTime ?? time } : options,
    );
    return outcome.kind === 'events' ? { ...outcome, format: 'cloudevents' } : outcome;
  }
  return skip('unsupported-type', `cloudevents: unsupported type ${type}`);
}

function isJsonContentType(value: string): boolean {
  const base = value.split(';')[0]!.trim().toLowerCase();
  return base === 'application/json' || base.endsWith('+json') || base === 'text/json';
}
