export { createHttpSource, type HttpSource, type HttpSourceOptions, type HttpTlsOptions } from './server.js';
export { ListenPolicyError, isLoopbackHost } from '../../net/access.js';
