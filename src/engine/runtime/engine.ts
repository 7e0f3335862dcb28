/**
 * The per-event path. Rules are indexed by behavior and by the namespaces they can apply to
 * (rule-index.ts), so the cost of an event grows with the rules that can fire on it, not with all
 * loaded policies; parts that several rules write alike are evaluated once per event
 * (shared-work.ts). Pure: no I/O, no clocks, no globals (the stack-trace limit is set and restored
 * around rule evaluation, see evaluate).
 */
import type { Behavior, RuntimeEvent } from '../../events/types.js';
import type { Verdict } from '../../contracts/verdict.js';
import type { KernelBlockRule } from '../../contracts/kernel-block.js';
import type { CompiledPolicy } from '../api/compiled-policy.js';
import { compilePattern } from '../pattern/index.js';
import { capRendered, MAX_MESSAGE_LENGTH } from '../variables/index.js';
import { attributeEvent, attributionFacts, synthesisedPodNamespace } from './attribution.js';
import { compileRuntimePolicies, type CompiledRuntimePolicies, type RuntimeRule } from './compile.js';
import type {
  Attribution,
  ContextProvider,
  KubeObject,
  PodLookup,
  PolicySummary,
  RuntimeEngine,
  RuntimeEngineOptions,
  SensorHints,
  SensorRuleView,
} from '../api/runtime.js';
import type { MatchOptions, ResourceFacts } from '../match/index.js';
import { withVariables } from '../validate/cel.js';
import {
  emptyFieldTree,
  mergeFieldTree,
  NOT_RAW,
  PreparedActivation,
  RAW_BINDING,
  compileProjection,
  toCel,
  toCelOnce,
  type FieldTree,
} from '../cel/index.js';
import { RuleIndex } from './rule-index.js';
import { ruleErrorReasonOf, type RuleError } from './rule-error.js';
import { SharedOutcomes } from './shared-work.js';
import { loadRuntimeContext } from './context.js';
import { exceptionSkipMessage, type ExceptionError, type ExceptionSet } from '../exceptions/index.js';
import { evaluateValidating, resolveParams } from './validating.js';
import { runtimeView } from './view.js';

export type { RuleError } from './rule-error.js';

const NO_MATCH_OPTIONS: MatchOptions = Object.freeze({});
const NO_RULE_ERRORS = Object.freeze({ count: 0, recent: Object.freeze([]) });

export class IndexedRuntimeEngine implements RuntimeEngine {
  readonly sensorHints: SensorHints;
  readonly policies: readonly PolicySummary[];
  readonly kernelBlockRules: readonly KernelBlockRule[];
  private readonly index: RuleIndex;
  private readonly shared: SharedOutcomes;
  private readonly ruleErrors: RuleError[] = [];
  private errorCount = 0;
  /** Converts the paths of `event` the RuntimeValidatingPolicies together read. */
  private readonly projectEvent: EventProjection;

  constructor(
    compiled: CompiledRuntimePolicies,
    private readonly options: RuntimeEngineOptions,
  ) {
    this.index = new RuleIndex(compiled.rules);
    this.shared = new SharedOutcomes(compiled.sharedParts);
    this.policies = compiled.summaries;
    this.sensorHints = sensorHintsOf(compiled.rules);
    this.kernelBlockRules = compiled.kernelBlockRules;
    this.projectEvent = eventProjection(validatingEventFields(compiled.rules));
  }

  /** Rule errors since the last call (variable or CEL failures), for logs and metrics. */
  takeRuleErrors(): { count: number; recent: readonly RuleError[] } {
    // Drained after every event by the pipeline: the usual answer, none, allocates nothing.
    if (this.errorCount === 0) return NO_RULE_ERRORS;
    const out = { count: this.errorCount, recent: this.ruleErrors.splice(0) };
    this.errorCount = 0;
    return out;
  }

