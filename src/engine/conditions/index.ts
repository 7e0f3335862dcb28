/**
 * CONTRACT (owned by the expressions work; replace the body, keep the signatures):
 * Kyverno conditions (preconditions, deny.conditions): any/all blocks, every operator.
 */
export interface ConditionOutcome {
  /** For preconditions: true = rule applies. For deny: true = request denied. */
  result: boolean;
  /** The `message` of the condition that decided, when it has one. */
  message?: string;
}

export interface CompiledConditions {
  /** Throws on a variable/JMESPath error (rule result: error). */
  evaluate(context: Record<string, unknown>): ConditionOutcome;
}

/** Accepts `{any, all}`, a legacy plain list (ANDed), or undefined (always true). */
export function compileConditions(_conditions: unknown): CompiledConditions {
  throw new Error('not implemented');
}
