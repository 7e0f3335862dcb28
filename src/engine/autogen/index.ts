/**
 * Kyverno's autogen for Pod controllers (`pkg/autogen/v1`), on raw rule JSON.
 *
 * A rule written for `Pod` gets:
 * - `autogen-<rule>` for DaemonSet, Deployment, Job, ReplicaSet, ReplicationController, StatefulSet, with
 *   patterns nested under `spec.template`;
 * - `autogen-cronjob-<rule>` for CronJob, nested under `spec.jobTemplate.spec.template`.
 * Variables are rewritten by plain text replacement over the rule's JSON, exactly as Kyverno does
 * (`request.object.spec` → `request.object.spec.template.spec`, …; `object.spec` for CEL rules).
 *
 * Autogen is decided for the whole policy: a `name`/`names`/`selector`/`annotations` in any rule's
 * match/exclude, or Pod mixed with other kinds, or a generate / JSON6902 mutate rule, turns it off. The
 * annotation `pod-policies.kyverno.io/autogen-controllers` (`none` or a comma list) narrows it.
 */
import { containsKind } from '../match/kind.js';

export const AUTOGEN_ANNOTATION = 'pod-policies.kyverno.io/autogen-controllers';
/** The Pod controllers Kyverno autogen writes rules for, in its order. */
export const POD_CONTROLLERS: readonly string[] = [
  'DaemonSet',
  'Deployment',
  'Job',
  'StatefulSet',
  'ReplicaSet',
  'ReplicationController',
  'CronJob',
];
const NON_CRON = POD_CONTROLLERS.filter((c) => c !== 'CronJob');
/**
 * Kyverno HEAD writes fully-qualified kinds (`batch/v1/CronJob`) into generated rules; the Kyverno release
 * that kyverno/policies' CI runs matches plain kinds, so a `batch/v1beta1` CronJob in its tests is still
 * checked. We keep plain kinds (docs/conformance.md, "deliberate differences").
 */
const GVK: Record<string, string> = {};

type Raw = Record<string, unknown>;
const isObj = (v: unknown): v is Raw => v !== null && typeof v === 'object' && !Array.isArray(v);
const kindsOf = (d: unknown): string[] =>
  isObj(d) && Array.isArray(d.kinds) ? d.kinds.filter((k): k is string => typeof k === 'string') : [];
const clone = <T>(v: T): T => structuredClone(v);

export interface AutogenRule {
  rule: Raw;
  /** Name of the rule it was generated from. */
  autogenOf: string;
  kind: 'pod-controllers' | 'cronjob';
}

/** Every `resources` block of a match/exclude (legacy, any, all). */
function descriptions(m: unknown): unknown[] {
  if (!isObj(m)) return [];
  const out: unknown[] = [m.resources];
  for (const key of ['any', 'all'] as const) {
    const list = m[key];
    if (Array.isArray(list)) for (const f of list) if (isObj(f)) out.push(f.resources);
  }
  return out;
}

function allKinds(m: unknown): string[] {
  return descriptions(m).flatMap(kindsOf);
}

/** Kyverno's `CanAutoGen`: whether any autogen happens for this policy. */
export function canAutogen(rules: readonly Raw[]): boolean {
  let needed = false;
  for (const rule of rules) {
    if (rule.generate !== undefined) return false;
    const mutate = rule.mutate;
    if (isObj(mutate)) {
      if (mutate.patchesJson6902) return false;
      if (Array.isArray(mutate.foreach) && mutate.foreach.some((f) => isObj(f) && f.patchesJson6902))
        return false;
    }
    for (const d of [...descriptions(rule.match), ...descriptions(rule.exclude)]) {
      if (!isObj(d)) continue;
      const kinds = kindsOf(d);
      if (d.name || (Array.isArray(d.names) && d.names.length > 0) || d.selector || d.annotations)
        return false;
      if (kinds.length > 1 && containsKind(kinds, 'Pod')) return false;
      if (kinds.some((k) => k === 'Pod' || POD_CONTROLLERS.includes(k))) needed = true;
    }
  }
  return needed;
}

/** The controllers to generate for, or [] (none). */
export function autogenControllers(
  annotations: Readonly<Record<string, unknown>> | undefined,
  rules: readonly Raw[],
): string[] {
  if (!canAutogen(rules)) return [];
  const requested = annotations?.[AUTOGEN_ANNOTATION];
  if (typeof requested !== 'string') return [...POD_CONTROLLERS];
  if (requested === 'none') return [];
  return requested.split(',');
}

function ruleName(prefix: string, name: string): string {
  return `${prefix}-${name}`.slice(0, 63);
}

type FilterRewrite = (filters: unknown[], kinds: string[]) => unknown[];

const replacePodKinds: FilterRewrite = (filters, kinds) =>
  filters.map((f) => {
    if (!isObj(f) || !containsKind(kindsOf(f.resources), 'Pod')) return f;
    return { ...f, resources: { ...(f.resources as Raw), kinds: kinds.map((k) => GVK[k] ?? k) } };
  });

const replaceAllKinds: FilterRewrite = (filters, kinds) =>
  filters.map((f) =>
    isObj(f)
      ? {
          ...f,
          resources: { ...(isObj(f.resources) ? f.resources : {}), kinds: kinds.map((k) => GVK[k] ?? k) },
        }
      : f,
  );