  evaluate(event: RuntimeEvent): Verdict[] {
    if (!this.index.has(event.behavior)) return [];
    const { lookup, nodeName } = this.options;
    // Without a cluster a named pod is attributed to a Pod synthesised in its namespace: the rules
    // that can fire are known before anything is built, and many events meet none. Those that do are
    // often decided by the event alone (kinds and namespaces in match, a pattern on `event`), so the
    // attribution is then built only for a verdict.
    const podNamespace = synthesisedPodNamespace(event, lookup);
    let evaluation: Evaluation;
    let rules: readonly RuntimeRule[];
    let namespace: string | undefined;
    if (podNamespace !== undefined) {
      rules = this.index.candidates(event.behavior, 'Pod', podNamespace);
      if (rules.length === 0) return [];
      evaluation = new Evaluation(event, lookup, nodeName, NO_MATCH_OPTIONS, podNamespace);
      // Only compared with a namespaced policy's namespace, which is never empty: "" and the ref's
      // undefined (an empty namespace is no namespace) give the same answer.
      namespace = podNamespace;
    } else {
      const attribution = attributeEvent(event, lookup, nodeName);
      // What matching reads of the resource, computed once and shared by every rule that can fire.
      const facts = attributionFacts(attribution);
      rules = this.index.candidates(event.behavior, facts.kind, facts.namespace);
      if (rules.length === 0) return [];
      namespace = attribution.ref.namespace;
      const namespaceLabels = namespace ? lookup?.namespaceLabels(namespace) : undefined;
      // A runtime event is not an admission request: no operation (`operations` is not checked) and
      // no user info (ignored in match, as in Kyverno's background scans).
      const matchOptions = namespaceLabels ? { namespaceLabels } : NO_MATCH_OPTIONS;
      evaluation = new Evaluation(event, lookup, nodeName, matchOptions, undefined, attribution, facts);
    }
    const verdicts: Verdict[] = [];
    const shared = this.shared;
    shared.nextEvent();
    // A rule error (a variable that does not resolve on this event, a failing CEL call) is an expected
    // outcome here, thrown as an exception and kept only as its message (recordError). Capturing a
    // stack trace for each one cost more than evaluating the rule, so none is captured while rules
    // run; the limit is restored before returning (evaluation is synchronous).
    const stackTraceLimit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      for (const rule of rules) {
        // A namespaced RuntimePolicy governs only its own namespace.
        if (rule.policyNamespace !== undefined && rule.policyNamespace !== namespace) continue;
        if (!shared.get(rule.shared.match, ruleMatches, rule, evaluation)) continue;
        try {
          const verdict = rule.restrict.validating
            ? evaluateValidatingRule(rule, evaluation, this.options, this.projectEvent)
            : evaluateRule(rule, evaluation, shared, this.options.context);
          if (verdict) {
            // Exceptions are looked at only for a violation: an event no rule flags costs nothing more.
            const exceptions = this.options.exceptions;
            if (exceptions !== undefined && exceptions.names(rule.policy, rule.policyNamespace))
              this.exempt(verdict, rule, evaluation, exceptions);
            verdicts.push(verdict);
          }
        } catch (error) {
          this.recordError(rule, event, error);
        }
      }
    } finally {
      Error.stackTraceLimit = stackTraceLimit;
    }
    return verdicts;
  }

  private exempt(
    verdict: Verdict,
    rule: RuntimeRule,
    evaluation: Evaluation,
    exceptions: ExceptionSet,
  ): void {
    const target = {
      policyKind: rule.policyKind,
      policyName: rule.policy,
      rule: rule.rule,
      ...(rule.policyNamespace !== undefined ? { policyNamespace: rule.policyNamespace } : {}),
    };
    const subject = {
      facts: evaluation.facts,
      matchOptions: evaluation.matchOptions,
      context: () => evaluation.context,
      celActivation: () => evaluation.exceptionActivation(this.options.lookup),
    };
    const hit = exceptions.find(target, subject, (e: ExceptionError) =>
      this.recordError(rule, evaluation.event, e.message, 'exception'),
    );
    if (!hit) return;
    const { exception } = hit;
    verdict.exception =
      exception.namespace !== undefined
        ? { name: exception.name, namespace: exception.namespace }
        : { name: exception.name };
    verdict.actions = [];
    verdict.message = exceptionSkipMessage(exception);
  }

  private recordError(
    rule: RuntimeRule,
    event: RuntimeEvent,
    error: unknown,
    reason?: RuleError['reason'],
  ): void {
    this.errorCount++;
    if (this.ruleErrors.length >= 100) this.ruleErrors.shift();
    const record: RuleError = {
      policy: rule.policy,
      rule: rule.rule,
      eventId: event.id,
      reason: reason ?? ruleErrorReasonOf(error),
      message: error instanceof Error ? error.message : String(error),
    };
    if (rule.policyNamespace !== undefined) record.policyNamespace = rule.policyNamespace;
    this.ruleErrors.push(record);
  }
}

