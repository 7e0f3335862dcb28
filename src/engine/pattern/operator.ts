/**
 * Operator prefixes of string pattern atoms (`pkg/engine/operator`): `>=`, `<=`, `>`, `<`, `!` and the
 * range forms `A-B` / `A!-B`. Checked in this order; atoms shorter than 2 characters are always Equal.
 */

export type PatternOperator = '' | '>=' | '<=' | '!' | '>' | '<' | '-' | '!-';

export const OPERATOR_NAMES: Readonly<Record<PatternOperator, string>> = {
  '': 'Equal',
  '>=': 'MoreEqual',
  '<=': 'LessEqual',
  '!': 'NotEqual',
  '>': 'More',
  '<': 'Less',
  '-': 'InRange',
  '!-': 'NotInRange',
};

// Go: `^([-|\+]?\d+(?:\.\d+)?[A-Za-z]*)-(...)$`. The sign class really is `[-|+]` (it admits `|`).
const ENDPOINT = '([-|+]?[0-9]+(?:\\.[0-9]+)?[A-Za-z]*)';
export const IN_RANGE_REGEX = new RegExp(`^${ENDPOINT}-${ENDPOINT}$`);
export const NOT_IN_RANGE_REGEX = new RegExp(`^${ENDPOINT}!-${ENDPOINT}$`);

/** `operator.GetOperatorFromStringPattern`. */
export function getOperatorFromStringPattern(pattern: string): PatternOperator {
  if (pattern.length < 2) return '';
  if (pattern.startsWith('>=')) return '>=';
  if (pattern.startsWith('<=')) return '<=';
  if (pattern.startsWith('>')) return '>';
  if (pattern.startsWith('<')) return '<';
  if (pattern.startsWith('!')) return '!';
  if (NOT_IN_RANGE_REGEX.test(pattern)) return '!-';
  if (IN_RANGE_REGEX.test(pattern)) return '-';
  return '';
}
