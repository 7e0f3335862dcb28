/**
 * A `patch` action on a running Pod may only change what the API server lets an update change:
 * `spec.containers[*].image`, `spec.initContainers[*].image`, `spec.activeDeadlineSeconds`,
 * `spec.tolerations` (additions), `spec.terminationGracePeriodSeconds`, `spec.schedulingGates`; and
 * `metadata` (labels, annotations...). Anything else under `spec` (a securityContext, resources, a new
 * container) is always answered 422, and `status` belongs to the kubelet: such a patch is rejected at
 * load with file:line:col instead of failing on every violation. Rules that match only Nodes are not
 * checked (a Node's spec is mutable).
 */
import type { CompileIssue } from './compile.js';

const isObj = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v);

const MUTABLE_SPEC = new Set([
  'activeDeadlineSeconds',
  'tolerations',
  'terminationGracePeriodSeconds',
  'schedulingGates',
]);
const CONTAINER_LISTS = new Set(['containers', 'initContainers']);
/** In a container of a strategic merge patch: the merge key and the one mutable field. */
const CONTAINER_FIELDS = new Set(['name', 'image', '$patch']);

const WHY =
  'is immutable on a running Pod (the API server allows only container images, activeDeadlineSeconds, ' +
  'tolerations, terminationGracePeriodSeconds and schedulingGates to change)';

type Path = (string | number)[];

function mergePatchIssues(patch: Record<string, unknown>, at: Path): CompileIssue[] {
  const issues: CompileIssue[] = [];
  if ('status' in patch)
    issues.push({
      path: [...at, 'status'],
      target: 'key',
      message: 'a patch cannot change a Pod’s status (the kubelet writes it)',
    });
  const spec = patch.spec;
  if (spec === undefined) return issues;
  if (!isObj(spec)) return [...issues, { path: [...at, 'spec'], target: 'value', message: `spec ${WHY}` }];
  for (const [key, value] of Object.entries(spec)) {
    if (MUTABLE_SPEC.has(key)) continue;
    if (CONTAINER_LISTS.has(key) && Array.isArray(value)) {
      value.forEach((c, i) => {
        if (!isObj(c)) return;
        for (const field of Object.keys(c))
          if (!CONTAINER_FIELDS.has(field))
            issues.push({
              path: [...at, 'spec', key, i, field],
              target: 'key',
              message: `spec.${key}[*].${field} ${WHY}`,
            });
      });
      continue;
    }
    issues.push({ path: [...at, 'spec', key], target: 'key', message: `spec.${key} ${WHY}` });
  }
  return issues;
}

function jsonPatchIssues(ops: unknown[], at: Path): CompileIssue[] {
  const issues: CompileIssue[] = [];
  ops.forEach((op, i) => {
    if (!isObj(op) || typeof op.path !== 'string' || op.op === 'test') return;
    const p = op.path;
    if (p.startsWith('/status'))
      issues.push({
        path: [...at, i, 'path'],
        target: 'value',
        message: 'a patch cannot change a Pod’s status (the kubelet writes it)',
      });
    if (!p.startsWith('/spec')) return;
    const parts = p.split('/').slice(2);
    const ok =
      (parts.length >= 1 && MUTABLE_SPEC.has(parts[0]!)) ||
      (parts.length === 3 &&
        CONTAINER_LISTS.has(parts[0]!) &&
        /^\d+$/.test(parts[1]!) &&
        parts[2] === 'image');
    if (!ok) issues.push({ path: [...at, i, 'path'], target: 'value', message: `${p} ${WHY}` });
  });
  return issues;
}

/** Whether a rule's match names Node and nothing else (its target is a Node, never a Pod). */
function nodeOnly(rule: Record<string, unknown>): boolean {
  const text = JSON.stringify(rule.match ?? {});
  return /Node/.test(text) && !/Pod|\*/.test(text);
}

export function podPatchIssues(spec: Record<string, unknown>): CompileIssue[] {
  const issues: CompileIssue[] = [];
  const rules = Array.isArray(spec.rules) ? spec.rules : [];
  rules.forEach((rule, i) => {
    if (!isObj(rule) || nodeOnly(rule)) return;
    const restrict = isObj(rule.restrict) ? rule.restrict : undefined;
    const actions = restrict && Array.isArray(restrict.actions) ? restrict.actions : [];
    actions.forEach((action, j) => {
      const p = isObj(action) && isObj(action.patch) ? action.patch : undefined;
      if (!p) return;
      const at: Path = ['spec', 'rules', i, 'restrict', 'actions', j, 'patch', 'patch'];
      if (p.type === 'json6902' && Array.isArray(p.patch)) issues.push(...jsonPatchIssues(p.patch, at));
      else if (p.type !== 'json6902' && isObj(p.patch)) issues.push(...mergePatchIssues(p.patch, at));
    });
  });
  return issues;
}