/**
 * Per-event values shared by every rule that can fire on the event, each built on first use: a rule
 * decided by the event alone never builds the attribution, the resource or its facts.
 */
class Evaluation {
  private viewCache: KubeObject | undefined;
  private eventViewCache: Record<string, unknown> | undefined;
  private eventContextCache: Record<string, unknown> | undefined;
  private contextCache: Record<string, unknown> | undefined;
  private celCache: Record<string, unknown> | undefined;
  private validatingCache: Record<string, unknown> | undefined;

  constructor(
    readonly event: RuntimeEvent,
    private readonly lookup: PodLookup | undefined,
    private readonly nodeName: string | undefined,
    readonly matchOptions: MatchOptions,
    /** Set when the event is attributed to a Pod synthesised in this namespace (no cluster). */
    readonly synthesisedPodNamespace: string | undefined,
    private attributionCache?: Attribution,
    /** What match/exclude read of the attributed resource. */
    private factsCache?: ResourceFacts,
  ) {}

  get attribution(): Attribution {
    return (this.attributionCache ??= attributeEvent(this.event, this.lookup, this.nodeName));
  }

  get facts(): ResourceFacts {
    return (this.factsCache ??= attributionFacts(this.attribution));
  }

  get view(): KubeObject {
    return (this.viewCache ??= runtimeView(this.attribution, this.event));
  }

  /**
   * The view and the variable context reduced to `behavior` and `event` (the same values as in the
   * full ones), for parts that read nothing else (event-only.ts): the resource is not built for them.
   */
  get eventView(): Record<string, unknown> {
    return (this.eventViewCache ??= { behavior: [this.event.behavior], event: this.event });
  }

  get eventContext(): Record<string, unknown> {
    return (this.eventContextCache ??= { event: this.event, behavior: this.event.behavior });
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

  /** CEL exceptions' activation: the rule's, plus `namespaceObject` (from the cluster's namespace labels). */
  exceptionActivation(lookup: PodLookup | undefined): Record<string, unknown> {
    const namespace = this.attribution.ref.namespace;
    const labels = namespace ? lookup?.namespaceLabels(namespace) : undefined;
    return {
      ...this.celActivation,
      namespaceObject:
        namespace !== undefined && namespace !== ''
          ? { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace, labels: labels ?? {} } }
          : null,
    };
  }

  /**
   * The bindings of a RuntimeValidatingPolicy (CEL values; `params` added per rule), shared by every
   * such rule on this event and built binding by binding on first read (ValidatingBindings).
   */
  validatingBindings(projectEvent: EventProjection): Record<string, unknown> {
    return (this.validatingCache ??= new ValidatingBindings(this, projectEvent) as unknown as Record<
      string,
      unknown
    >);
  }

  /** The attributed object's namespace as a Namespace object (labels as known), or null. */
  get namespaceObject(): Record<string, unknown> | null {
    const name = this.attribution.ref.namespace;
    if (name === undefined || name === '') return null;
    const labels = this.matchOptions.namespaceLabels ?? this.lookup?.namespaceLabels(name) ?? {};
    return { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels: { ...labels } } };
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

/** The tool's payload is converted for CEL only when an expression reads `event.raw`. */
const LAZY_EVENT_KEYS: ReadonlySet<string> = new Set(['raw']);

type EventProjection = (event: Record<string, unknown>) => unknown;

/** Read whole (`event.all(...)`, `string(event)`): everything, the tool's payload on first read. */
function eventProjection(tree: FieldTree): EventProjection {
  if (tree.whole) return (event) => toCelOnce(event, LAZY_EVENT_KEYS);
  return compileProjection(tree);
}

/**
 * Each binding is built and converted to CEL values on first read, once per event: most
 * expressions read `event` alone, and the object (a pod synthesised from the event, without a
 * cluster), its namespace and the request are then never built. The event is converted without
 * memoising its parts (it lives for one evaluation).
 */
class ValidatingBindings extends PreparedActivation {
  private eventValue: unknown;
  private objectValue: unknown;
  private namespaceValue: unknown;
  private requestValue: unknown;

  constructor(
    private readonly evaluation: Evaluation,
    private readonly projectEvent: EventProjection,
  ) {
    super();
  }

  get event(): unknown {
    const event = this.evaluation.event as unknown as Record<string, unknown>;
    // Read whole (`event.all(...)`, `string(event)`): everything, the tool's payload on first read.
    return (this.eventValue ??= this.projectEvent(event));
  }

