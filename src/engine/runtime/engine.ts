/**
 * The per-event path. Rules are indexed by behavior, so the cost of an event grows with the rules
 * that can fire on it, not with all loaded policies. Pure: no I/O, no clocks, no globals.
 */
import type { Behavior, RuntimeEvent } from '../../events/types.js';
import type { Verdict } from '../verdict.js';
import { compilePattern } from '../pattern/index.js';
import { attributeEvent } from './attribution.js';
import type { CompiledRuntimePolicies, RuntimeRule } from './compile.js';
import type {
  Attribution,
  KubeObject,
  PolicySummary,
  RuntimeEngine,
  RuntimeEngineOptions,
  SensorHints,
} from './index.js';
import { matchesRule, resourceFacts } from '../match/index.js';
import { withVariables } from '../validate/cel.js';
import { runtimeView } from './view.js';

/** Why a rule that could fire did not produce a verdict because of an error (not a non-match). */
export interface RuleError {
  policy: string;
  rule: string;
  eventId: string;
  message: string;
}

export class IndexedRuntimeEngine implements RuntimeEngine {
  readonly sensorHints: SensorHints;
  readonly policies: readonly PolicySummary[];
  private readonly byBehavior = new Map<Behavior, RuntimeRule[]>();
  private readonly ruleErrors: RuleError[] = [];
  private errorCount = 0;

  constructor(
    compiled: CompiledRuntimePolicies,
    private readonly options: RuntimeEngineOptions,
  ) {
    for (const rule of compiled.rules) {
      for (const behavior of rule.behaviors) {
        const list = this.byBehavior.get(behavior);
        if (list) list.push(rule);
        else this.byBehavior.set(behavior, [rule]);
      }
    }
    this.policies = compiled.summaries;
    this.sensorHints = sensorHintsOf(compiled.rules);
  }

  /** Rule errors since the last call (variable or CEL failures), for logs and metrics. */
  takeRuleErrors(): { count: number; recent: RuleError[] } {
    const out = { count: this.errorCount, recent: this.ruleErrors.splice(0) };
    this.errorCount = 0;
    return out;
  }

  evaluate(event: RuntimeEvent): Verdict[] {
    const rules = this.byBehavior.get(event.behavior);
    if (!rules) return [];
    const attribution = attributeEvent(event, this.options.lookup, this.options.nodeName);
    const namespace = attribution.ref.namespace;
    const namespaceLabels = namespace ? this.options.lookup?.namespaceLabels(namespace) : undefined;
    // What matching reads of the resource, computed once and shared by every rule that can fire.
    const facts = resourceFacts(attribution.resource);
    // A runtime event is not an admission request: no operation (`operations` is not checked) and
    // no user info (ignored in match, as in Kyverno's background scans).
    const matchOptions = namespaceLabels ? { namespaceLabels } : {};
    const verdicts: Verdict[] = [];
    let evaluation: Evaluation | undefined;
    for (const rule of rules) {
      // A namespaced RuntimePolicy governs only its own namespace.
      if (rule.policyNamespace !== undefined && rule.policyNamespace !== namespace) continue;
      if (!matchesRule(rule.compiled, facts, matchOptions)) continue;
      evaluation ??= new Evaluation(event, attribution);
      try {
        const verdict = evaluateRule(rule, evaluation);
        if (verdict) verdicts.push(verdict);
      } catch (error) {
        this.recordError(rule, event, error);
      }
    }
    return verdicts;
  }

  private recordError(rule: RuntimeRule, event: RuntimeEvent, error: unknown): void {
    this.errorCount++;
    if (this.ruleErrors.length >= 100) this.ruleErrors.shift();
    this.ruleErrors.push({
      policy: rule.policy,
      rule: rule.rule,
      eventId: event.id,
      message: error instanceof Error ? error.message : String(error),
    });
  }
}

/** Per-event values shared by every rule that fires on the event, built on first use. */
class Evaluation {
  private viewCache: KubeObject | undefined;
  private contextCache: Record<string, unknown> | undefined;
  private celCache: Record<string, unknown> | undefined;

