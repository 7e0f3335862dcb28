export {
  DEFAULT_MAX_VIOLATION_AGE_MS,
  DEFAULT_MAX_VIOLATIONS,
  openStore,
  ReportStore,
  resourceKey,
  type StoreOptions,
  type ViolationKey,
} from './store.js';
export { createStoreSink, sampleEvaluatedIntoTimeline } from './sink.js';
export { CursorError } from './query.js';
export { SCHEMA_VERSION, StoreSchemaError } from './schema.js';
export type * from './types.js';
