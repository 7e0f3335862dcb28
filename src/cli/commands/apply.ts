/**
 * `kyverno-runtime apply`: evaluates policies against resources offline and prints the results.
 *
 * Structure: inputs are loaded into `ApplyInputs`, each input kind produces `ApplyRow`s, and one renderer
 * prints rows as a table, JSON or PolicyReports. Runtime events (`-e`) plug in as another row producer.
 */
import { Command, Option } from '@commander-js/extra-typings';
import { parseAllDocuments } from 'yaml';
import { createRuntimeEngine, staticParamLookup, type ParamLookup } from '../../engine/runtime/index.js';
import { staticPodLookup } from '../../engine/runtime/static-lookup.js';
import type { SourceFormat } from '../../events/adapters/index.js';
import { eventsPathProblem, formatSummary, replayEvents } from '../event-replay.js';
import { evaluatePolicy, type RuleResult, type RuleStatus } from '../../engine/validate/index.js';
import { evaluateValidatingPolicy } from '../../engine/validate/validating-policy.js';
import type { CompiledPolicy } from '../../engine/api/compiled-policy.js';
import type { CompiledValidatingPolicy } from '../../engine/api/compiled-validating-policy.js';
import { formatPolicyError, listYamlFiles, loadPolicies, readPolicyFile } from '../../policy/index.js';
import { policyKey, resourceKey, ruleKey } from '../../contracts/keys.js';
import { isClusterScoped } from '../../policy/kyverno-test/scope.js';
import { processIo, type CommandIo } from './test.js';
import { ExceptionSet, exemptResults } from '../../engine/exceptions/index.js';
import { localExceptions } from '../../policy/exception-files.js';
import { loadContextFiles } from '../../policy/context-file.js';
import type { ContextProvider } from '../../engine/runtime/index.js';

type Raw = Record<string, unknown>;
const isObj = (v: unknown): v is Raw => v !== null && typeof v === 'object' && !Array.isArray(v);
const str = (v: unknown): string => (typeof v === 'string' ? v : '');

export interface ApplyRow {
  resource: { apiVersion: string; kind: string; name: string; namespace?: string; uid?: string };
  result: RuleResult;
}

/** Loads every object of the YAML files under the paths (`kind: List` items flattened). */
export async function loadResources(
  paths: readonly string[],
): Promise<{ resources: Raw[]; errors: string[] }> {
  const resources: Raw[] = [];
  const errors: string[] = [];
  for (const path of paths) {
    let files: string[];
    try {
      files = await listYamlFiles(path);
    } catch (e) {
      errors.push(`${path}: ${e instanceof Error ? e.message : String(e)}`);
      continue;
    }
    for (const file of files) {
      let text: string;
      try {
        text = await readPolicyFile(file);
      } catch (e) {
        errors.push(`${file}: cannot read: ${e instanceof Error ? e.message : String(e)}`);
        continue;
      }
      const docs = parseAllDocuments(text);
      for (const doc of docs) {
        if (doc.errors.length > 0) {
          errors.push(`${file}: ${doc.errors[0]!.message.split('\n')[0] ?? ''}`);
          continue;
        }
        const v = doc.toJS() as unknown;
        if (!isObj(v)) continue;
        if (v.kind === 'List' && Array.isArray(v.items)) resources.push(...v.items.filter(isObj));
        else resources.push(v);
      }
    }
  }
  for (const r of resources) {
    const md = isObj(r.metadata) ? r.metadata : (r.metadata = {});
    if (!md.namespace && !isClusterScoped(str(r.apiVersion), str(r.kind))) md.namespace = 'default';
  }
  return { resources, errors };
}

