/**
 * The runtime policy engine. Pure: an event (plus what attribution found) in, verdicts out. This file only
 * re-exports: the contract is in ../api/runtime.ts, the implementation in engine.ts.
 */
export type * from '../api/runtime.js';
export { createRuntimeEngine } from './engine.js';
export { staticParamLookup } from './params.js';
export type { RuleError, EngineRuleErrorReason } from './rule-error.js';
export { RULE_ERROR_REASON, ruleErrorReasonOf } from './rule-error.js';
