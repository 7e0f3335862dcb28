/** Per (policy, rule, resource) results, as Kyverno reports them. */
export type RuleStatus = 'pass' | 'fail' | 'warn' | 'error' | 'skip';

export interface RuleResult {
  policy: string;
  /** Set for namespaced Policy/RuntimePolicy. */
  policyNamespace?: string;
  rule: string;
  /** For autogen rules: the rule they were generated from. */
  autogenOf?: string;
  status: RuleStatus;
  message: string;
  failureAction: 'Audit' | 'Enforce';
  /** False when the policy is annotated `policies.kyverno.io/scored: "false"` (fail is then reported as warn). */
  scored: boolean;
  severity?: string;
  category?: string;
  /** The PolicyException (`namespace/name`) that turned the result into `skip`. */
  exception?: string;
  /** ValidatingPolicy auditAnnotations, keyed `<policy>/<key>` as admission records them. */
  auditAnnotations?: Record<string, string>;
}

/** Internal outcome of one evaluation step, before policy-level mapping (scored → warn). */
export interface Outcome {
  auditAnnotations?: Record<string, string>;
  status: Exclude<RuleStatus, 'warn'>;
  message: string;
}

export const errorMessage = (e: unknown): string => (e instanceof Error ? e.message : String(e));
