/** CEL errors. A compile error is a policy load error; an evaluation error makes the rule result `error`. */
import { KyvernoRuntimeError } from '../../contracts/errors.js';
export class CelCompileError extends KyvernoRuntimeError {
  constructor(
    readonly expression: string,
    reason: string,
  ) {
    super('E_CEL_COMPILE', `compilation failed for CEL expression ${JSON.stringify(expression)}: ${reason}`);
  }
}

export class CelEvaluationError extends KyvernoRuntimeError {
  constructor(
    readonly expression: string,
    reason: string,
  ) {
    super(
      'E_CEL_EVALUATION',
      `evaluation failed for CEL expression ${JSON.stringify(expression)}: ${reason}`,
    );
  }
}