/** Results of every policy on every resource (validate rules and ValidatingPolicies). */
export function applyToResources(
  policies: readonly CompiledPolicy[],
  resources: readonly Raw[],
  operation: string,
  validatingPolicies: readonly CompiledValidatingPolicy[] = [],
  exceptions: ExceptionSet = new ExceptionSet(),
  params?: ParamLookup,
): ApplyRow[] {
  const rows: ApplyRow[] = [];
  for (const resource of resources) {
    const md = (resource.metadata ?? {}) as Raw;
    const ref = {
      apiVersion: str(resource.apiVersion),
      kind: str(resource.kind),
      name: str(md.name) || str(md.generateName),
      ...(typeof md.namespace === 'string' && md.namespace ? { namespace: md.namespace } : {}),
      ...(typeof md.uid === 'string' ? { uid: md.uid } : {}),
    };
    for (const policy of policies) {
      const results = evaluatePolicy(policy, resource, { operation });
      for (const result of exemptResults(results, policy.kind, resource, exceptions, { operation }))
        rows.push({ resource: ref, result });
    }
    for (const policy of validatingPolicies) {
      const results = evaluateValidatingPolicy(policy, resource, {
        operation,
        ...(params ? { params } : {}),
      });
      for (const result of exemptResults(results, policy.kind, resource, exceptions, { operation }))
        rows.push({ resource: ref, result });
    }
  }
  return rows;
}

