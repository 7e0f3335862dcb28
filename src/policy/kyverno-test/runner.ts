/**
 * Runs one Kyverno CLI test file (`kind: Test`): loads its policies, resources, values and user info
 * (paths relative to the test file), evaluates every policy against every resource, and judges each
 * expectation (one per results[] entry × resource), in two modes:
 *
 * - lenient (Kyverno's `kyverno test`): a rule that did not apply (no response) counts as passed;
 * - strict: the expected result must actually be produced; "did not apply" passes only when `skip`
 *   was expected.
 */
import { readPolicyFile } from '../read-file.js';
import { dirname, resolve } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { evaluatePolicy, type RuleResult } from '../../engine/validate/index.js';
import { evaluateValidatingPolicy } from '../../engine/validate/validating-policy.js';
import type { CompiledPolicy } from '../../engine/api/compiled-policy.js';
import type { CompiledValidatingPolicy } from '../../engine/api/compiled-validating-policy.js';
import type { RequestUserInfo } from '../../engine/match/index.js';
import { formatPolicyError, loadPolicyText, type PolicyError } from '../index.js';
import { ResultEntry, TestFile, UserInfoFile, ValuesFile } from './files.js';
import { isClusterScoped } from './scope.js';
import { contextHost } from './context-host.js';
import type { CelHost } from '../../engine/cel/index.js';
import { ExceptionSet, exemptResults } from '../../engine/exceptions/index.js';
import { staticParamLookup } from '../../engine/runtime/params.js';
import type { ParamLookup } from '../../engine/api/runtime.js';

export interface CaseResult {
  policy: string;
  rule: string;
  resource: string;
  kind?: string;
  expected: string;
  /** Results produced for this expectation (empty: the rule did not apply). */
  actual: string[];
  ok: boolean;
  reason?: string;
  message?: string;
}

export interface TestReport {
  file: string;
  name: string;
  cases: CaseResult[];
  passed: number;
  failed: number;
  /** Set when the test file itself could not be run. */
  error?: string;
  /** Policy load problems (file:line:col). */
  policyErrors: string[];
}

export interface RunOptions {
  strict?: boolean;
  /** PolicyException files applied to every test (`test --exception`), besides each test's `exceptions:`. */
  exceptions?: readonly string[];
}

type Raw = Record<string, unknown>;
const isObj = (v: unknown): v is Raw => v !== null && typeof v === 'object' && !Array.isArray(v);

async function readYamlDocs(file: string): Promise<unknown[]> {
  const text = await readPolicyFile(file);
  return parseAllDocuments(text).flatMap((d) => (d.errors.length === 0 ? [d.toJS() as unknown] : []));
}

interface LoadedResource {
  object: Raw;
  kind: string;
  name: string;
  namespace: string;
}

function toResource(doc: Raw): LoadedResource {
  const object = structuredClone(doc);
  const md = isObj(object.metadata) ? object.metadata : (object.metadata = {});
  const kind = typeof object.kind === 'string' ? object.kind : '';
  const apiVersion = typeof object.apiVersion === 'string' ? object.apiVersion : '';
  // Kyverno's CLI puts namespaced resources without a namespace in `default`.
  if ((typeof md.namespace !== 'string' || md.namespace === '') && !isClusterScoped(apiVersion, kind))
    md.namespace = 'default';
  return {
    object,
    kind,
    name: typeof md.name === 'string' ? md.name : typeof md.generateName === 'string' ? md.generateName : '',
    namespace: typeof md.namespace === 'string' ? md.namespace : '',
  };
}

/** Test context derived from the Values file for one (policy, resource). */
class Values {
  constructor(private readonly v: ValuesFile | undefined) {}

  namespaceLabels(namespace: string): Record<string, string> | undefined {
    const sel = this.v?.namespaceSelector?.find((n) => n.name === namespace);
    if (sel) return { ...(sel.labels ?? {}) };
    const ns = this.v?.namespaces?.find((n) => isObj(n.metadata) && n.metadata.name === namespace);
    if (ns && isObj(ns.metadata) && isObj(ns.metadata.labels))
      return ns.metadata.labels as Record<string, string>;
    return undefined;
  }

