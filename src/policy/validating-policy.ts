/**
 * Kyverno's ValidatingPolicy (`policies.kyverno.io` v1alpha1/v1beta1/v1): CEL `validations` selected by
 * `matchConstraints` (ValidatingAdmissionPolicy resource rules), `matchConditions` and `variables`, with
 * Kyverno's pod-controller autogen. Compiled once; kept apart from CompiledPolicy (different shape: no rules).
 */
import type {
  CompiledValidatingPolicy,
  ParamSpec,
  ResourceRule,
  ValidatingProgramSet,
} from '../engine/api/compiled-validating-policy.js';
import { POD_CONTROLLERS } from '../engine/autogen/index.js';
import { compileCel, compileCelVariables } from '../engine/cel/index.js';

type Raw = Record<string, unknown>;
const isObj = (v: unknown): v is Raw => v !== null && typeof v === 'object' && !Array.isArray(v);
const strings = (v: unknown): string[] =>
  Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];

function rewrite(expr: string, kind: string): string {
  const to = kind === 'CronJob' ? 'spec.jobTemplate.spec.template' : 'spec.template';
  return expr
    .split('object.spec')
    .join(`object.${to}.spec`)
    .split('object.metadata')
    .join(`object.${to}.metadata`);
}

function programs(spec: Raw, kind: string | undefined): ValidatingProgramSet {
  const tr = (e: string): string => (kind ? rewrite(e, kind) : e);
  const matchConditions = (Array.isArray(spec.matchConditions) ? spec.matchConditions.filter(isObj) : []).map(
    (c) => ({
      name: typeof c.name === 'string' ? c.name : '',
      program: compileCel(tr(typeof c.expression === 'string' ? c.expression : '')),
    }),
  );
  const vars = Array.isArray(spec.variables) ? spec.variables.filter(isObj) : [];
  const validations = (Array.isArray(spec.validations) ? spec.validations.filter(isObj) : []).map((v) => {
    const expression = tr(typeof v.expression === 'string' ? v.expression : '');
    return {
      expression,
      program: compileCel(expression),
      ...(typeof v.message === 'string' ? { message: v.message } : {}),
      ...(typeof v.messageExpression === 'string'
        ? { messageExpression: compileCel(tr(v.messageExpression)) }
        : {}),
    };
  });
  const variables = vars.length
    ? compileCelVariables(
        vars.map((v) => ({
          name: v.name,
          expression: tr(typeof v.expression === 'string' ? v.expression : ''),
        })),
      )
    : undefined;
  return { matchConditions, validations, ...(variables ? { variables } : {}) };
}

export function resourceRules(v: unknown): ResourceRule[] {
  return (Array.isArray(v) ? v.filter(isObj) : []).map((r) => ({
    apiGroups: strings(r.apiGroups),
    apiVersions: strings(r.apiVersions),
    operations: strings(r.operations),
    resources: strings(r.resources),
    resourceNames: strings(r.resourceNames),
  }));
}

/**
 * paramKind (spec, or matchConstraints as some manifests write it) with paramRef (spec, as the
 * binding's paramRef is written for the CLI). Kubernetes' default for a missing parameter is Deny.
 */
function paramSpec(spec: Raw): ParamSpec | undefined {
  const mc = isObj(spec.matchConstraints) ? spec.matchConstraints : {};
  const kind = isObj(spec.paramKind) ? spec.paramKind : isObj(mc.paramKind) ? mc.paramKind : undefined;
  if (!kind) return undefined;
  const ref = isObj(spec.paramRef) ? spec.paramRef : {};
  const out: ParamSpec = {
    apiVersion: typeof kind.apiVersion === 'string' ? kind.apiVersion : '',
    kind: typeof kind.kind === 'string' ? kind.kind : '',
    notFound: ref.parameterNotFoundAction === 'Allow' ? 'Allow' : 'Deny',
  };
  if (typeof ref.name === 'string') out.name = ref.name;
  if (typeof ref.namespace === 'string' && ref.namespace !== '') out.namespace = ref.namespace;
  if (isObj(ref.selector)) out.selector = ref.selector;
  return out;
}

/** Compiles one ValidatingPolicy document; throws with a reason on a bad policy. */
export function compileValidatingPolicy(doc: Raw, file: string, line: number): CompiledValidatingPolicy {
  const md = isObj(doc.metadata) ? doc.metadata : {};
  const spec = isObj(doc.spec) ? doc.spec : {};
  const mc = isObj(spec.matchConstraints) ? spec.matchConstraints : {};
  const rules = resourceRules(mc.resourceRules);
  const json = isObj(spec.evaluation) && spec.evaluation.mode === 'JSON';
  // JSON mode validates payloads that are not Kubernetes objects: nothing to match them by.
  if (rules.length === 0 && !json) throw new Error('spec.matchConstraints.resourceRules is required');
  const autogen = new Map<string, ValidatingProgramSet>();
  const matchesPods = rules.some((r) => r.resources.includes('pods'));
  const podControllers =
    isObj(spec.autogen) && isObj(spec.autogen.podControllers) ? spec.autogen.podControllers : undefined;
  const requested =
    podControllers && Array.isArray(podControllers.controllers)
      ? strings(podControllers.controllers)
      : POD_CONTROLLERS;
  if (matchesPods && !json)
    for (const kind of requested) if (POD_CONTROLLERS.includes(kind)) autogen.set(kind, programs(spec, kind));
  const actions = strings(spec.validationActions).filter(
    (a): a is 'Deny' | 'Audit' | 'Warn' => a === 'Deny' || a === 'Audit' || a === 'Warn',
  );
  const auditAnnotations = (
    Array.isArray(spec.auditAnnotations) ? spec.auditAnnotations.filter(isObj) : []
  ).map((a) => ({
    key: typeof a.key === 'string' ? a.key : '',
    program: compileCel(typeof a.valueExpression === 'string' ? a.valueExpression : ''),
  }));
  const params = paramSpec(spec);
  return {
    validationActions: actions.length > 0 ? actions : ['Deny'],
    auditAnnotations,
    ...(params ? { params } : {}),
    mode: json ? 'JSON' : 'Kubernetes',
    apiVersion: typeof doc.apiVersion === 'string' ? doc.apiVersion : '',
    kind: 'ValidatingPolicy',
    name: typeof md.name === 'string' ? md.name : '',
    source: { file, line },
    resourceRules: rules,
    excludeResourceRules: resourceRules(mc.excludeResourceRules),
    ...(isObj(mc.namespaceSelector) ? { namespaceSelector: mc.namespaceSelector } : {}),
    ...(isObj(mc.objectSelector) ? { objectSelector: mc.objectSelector } : {}),
    programs: programs(spec, undefined),
    autogen,
  };
}
