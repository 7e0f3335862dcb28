/** CEL errors. A compile error is a policy load error; an evaluation error makes the rule result `error`. */
export class CelCompileError extends Error {
  constructor(
    readonly expression: string,
    reason: string,
  ) {
    super(`compilation failed for CEL expression ${JSON.stringify(expression)}: ${reason}`);
    this.name = 'CelCompileError';
  }
}

export class CelEvaluationError extends Error {
  constructor(
    readonly expression: string,
    reason: string,
  ) {
    super(`evaluation failed for CEL expression ${JSON.stringify(expression)}: ${reason}`);
    this.name = 'CelEvaluationError';
  }
}
