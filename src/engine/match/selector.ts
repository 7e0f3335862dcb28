/**
 * Kubernetes label selectors as Kyverno evaluates them (`checkSelector`): wildcards in matchLabels are
 * first replaced by the first matching actual label (see wildcard.ts), then the standard
 * matchLabels/matchExpressions semantics apply. An empty selector matches everything.
 */
import { KyvernoRuntimeError } from '../../contracts/errors.js';
import { replaceWildcardsInSelectorLabels } from '../wildcard.js';

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: string; values?: string[] }[];
}

export class SelectorError extends KyvernoRuntimeError {
  constructor(message: string) {
    super('E_SELECTOR', message);
  }
}

export function selectorMatches(selector: LabelSelector, labels: Readonly<Record<string, string>>): boolean {
  const matchLabels = selector.matchLabels
    ? replaceWildcardsInSelectorLabels(selector.matchLabels, labels)
    : undefined;
  for (const [k, v] of Object.entries(matchLabels ?? {})) {
    if (labels[k] !== v) return false;
  }
  for (const expr of selector.matchExpressions ?? []) {
    const has = Object.prototype.hasOwnProperty.call(labels, expr.key);
    const values = expr.values ?? [];
    switch (expr.operator) {
      case 'In':
        if (values.length === 0) throw new SelectorError(`values: must be specified when operator is In`);
        if (!has || !values.includes(labels[expr.key]!)) return false;
        break;
      case 'NotIn':
        if (values.length === 0) throw new SelectorError(`values: must be specified when operator is NotIn`);
        if (has && values.includes(labels[expr.key]!)) return false;
        break;
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
      default:
        throw new SelectorError(`${JSON.stringify(expr.operator)} is not a valid label selector operator`);
    }
  }
  return true;
}