  namespaceObject(namespace: string): Record<string, unknown> | undefined {
    return this.v?.namespaces?.find((n) => isObj(n.metadata) && n.metadata.name === namespace);
  }

  variables(policy: string, resource: string): Record<string, unknown> {
    const p = this.v?.policies?.find((x) => x.name === policy);
    const r = p?.resources?.find((x) => x.name === resource);
    return { ...(this.v?.globalValues ?? {}), ...(r?.values ?? {}) };
  }

  ruleVariables(policy: string): Record<string, Record<string, unknown>> {
    const p = this.v?.policies?.find((x) => x.name === policy);
    const out: Record<string, Record<string, unknown>> = {};
    for (const r of p?.rules ?? []) out[r.name] = { ...(r.values ?? {}) };
    return out;
  }
}

function expand(entry: ResultEntry): { name: string; namespace?: string; kind?: string }[] {
  const out: { name: string; namespace?: string; kind?: string }[] = [];
  for (const r of [...(entry.resources ?? []), ...(entry.resource ? [entry.resource] : [])]) {
    const i = r.indexOf('/');
    out.push(
      i >= 0
        ? { namespace: r.slice(0, i), name: r.slice(i + 1), ...(entry.kind ? { kind: entry.kind } : {}) }
        : { name: r, ...(entry.kind ? { kind: entry.kind } : {}) },
    );
  }
  for (const s of entry.resourceSpecs ?? []) {
    out.push({
      name: s.name,
      ...(s.namespace ? { namespace: s.namespace } : {}),
      ...(s.kind ? { kind: s.kind } : {}),
    });
  }
  return out;
}

type AnyPolicy = CompiledPolicy | CompiledValidatingPolicy;

interface LoadedPolicies {
  policies: CompiledPolicy[];
  validatingPolicies: CompiledValidatingPolicy[];
  policyErrors: PolicyError[];
  /** The other Kubernetes documents of the policy files (parameter objects, as `apply -p` reads them). */
  objects: Raw[];
}

/** What the test file's side files contribute to every evaluation. */
interface TestContext {
  values: Values;
  userInfo: RequestUserInfo | undefined;
  celHost: CelHost | undefined;
  exceptions: ExceptionSet;
  params: ParamLookup;
}

type ResultsFor = (policy: AnyPolicy, res: LoadedResource, index: number) => RuleResult[];

