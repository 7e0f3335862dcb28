/** Event inputs (the built-in sensor lives in ./sensor). See docs/sources.md. */
export type { EmitFn, EventOrigin, EventSource, SourceStats } from './types.js';
export {
  createHttpSource,
  ListenPolicyError,
  isLoopbackHost,
  type HttpSource,
  type HttpSourceOptions,
} from './http/index.js';
export { createFileTailSource, type FileTailSource, type FileTailSourceOptions } from './file-tail/index.js';
export {
  createStdinSource,
  createTcpSource,
  type StdinSource,
  type StdinSourceOptions,
  type TcpSource,
  type TcpSourceOptions,
} from './ndjson/index.js';
export {
  createTetragonGrpcSource,
  TETRAGON_EVENT_TYPES,
  type TetragonFilter,
  type TetragonGrpcOptions,
  type TetragonGrpcSource,
} from './tetragon-grpc/index.js';
export { READER_DROP_REASONS, type InputFormat } from './records.js';
