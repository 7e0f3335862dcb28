export { openStore, ReportStore, resourceKey, type StoreOptions, type ViolationKey } from './store.js';
export { createStoreSink, sampleEvaluatedIntoTimeline } from './sink.js';
export { CursorError } from './query.js';
export { SCHEMA_VERSION, StoreSchemaError } from './schema.js';
export type * from './types.js';
