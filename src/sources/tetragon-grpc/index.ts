export {
  buildGetEventsRequest,
  createTetragonGrpcSource,
  TETRAGON_EVENT_TYPES,
  type TetragonFilter,
  type TetragonGrpcOptions,
  type TetragonGrpcSource,
} from './client.js';
export { LOADER_OPTIONS, defaultProtoPath, loadTetragonProto, messageCodec } from './proto.js';
