/**
 * A namespaced policy (RuntimePolicy, Policy) stays in its namespace: its actions may not name
 * another namespace's Secret (a webhook would carry that Secret's token to the author's URL).
 * Checked here at load (file:line:col) and again by the webhook action when it runs.
 */
import type { CompileIssue } from './compile.js';

const isObj = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v);

export function namespaceScopeIssues(spec: Record<string, unknown>, namespace: string): CompileIssue[] {
  const issues: CompileIssue[] = [];
  const rules = Array.isArray(spec.rules) ? spec.rules : [];
  rules.forEach((rule, i) => {
    const restrict = isObj(rule) && isObj(rule.restrict) ? rule.restrict : undefined;
    const actions = restrict && Array.isArray(restrict.actions) ? restrict.actions : [];
    actions.forEach((action, j) => {
      const hook = isObj(action) && isObj(action.webhook) ? action.webhook : undefined;
      const ref = hook && isObj(hook.secretRef) ? hook.secretRef : undefined;
      if (ref && typeof ref.namespace === 'string' && ref.namespace !== namespace)
        issues.push({
          path: ['spec', 'rules', i, 'restrict', 'actions', j, 'webhook', 'secretRef', 'namespace'],
          target: 'value',
          message: `a policy in namespace ${namespace} may only use Secrets of its own namespace, not ${ref.namespace}`,
        });
    });
  });
  return issues;
}