  constructor(
    readonly event: RuntimeEvent,
    readonly attribution: Attribution,
  ) {}

  get view(): KubeObject {
    return (this.viewCache ??= runtimeView(this.attribution, this.event));
  }

  /** Kyverno variable context: request.object is the resource, plus event and behavior. */
  get context(): Record<string, unknown> {
    return (this.contextCache ??= {
      request: {
        object: this.attribution.resource,
        operation: 'CONNECT',
        namespace: this.attribution.ref.namespace ?? '',
        kind: { kind: this.attribution.ref.kind },
        name: this.attribution.ref.name,
      },
      event: this.event,
      behavior: this.event.behavior,
      container: this.attribution.container ?? '',
    });
  }

  /** CEL activation: `object` is the resource, `event` the RuntimeEvent. */
  get celActivation(): Record<string, unknown> {
    return (this.celCache ??= {
      object: this.attribution.resource,
      event: this.event,
      behavior: this.event.behavior,
      request: this.context.request,
    });
  }
}

function evaluateRule(rule: RuntimeRule, evaluation: Evaluation): Verdict | undefined {
  const { compiled, restrict } = rule;
  if (compiled.preconditions && !compiled.preconditions.evaluate(evaluation.context).result) return undefined;
  const activation = restrict.cel
    ? withVariables(restrict.cel, evaluation.celActivation)
    : evaluation.celActivation;
  for (const pre of compiled.celPreconditions)
    if (pre.program.evaluate(activation) !== true) return undefined;

  const pattern =
    restrict.pattern ??
    (restrict.patternTemplate && compilePattern(restrict.patternTemplate.render(evaluation.context)));
  // A restrict pattern describes what is forbidden: a match is a violation.
  if (pattern && pattern.match(evaluation.view).status !== 'pass') return undefined;
  if (restrict.conditions && !restrict.conditions.evaluate(evaluation.context).result) return undefined;
  for (const e of restrict.cel?.expressions ?? [])
    if (e.program.evaluate(activation) !== true) return undefined;

  const { event, attribution } = evaluation;
  const verdict: Verdict = {
    policy: rule.policy,
    rule: rule.rule,
    mode: rule.mode,
    resource: attribution.ref,
    behavior: event.behavior,
    message: renderMessage(rule, evaluation),
    eventId: event.id,
    time: event.time,
    actions: rule.actions,
    event,
  };
  if (rule.policyNamespace !== undefined) verdict.policyNamespace = rule.policyNamespace;
  if (attribution.container !== undefined) verdict.container = attribution.container;
  if (attribution.synthetic) verdict.synthetic = true;
  if (rule.severity !== undefined) verdict.severity = rule.severity;
  if (rule.category !== undefined) verdict.category = rule.category;
  return verdict;
}

function renderMessage(rule: RuntimeRule, evaluation: Evaluation): string {
  const template = rule.restrict.message;
  if (!template) return rule.messageText;
  try {
    const rendered = template.render(evaluation.context);
    return typeof rendered === 'string' ? rendered : JSON.stringify(rendered);
  } catch {
    // A message whose variable is missing on this event still reports the violation, unrendered.
    return rule.messageText;
  }
}

function sensorHintsOf(rules: readonly RuntimeRule[]): SensorHints {
  const behaviors = new Set<Behavior>();
  for (const rule of rules) for (const b of rule.behaviors) behaviors.add(b);
  // File events can be filtered in the kernel only if every file rule names literal path prefixes.
  const fileRules = rules.filter((r) => r.behaviors.has('file-read') || r.behaviors.has('file-write'));
  let prefixes: string[] = [];
  if (fileRules.length > 0 && fileRules.every((r) => r.filePathPrefixes !== undefined)) {
    prefixes = [...new Set(fileRules.flatMap((r) => r.filePathPrefixes ?? []))].sort();
  }
  return { behaviors, filePathPrefixes: prefixes };
}
