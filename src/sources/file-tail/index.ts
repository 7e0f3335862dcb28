export {
  createFileTailSource,
  drainGate,
  type FileTailSource,
  type FileTailSourceOptions,
} from './source.js';
export { FileTailer, type TailResumeOutcome, type TailerEvents, type TailerOptions } from './tailer.js';
export { loadTailState, saveTailState, type TailState } from './state.js';
