export { BoundedQueue } from './bounded-queue.js';
export type { EventOrigin } from '../sources/types.js';
export {
  createPipeline,
  PIPELINE_DROP_REASONS,
  type AttachOptions,
  type Evaluator,
  type Pipeline,
  type PipelineOptions,
  type PipelineStats,
  type SubmitOptions,
  type VerdictSink,
} from './pipeline.js';
export {
  RULE_ERROR_REASONS,
  RuleErrorReporter,
  type RuleErrorReason,
  type RuleErrorReporterOptions,
  type RuleErrorSource,
} from './rule-errors.js';