function renderTable(rows: readonly ApplyRow[]): string {
  const table = [
    ['POLICY', 'RULE', 'RESOURCE', 'RESULT', 'MESSAGE'],
    ...rows.map((r) => [
      policyKey(r.result),
      r.result.rule,
      `${r.resource.kind}/${r.resource.namespace ? `${r.resource.namespace}/` : ''}${r.resource.name}`,
      r.result.status,
      r.result.auditAnnotations
        ? `${r.result.message} (${Object.entries(r.result.auditAnnotations)
            .map(([k, v]) => `${k}=${v}`)
            .join(', ')})`
        : r.result.message,
    ]),
  ];
  // The message column is last and left unpadded.
  const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => (row[i] ?? '').length)));
  return table.map((row) => row.map((c, i) => (i === 4 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n');
}

const STATUSES: RuleStatus[] = ['pass', 'fail', 'warn', 'error', 'skip'];

/** One wgpolicyk8s.io/v1alpha2 PolicyReport (or ClusterPolicyReport) per resource, as Kyverno's CLI does. */
export function toPolicyReports(rows: readonly ApplyRow[], now = new Date()): Raw[] {
  const byResource = new Map<string, ApplyRow[]>();
  for (const r of rows) {
    const key = `${r.resource.apiVersion}|${r.resource.kind}|${r.resource.namespace ?? ''}|${r.resource.name}`;
    byResource.set(key, [...(byResource.get(key) ?? []), r]);
  }
  const seconds = Math.floor(now.getTime() / 1000);
  return [...byResource.values()].map((list) => {
    const res = list[0]!.resource;
    const summary = Object.fromEntries(
      STATUSES.map((s) => [s, list.filter((r) => r.result.status === s).length]),
    );
    return {
      apiVersion: 'wgpolicyk8s.io/v1alpha2',
      kind: res.namespace ? 'PolicyReport' : 'ClusterPolicyReport',
      metadata: {
        name: res.uid ?? `${res.kind.toLowerCase()}-${res.name}`,
        ...(res.namespace ? { namespace: res.namespace } : {}),
        labels: { 'app.kubernetes.io/managed-by': 'kyverno-runtime' },
      },
      scope: res,
      summary,
      results: list.map((r) => ({
        source: 'kyverno-runtime',
        policy: policyKey(r.result),
        rule: r.result.rule,
        result: r.result.status,
        scored: r.result.scored,
        message: r.result.message,
        ...(r.result.severity ? { severity: r.result.severity } : {}),
        ...(r.result.category ? { category: r.result.category } : {}),
        resources: [res],
        timestamp: { seconds, nanos: 0 },
        properties: {
          process: 'offline apply',
          ...(r.result.exception !== undefined ? { exceptions: r.result.exception } : {}),
          ...r.result.auditAnnotations,
        },
      })),
    };
  });
}

export function register(program: Command, io: CommandIo = processIo): void {
  program
    .command('apply')
    .description(
      'Evaluate policies offline: validate rules of ClusterPolicy/Policy against resources (-r), or restrict rules of ' +
        'runtime policies against events (-e). Prints one result per (policy, rule, resource); with -e a summary of ' +
        'events read, skipped (by reason) and evaluated goes to stderr. Exit code 1 when a result is fail or error.',
    )
    .requiredOption('-p, --policies <paths...>', 'policy files or directories')
    .option(
      '-r, --resources <paths...>',
      'resource files or directories (multi-document YAML, kind: List allowed)',
      [],
    )
    .option(
      '-e, --events <path>',
      'runtime events to evaluate restrict rules against (JSON lines in any supported format; - for stdin). ' +
        'Streams: memory stays bounded; -r resources stand in for the cluster pod cache',
    )
    .addOption(
      new Option('--source <format>', 'event format of --events')
        .choices(['auto', 'tetragon', 'falco', 'kubearmor', 'tracee', 'runtime', 'cloudevents'] as const)
        .default('auto' as const),
    )
    .option(
      '--exception <paths...>',
      'PolicyException files or directories (kyverno.io/v2 or policies.kyverno.io), besides those among -p',
      [],
    )
    .option(
      '--exception-namespace <namespaces...>',
      'namespaces whose PolicyExceptions apply in every namespace and to Nodes ("*": all); others apply only in their own namespace',
      [],
    )
    .option(
      '--context-file <paths...>',
      'ConfigMaps and a kind: Context document (apiCalls, globalReferences, resources) answering rule context entries',
      [],
    )
    .option('--operation <op>', 'admission operation to simulate (CREATE, UPDATE, DELETE, CONNECT)', 'CREATE')
    .addOption(
      new Option(
        '-o, --output <format>',
        'table, json, or policyreport (wgpolicyk8s.io/v1alpha2 reports as YAML-compatible JSON)',
      )
        .choices(['table', 'json', 'policyreport'] as const)
        .default('table' as const),
    )
    .action(async (opts) => {
      const eventsProblem = opts.events === undefined ? undefined : eventsPathProblem(opts.events);
      if (eventsProblem !== undefined) {
        io.err(`error: --events ${eventsProblem}\n`);
        process.exitCode = 1;
        return;
      }
      const loaded = await loadPolicies(opts.policies);
      for (const e of loaded.errors) io.err(`${formatPolicyError(e)}\n`);
      const exceptions = await localExceptions(loaded, opts.exception, opts.exceptionNamespace);
      for (const e of exceptions.errors) io.err(`${formatPolicyError(e)}\n`);
      for (const w of exceptions.warnings) io.err(`warning: ${w}\n`);
      const contextFile = opts.contextFile.length > 0 ? await loadContextFiles(opts.contextFile) : undefined;
      for (const e of contextFile?.errors ?? []) io.err(`${formatPolicyError(e)}\n`);
      const context = contextFile?.provider;
      const { resources, errors } = await loadResources(opts.resources);
      for (const e of errors) io.err(`${e}\n`);
      const rows = opts.events
        ? await applyToEvents(
            loaded.policies,
            resources,
            opts.events,
            opts.source,
            io,
            exceptions.set,
            context,
            staticParamLookup([...(loaded.objects ?? []), ...resources]),
          )
        : applyToResources(
            loaded.policies,
            resources,
            opts.operation.toUpperCase(),
            loaded.validatingPolicies ?? [],
            exceptions.set,
            // paramKind objects: the non-policy documents of -p files and the -r resources.
            staticParamLookup([...(loaded.objects ?? []), ...resources]),
          );
      if (opts.output === 'json') io.out(`${JSON.stringify(rows, null, 2)}\n`);
      else if (opts.output === 'policyreport')
        io.out(
          `${JSON.stringify({ apiVersion: 'v1', kind: 'List', items: toPolicyReports(rows) }, null, 2)}\n`,
        );
      else {
        io.out(`${rows.length ? renderTable(rows) : 'no results (no rule matched)'}\n`);
        const counts = STATUSES.map((s) => `${rows.filter((r) => r.result.status === s).length} ${s}`).join(
          ', ',
        );
        io.out(`${counts}\n`);
      }
      if (
        loaded.errors.length > 0 ||
        exceptions.errors.length > 0 ||
        (contextFile?.errors.length ?? 0) > 0 ||
        errors.length > 0 ||
        rows.some((r) => r.result.status === 'fail' || r.result.status === 'error')
      ) {
        process.exitCode = 1;
      }
    });
}

/**
 * Runtime events through the runtime engine: one row per (policy, rule, resource) violated, with the
 * number of events and the last message — bounded by distinct keys, not by the input size.
 */
async function applyToEvents(
  policies: readonly CompiledPolicy[],
  resources: readonly Raw[],
  eventsPath: string,
  format: SourceFormat | 'auto',
  io: CommandIo,
  exceptions: ExceptionSet,
  context: ContextProvider | undefined,
  params: ParamLookup,
): Promise<ApplyRow[]> {
  const engine = createRuntimeEngine(policies, {
    ...(context ? { context } : {}),
    ...(resources.length > 0 ? { lookup: staticPodLookup(resources) } : {}),
    exceptions,
    params,
  });
  const rows = new Map<string, ApplyRow & { count: number }>();
  /** One more event for an existing row: counted, its message the latest. False when the row is new. */
  const counted = (key: string, message: string): boolean => {
    const row = rows.get(key);
    if (!row) return false;
    row.count++;
    row.result.message = `${message} (${row.count} events)`;
    return true;
  };
  const summary = await replayEvents(
    eventsPath,
    format,
    engine,
    (verdicts) => {
      for (const v of verdicts) {
        // Exempted events of a rule are a row of their own (skip) beside its violations (fail).
        const key = `${ruleKey(v)}\u0000${resourceKey(v.resource)}\u0000${v.exception?.name ?? ''}`;
        if (counted(key, v.message)) continue;
        const result: RuleResult = {
          policy: v.policy,
          rule: v.rule,
          status: v.exception ? 'skip' : 'fail',
          message: v.message,
          failureAction: v.mode,
          scored: true,
        };
        if (v.exception)
          result.exception = v.exception.namespace
            ? `${v.exception.namespace}/${v.exception.name}`
            : v.exception.name;
        if (v.policyNamespace) result.policyNamespace = v.policyNamespace;
        if (v.severity) result.severity = v.severity;
        if (v.category) result.category = v.category;
        rows.set(key, { resource: v.resource, result, count: 1 });
      }
    },
    (errors, event) => {
      // A rule that errs on an event is shown as an error row, one per (policy, rule, resource), like a violation.
      for (const e of errors) {
        const resource: ApplyRow['resource'] = event.pod?.name
          ? {
              apiVersion: 'v1',
              kind: 'Pod',
              name: event.pod.name,
              ...(event.pod.namespace ? { namespace: event.pod.namespace } : {}),
            }
          : { apiVersion: 'v1', kind: 'Node', name: event.node ?? '' };
        const key = `error\u0000${e.policyNamespace ?? ''}/${e.policy}/${e.rule}\u0000${resourceKey(resource)}`;
        if (counted(key, e.message)) continue;
        const result: RuleResult = {
          policy: e.policy,
          rule: e.rule,
          status: 'error',
          message: e.message,
          failureAction: 'Audit',
          scored: true,
        };
        if (e.policyNamespace) result.policyNamespace = e.policyNamespace;
        rows.set(key, { resource, result, count: 1 });
      }
    },
  );
  for (const skip of summary.skips)
    io.err(`${eventsPath}:${skip.line}: skipped (${skip.reason}): ${skip.detail}\n`);
  io.err(`${formatSummary(summary)}\n`);
  return [...rows.values()].map(({ resource, result }) => ({ resource, result }));
}
