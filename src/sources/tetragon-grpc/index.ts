export {
  buildGetEventsRequest,
  createTetragonGrpcSource,
  TETRAGON_EVENT_TYPES,
  type TetragonFilter,
  type TetragonGrpcOptions,
  type TetragonGrpcSource,
} from './client.js';
export { TetragonJson, rfc3339ToTimestamp, timestampToRfc3339 } from './normalise.js';
export { LOADER_OPTIONS, defaultProtoPath, loadTetragonProto, messageCodec } from './proto.js';