function rewriteBlock(
  block: unknown,
  kinds: string[],
  grf: FilterRewrite,
  legacyOnlyIfKinds: boolean,
): unknown {
  if (!isObj(block)) return block;
  const out = clone(block);
  if (Array.isArray(out.any) && out.any.length > 0) out.any = grf(out.any, kinds);
  else if (Array.isArray(out.all) && out.all.length > 0) out.all = grf(out.all, kinds);
  else if (!legacyOnlyIfKinds || kindsOf(out.resources).length > 0) {
    out.resources = { ...(isObj(out.resources) ? out.resources : {}), kinds: kinds.map((k) => GVK[k] ?? k) };
  }
  return out;
}

/** Kyverno's `generateRule`: the rule with kinds replaced and the validation nested under `tplKey`. */
function generateRule(
  name: string,
  source: Raw,
  tplKey: string,
  kinds: string[],
  grf: FilterRewrite,
): Raw | undefined {
  const rule: Raw = clone(source);
  rule.name = name;
  rule.match = rewriteBlock(rule.match, kinds, grf, false);
  if (rule.exclude !== undefined) rule.exclude = rewriteBlock(rule.exclude, kinds, grf, true);
  const v = rule.validate;
  if (!isObj(v)) return undefined;
  const keep = (extra: Raw): Raw => {
    const out: Raw = {};
    for (const k of ['message', 'failureAction', 'failureActionOverrides', 'allowExistingViolations']) {
      if (v[k] !== undefined) out[k] = v[k];
    }
    return { ...out, ...extra };
  };
  const nest = (p: unknown): Raw => ({ spec: { [tplKey]: p } });
  if (v.pattern !== undefined) rule.validate = keep({ pattern: nest(v.pattern) });
  else if (v.deny !== undefined) rule.validate = keep({ deny: v.deny });
  else if (v.podSecurity !== undefined) rule.validate = keep({ podSecurity: v.podSecurity });
  else if (Array.isArray(v.anyPattern)) rule.validate = keep({ anyPattern: v.anyPattern.map(nest) });
  else if (Array.isArray(v.foreach) && v.foreach.length > 0) rule.validate = keep({ foreach: v.foreach });
  else if (v.cel !== undefined) rule.validate = { ...v };
  else return undefined;
  return rule;
}

function podControllersRule(rule: Raw, controllers: string[]): Raw | undefined {
  const name = typeof rule.name === 'string' ? rule.name : '';
  if (name.startsWith('autogen-') || controllers.length === 0) return undefined;
  const excludeKinds = allKinds(rule.exclude);
  if (!containsKind(allKinds(rule.match), 'Pod')) return undefined;
  if (excludeKinds.length > 0 && !containsKind(excludeKinds, 'Pod')) return undefined;
  const kinds = [...controllers].sort();
  return generateRule(ruleName('autogen', name), rule, 'template', kinds, replacePodKinds);
}

const POD_REWRITES: [string, string][] = [
  ['request.object.spec', 'request.object.spec.template.spec'],
  ['request.oldObject.spec', 'request.oldObject.spec.template.spec'],
  ['request.object.metadata', 'request.object.spec.template.metadata'],
  ['request.oldObject.metadata', 'request.oldObject.spec.template.metadata'],
];
const CRON_REWRITES: [string, string][] = [
  ['request.object.spec', 'request.object.spec.jobTemplate.spec.template.spec'],
  ['request.oldObject.spec', 'request.oldObject.spec.jobTemplate.spec.template.spec'],
  ['request.object.metadata', 'request.object.spec.jobTemplate.spec.template.metadata'],
  ['request.oldObject.metadata', 'request.oldObject.spec.jobTemplate.spec.template.metadata'],
];
const stripRequest = (rules: [string, string][]): [string, string][] =>
  rules.map(([a, b]) => [a.slice('request.'.length), b.slice('request.'.length)]);

/** Kyverno's `convertRule`: byte-level replacement over the rule's JSON. */
function rewriteVariables(rule: Raw, target: 'pod' | 'cronjob'): Raw {
  const isCel = isObj(rule.validate) && rule.validate.cel !== undefined;
  const base = target === 'pod' ? POD_REWRITES : CRON_REWRITES;
  let json = JSON.stringify(rule);
  for (const [from, to] of isCel ? stripRequest(base) : base) json = json.split(from).join(to);
  return JSON.parse(json) as Raw;
}

/**
 * The autogen rules of a policy (not including the originals), in Kyverno's order: for each rule, its
 * `autogen-` rule then its `autogen-cronjob-` rule.
 */
export function generateAutogenRules(
  annotations: Readonly<Record<string, unknown>> | undefined,
  rules: readonly Raw[],
): AutogenRule[] {
  const controllers = autogenControllers(annotations, rules);
  if (controllers.length === 0) return [];
  const nonCron = controllers.filter((c) => NON_CRON.includes(c));
  const out: AutogenRule[] = [];
  for (const rule of rules) {
    const name = typeof rule.name === 'string' ? rule.name : '';
    const pod = podControllersRule(rule, nonCron);
    if (pod) out.push({ rule: rewriteVariables(pod, 'pod'), autogenOf: name, kind: 'pod-controllers' });
    if (controllers.includes('CronJob')) {
      // Kyverno derives the CronJob rule from the (unconverted) pod-controllers rule.
      const base = podControllersRule(rule, controllers);
      const cron =
        base &&
        generateRule(ruleName('autogen-cronjob', name), base, 'jobTemplate', ['CronJob'], replaceAllKinds);
      if (cron) out.push({ rule: rewriteVariables(cron, 'cronjob'), autogenOf: name, kind: 'cronjob' });
    }
  }
  return out;
}