export async function runKyvernoTest(
  file: string,
  parsed: unknown,
  opts: RunOptions = {},
): Promise<TestReport> {
  const base = dirname(file);
  const report: TestReport = { file, name: '', cases: [], passed: 0, failed: 0, policyErrors: [] };
  const test = TestFile.safeParse(parsed);
  if (!test.success) {
    report.error = `invalid test file: ${test.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`;
    return report;
  }
  const t = test.data;
  report.name = t.metadata?.name ?? t.name ?? file;

  const loaded = await loadPolicies(t.policies, base);
  report.policyErrors = loaded.policyErrors.map(formatPolicyError);
  const resources = await loadResources(t.resources, base, report);
  const context: TestContext = {
    values: new Values(await loadValues(t.variables, base, report)),
    userInfo: await loadUserInfo(t.userinfo, base, report),
    celHost: await loadContext(t.context, base, report),
    exceptions: await loadExceptions([...t.exceptions, ...(opts.exceptions ?? [])], base, report),
    params: staticParamLookup([
      ...loaded.objects,
      ...(await loadResources(t.paramResources, base, report)).map((r) => r.object),
    ]),
  };
  const resultsFor = cachedEvaluator(context);

  for (const entry of t.results) {
    report.cases.push(...judgeEntry(entry, loaded, resources, resultsFor, opts));
  }
  for (const c of report.cases) {
    if (c.ok) report.passed++;
    else report.failed++;
  }
  return report;
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Every policy file, compiled; a file that cannot be read becomes a policy error at 1:1. */
async function loadPolicies(files: readonly string[], base: string): Promise<LoadedPolicies> {
  const loaded: LoadedPolicies = { policies: [], validatingPolicies: [], policyErrors: [], objects: [] };
  for (const p of files) {
    const path = resolve(base, p);
    try {
      const r = loadPolicyText(await readPolicyFile(path), path);
      loaded.policies.push(...r.policies);
      loaded.validatingPolicies.push(...(r.validatingPolicies ?? []));
      loaded.policyErrors.push(...r.errors);
      loaded.objects.push(...(r.objects ?? []));
    } catch (e) {
      loaded.policyErrors.push({ file: path, line: 1, col: 1, message: `cannot read: ${errorText(e)}` });
    }
  }
  return loaded;
}

async function loadResources(
  files: readonly string[],
  base: string,
  report: TestReport,
): Promise<LoadedResource[]> {
  const resources: LoadedResource[] = [];
  for (const r of files) {
    try {
      for (const doc of await readYamlDocs(resolve(base, r))) if (isObj(doc)) resources.push(toResource(doc));
    } catch (e) {
      report.error = `cannot read resource file ${r}: ${errorText(e)}`;
    }
  }
  return resources;
}

async function loadValues(
  file: string | undefined,
  base: string,
  report: TestReport,
): Promise<ValuesFile | undefined> {
  if (!file) return undefined;
  try {
    const docs = await readYamlDocs(resolve(base, file));
    const parsedValues = ValuesFile.safeParse(docs.find(isObj) ?? {});
    if (parsedValues.success) return parsedValues.data;
    report.error = `invalid values file ${file}: ${parsedValues.error.message}`;
  } catch (e) {
    report.error = `cannot read values file ${file}: ${errorText(e)}`;
  }
  return undefined;
}

async function loadUserInfo(
  file: string | undefined,
  base: string,
  report: TestReport,
): Promise<RequestUserInfo | undefined> {
  if (!file) return undefined;
  try {
    const docs = await readYamlDocs(resolve(base, file));
    const u = UserInfoFile.safeParse(docs.find(isObj) ?? {});
    if (u.success) {
      return {
        ...(u.data.userInfo?.username ? { username: u.data.userInfo.username } : {}),
        groups: u.data.userInfo?.groups ?? [],
        roles: u.data.roles ?? [],
        clusterRoles: u.data.clusterRoles ?? [],
      };
    }
  } catch (e) {
    report.error = `cannot read userinfo file ${file}: ${errorText(e)}`;
  }
  return undefined;
}

async function loadContext(
  file: string | undefined,
  base: string,
  report: TestReport,
): Promise<CelHost | undefined> {
  if (!file) return undefined;
  try {
    return contextHost((await readYamlDocs(resolve(base, file))).find(isObj));
  } catch (e) {
    report.error = `cannot read context file ${file}: ${errorText(e)}`;
    return undefined;
  }
}

/**
 * The test's PolicyException files. Kyverno lets an exception reach every namespace (no
 * --exceptionNamespace in its CLI), so the set here is cluster-wide ('*').
 */
async function loadExceptions(
  files: readonly string[],
  base: string,
  report: TestReport,
): Promise<ExceptionSet> {
  const exceptions = [];
  for (const f of files) {
    const path = resolve(base, f);
    try {
      const r = loadPolicyText(await readPolicyFile(path), path);
      exceptions.push(...(r.exceptions ?? []));
      report.policyErrors.push(...r.errors.map(formatPolicyError));
    } catch (e) {
      report.error = `cannot read exception file ${f}: ${errorText(e)}`;
    }
  }
  return new ExceptionSet(exceptions, { clusterWideNamespaces: ['*'] });
}

/** Evaluates lazily per (policy, resource) and caches: expectations often share them. */
function cachedEvaluator(context: TestContext): ResultsFor {
  const { values: v, userInfo, celHost, exceptions, params } = context;
  const cache = new Map<string, RuleResult[]>();
  return (policy, res, index) => {
    const key = `${policy.kind}/${'namespace' in policy ? (policy.namespace ?? '') : ''}/${policy.name}#${index}`;
    let r = cache.get(key);
    if (!r) {
      const variables = v.variables(policy.name, res.name);
      const nsLabels = v.namespaceLabels(res.kind === 'Namespace' ? res.name : res.namespace);
      const nsObject = res.namespace ? v.namespaceObject(res.namespace) : undefined;
      // Kyverno's CLI has no old object to offer: on UPDATE it validates the resource against itself.
      const operation =
        typeof variables['request.operation'] === 'string' ? variables['request.operation'] : 'CREATE';
      const opts = {
        ...(operation === 'UPDATE' ? { oldObject: res.object } : {}),
        variables,
        ruleVariables: v.ruleVariables(policy.name),
        ...(nsLabels ? { namespaceLabels: nsLabels } : {}),
        ...(userInfo ? { userInfo } : {}),
        ...(celHost ? { celHost } : {}),
        ...(nsObject ? { namespaceObject: nsObject } : {}),
        params,
      };
      r = exemptResults(
        policy.kind === 'ValidatingPolicy'
          ? evaluateValidatingPolicy(policy, res.object, opts)
          : evaluatePolicy(policy, res.object, opts),
        policy.kind,
        res.object,
        exceptions,
        { operation, ...(nsLabels ? { namespaceLabels: nsLabels } : {}) },
      );
      cache.set(key, r);
    }
    return r;
  };
}

/** One results[] entry: a case per resource it names. */
function judgeEntry(
  entry: ResultEntry,
  loaded: LoadedPolicies,
  resources: readonly LoadedResource[],
  resultsFor: ResultsFor,
  opts: RunOptions,
): CaseResult[] {
  const { policies, validatingPolicies, policyErrors } = loaded;
  const policyName = entry.policy.includes('/')
    ? entry.policy.slice(entry.policy.lastIndexOf('/') + 1)
    : entry.policy;
  const policy =
    (entry.isValidatingPolicy ? undefined : policies.find((p) => p.name === policyName)) ??
    validatingPolicies.find((p) => p.name === policyName) ??
    policies.find((p) => p.name === policyName);
  const rule = entry.rule ?? '';
  const cases: CaseResult[] = [];
  for (const target of expand(entry)) {
    const c: CaseResult = {
      policy: entry.policy,
      rule,
      resource: target.namespace ? `${target.namespace}/${target.name}` : target.name,
      expected: entry.result,
      actual: [],
      ok: false,
      ...(target.kind ? { kind: target.kind } : {}),
    };
    cases.push(c);
    if (!policy) {
      const why = policyErrors.find((e) => e.policy === policyName) ?? policyErrors[0];
      c.reason = `policy ${policyName} not loaded${why ? `: ${formatPolicyError(why)}` : ''}`;
      continue;
    }
    const candidates = candidatesFor(target, resources);
    if (candidates.length === 0) {
      c.reason = `resource ${c.resource} not found`;
      continue;
    }
    const produced: RuleResult[] = [];
    for (const { r, i } of candidates) {
      produced.push(
        ...resultsFor(policy, r, i).filter((x) =>
          entry.isValidatingPolicy ? true : x.rule === rule || x.autogenOf === rule,
        ),
      );
    }
    judge(c, produced, entry.result, opts);
  }
  return cases;
}

/** The loaded resources a target names (by name and namespace; by kind when that is ambiguous). */
function candidatesFor(
  target: { name: string; namespace?: string; kind?: string },
  resources: readonly LoadedResource[],
): { r: LoadedResource; i: number }[] {
  let candidates = resources
    .map((r, i) => ({ r, i }))
    .filter(
      ({ r }) =>
        r.name === target.name && (target.namespace === undefined || r.namespace === target.namespace),
    );
  if (candidates.length > 1 && target.kind) {
    const byKind = candidates.filter(({ r }) => r.kind === target.kind);
    if (byKind.length > 0) candidates = byKind;
  }
  return candidates;
}

/** Compares what was produced with the expected result (lenient or strict about "did not apply"). */
function judge(c: CaseResult, produced: readonly RuleResult[], expected: string, opts: RunOptions): void {
  c.actual = produced.map((x) => x.status);
  const mismatch = produced.find((x) => x.status !== expected);
  if (produced.length === 0) {
    c.ok = !opts.strict || expected === 'skip';
    if (!c.ok) c.reason = `rule did not apply (no result), expected ${expected}`;
  } else if (mismatch) {
    c.reason = `expected ${expected}, got ${mismatch.status}: ${mismatch.message}`;
    c.message = mismatch.message;
  } else {
    c.ok = true;
    c.message = produced[0]!.message;
  }
}