  get object(): unknown {
    return (this.objectValue ??= toCel(this.evaluation.attribution.resource));
  }

  get oldObject(): null {
    return null;
  }

  get namespaceObject(): unknown {
    return (this.namespaceValue ??= toCel(this.evaluation.namespaceObject));
  }

  get request(): unknown {
    return (this.requestValue ??= toCel(this.evaluation.context.request));
  }

  get behavior(): string {
    return this.evaluation.event.behavior;
  }

  get params(): null {
    return null;
  }

  /**
   * The bindings as JSON, before conversion, for CEL's direct evaluator (cel/fast-path.ts): an
   * expression it decides never converts the event.
   */
  [RAW_BINDING](name: string): unknown {
    switch (name) {
      case 'event':
        return this.evaluation.event;
      case 'object':
        return this.evaluation.attribution.resource;
      case 'behavior':
        return this.evaluation.event.behavior;
      default:
        return NOT_RAW;
    }
  }
}

function evaluateRule(
  rule: RuntimeRule,
  evaluation: Evaluation,
  shared: SharedOutcomes,
  provider: ContextProvider | undefined,
): Verdict | undefined {
  const { compiled, restrict } = rule;
  // A rule with `context` entries reads its own context: nothing it computes from it is shared.
  const ruleContext = compiled.context.length > 0 ? contextOf(rule, evaluation, provider) : undefined;
  // The shared context is read only by the parts that need it: building it builds the attributed
  // resource, which a rule decided by the event alone never needs.
  if (compiled.preconditions && !compiled.preconditions.evaluate(ruleContext ?? evaluation.context).result)
    return undefined;
  // The CEL activation (and the resource it holds) is built only for rules that have CEL.
  const activation =
    restrict.cel !== undefined
      ? withVariables(restrict.cel, evaluation.celActivation)
      : compiled.celPreconditions.length > 0
        ? evaluation.celActivation
        : undefined;
  const celOptions = provider?.cel ? { host: provider.cel } : undefined;
  if (activation !== undefined)
    for (const pre of compiled.celPreconditions)
      if (pre.program.evaluate(activation, celOptions) !== true) return undefined;

  // A restrict pattern describes what is forbidden: a match is a violation.
  if (restrict.pattern) {
    if (!shared.get(rule.shared.pattern, staticPatternMatches, rule, evaluation)) return undefined;
  } else if (restrict.patternTemplate) {
    // A pattern with variables is rendered for each event, so it is never shared.
    const pattern = compilePattern(restrict.patternTemplate.render(ruleContext ?? evaluation.context), {
      references: false,
    });
    if (!pattern.test(evaluation.view)) return undefined;
  }
  if (ruleContext !== undefined) {
    if (restrict.conditions && !restrict.conditions.evaluate(ruleContext).result) return undefined;
  } else if (restrict.conditions && !shared.get(rule.shared.conditions, conditionsHold, rule, evaluation))
    return undefined;
  if (restrict.cel !== undefined && activation !== undefined)
    for (const e of restrict.cel.expressions)
      if (e.program.evaluate(activation, celOptions) !== true) return undefined;

  return verdictOf(
    rule,
    evaluation,
    ruleContext !== undefined
      ? renderMessageIn(rule, ruleContext)
      : shared.get(rule.shared.message, renderMessage, rule, evaluation),
  );
}

function evaluateValidatingRule(
  rule: RuntimeRule,
  evaluation: Evaluation,
  options: RuntimeEngineOptions,
  projectEvent: EventProjection,
): Verdict | undefined {
  const v = rule.restrict.validating!;
  const params = v.params
    ? resolveParams(v.params, options.params, rule.policyNamespace, evaluation.attribution.ref.namespace)
    : undefined;
  const violation = evaluateValidating(v, evaluation.validatingBindings(projectEvent), params, rule.policy);
  if (!violation) return undefined;
  const verdict = verdictOf(rule, evaluation, violation.message);
  if (violation.annotations) verdict.annotations = violation.annotations;
  return verdict;
}

function verdictOf(rule: RuntimeRule, evaluation: Evaluation, message: string): Verdict {
  const { event, attribution } = evaluation;
  const verdict: Verdict = {
    policy: rule.policy,
    rule: rule.rule,
    mode: rule.mode,
    resource: attribution.ref,
    behavior: event.behavior,
    message,
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

// The parts below take the rule and the evaluation as arguments (SharedOutcomes.get memoises them
// per event without a closure per call).

function ruleMatches(rule: RuntimeRule, evaluation: Evaluation): boolean {
  // A kinds-and-namespaces match reads nothing else: a synthesised pod is not built for it.
  const podNamespace = evaluation.synthesisedPodNamespace;
  if (podNamespace !== undefined && rule.kindNamespaceMatch)
    return rule.kindNamespaceMatch.testPod(podNamespace);
  return rule.matches(evaluation.facts, evaluation.matchOptions);
}

function staticPatternMatches(rule: RuntimeRule, evaluation: Evaluation): boolean {
  return rule.restrict.pattern!.test(rule.patternReadsOnlyEvent ? evaluation.eventView : evaluation.view);
}

function conditionsHold(rule: RuntimeRule, evaluation: Evaluation): boolean {
  const context = rule.conditionsReadOnlyEvent ? evaluation.eventContext : evaluation.context;
  return rule.restrict.conditions!.evaluate(context).result;
}

function renderMessage(rule: RuntimeRule, evaluation: Evaluation): string {
  return renderMessageIn(rule, rule.messageReadsOnlyEvent ? evaluation.eventContext : evaluation.context);
}

/** The rule's variable context plus its `context` entries, loaded for this event. */
function contextOf(
  rule: RuntimeRule,
  evaluation: Evaluation,
  provider: ContextProvider | undefined,
): Record<string, unknown> {
  const base = evaluation.context;
  // Entries are set by (dotted) name: copy the levels they may write into, never the shared ones.
  const ctx: Record<string, unknown> = { ...base, request: { ...(base.request as Record<string, unknown>) } };
  loadRuntimeContext(rule.compiled.context, ctx, provider);
  return ctx;
}

function renderMessageIn(rule: RuntimeRule, context: Record<string, unknown>): string {
  const template = rule.restrict.message;
  if (!template) return rule.messageText;
  try {
    const rendered = template.render(context);
    const text = typeof rendered === 'string' ? rendered : JSON.stringify(rendered);
    // Event data in a message is bounded before it reaches reports, logs and actions.
    return capRendered(text, MAX_MESSAGE_LENGTH, 'message');
  } catch {
    // A message whose variable is missing on this event still reports the violation, unrendered.
    return rule.messageText;
  }
}

/**
 * The union of the `event` paths the RuntimeValidatingPolicies read: the per-event activation is
 * shared by all of them, so it carries the union.
 */
function validatingEventFields(rules: readonly RuntimeRule[]): FieldTree {
  const out = emptyFieldTree();
  for (const rule of rules)
    if (rule.restrict.validating) mergeFieldTree(out, rule.restrict.validating.eventFields);
  return out;
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
  return { behaviors, filePathPrefixes: prefixes, rules: rules.map(sensorRuleView) };
}

/** The rule as data for the sensor's in-kernel enforcement, with what only this engine can decide. */
function sensorRuleView(rule: RuntimeRule): SensorRuleView {
  const c = rule.compiled;
  const raw = c.raw;
  const needsEngine: string[] = [];
  if (c.context.length > 0) needsEngine.push('context entries');
  if (c.preconditions) needsEngine.push('preconditions');
  if (c.celPreconditions.length > 0) needsEngine.push('CEL preconditions');
  if (rule.restrict.conditions) needsEngine.push('conditions (JMESPath variables)');
  if (rule.restrict.cel) needsEngine.push('CEL expressions');
  if (rule.restrict.patternTemplate) needsEngine.push('a pattern with {{ }} variables');
  if (c.autogen) needsEngine.push('an autogen rule');
  const view: SensorRuleView = {
    policy: rule.policy,
    rule: rule.rule,
    mode: rule.mode,
    behaviors: [...rule.behaviors],
    actions: rule.restrict.actions,
    pattern: (raw.restrict as { pattern?: unknown } | undefined)?.pattern,
    match: raw.match,
    exclude: raw.exclude,
    needsEngine,
  };
  if (rule.policyNamespace !== undefined) view.namespace = rule.policyNamespace;
  return view;
}

/** Compiles the policies' restrict rules once and returns an engine over them. */
export function createRuntimeEngine(
  policies: readonly CompiledPolicy[],
  options: RuntimeEngineOptions = {},
): RuntimeEngine {
  return new IndexedRuntimeEngine(compileRuntimePolicies(policies), options);
}
