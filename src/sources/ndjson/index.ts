export { createStdinSource, type StdinSource, type StdinSourceOptions } from './stdin.js';
export { createTcpSource, type TcpSource, type TcpSourceOptions } from './tcp.js';
export { readNdjsonStream, type StreamReadOptions } from './stream-reader.js';
