/**
 * `block` rules compiled for the kernel: what the policy loader produces from a `network-connect`
 * rule's conditions, and what the cgroup connect program's loader writes into its maps. The limits
 * are the program's map sizes (one generation; the maps hold two so a reload can be flipped at once).
 */

/** Kernel rules per policy set (the program walks them in order; the first match denies). */
export const KERNEL_BLOCK_MAX_RULES = 256;
/** Port ranges kept inside one rule (single ports go to the port map). */
export const KERNEL_BLOCK_MAX_RANGES = 8;
/** IPv4 / IPv6 prefixes (LPM trie entries) and single ports (hash entries) per policy set. */
export const KERNEL_BLOCK_MAX_CIDR4 = 8192;
export const KERNEL_BLOCK_MAX_CIDR6 = 8192;
export const KERNEL_BLOCK_MAX_PORTS = 8192;

export type KernelBlockProtocol = 'tcp' | 'udp';

/** Which processes a kernel rule applies to, by the cgroup v2 they run in. */
export type KernelBlockScope =
  | { kind: 'all' }
  | { kind: 'cgroup-id'; id: string }
  /** A path below the cgroup v2 root: that cgroup (`below: false`) or only its descendants. */
  | { kind: 'cgroup-path'; path: string; below: boolean };

/** One conjunction the program checks: scope ∧ protocol ∧ port ∧ address. */
export interface KernelBlockRule {
  policy: string;
  policyNamespace?: string;
  rule: string;
  scope: KernelBlockScope;
  /** Empty: every protocol. */
  protocols: KernelBlockProtocol[];
  /** Inclusive ranges; undefined: every port. */
  ports?: { lo: number; hi: number }[];
  /** The rule denies ports NOT in `ports` (AnyNotIn / NotEquals). */
  portsNegated?: boolean;
  /** CIDRs ("10.0.0.0/8", "::1/128"); undefined: every address. */
  cidrs?: string[];
  /** The rule denies addresses NOT in `cidrs`. */
  cidrsNegated?: boolean;
}

/** How a restrict rule with `block` is enforced, as `validate`, `run` and `/api/policies` show it. */
export type KernelBlockPlan =
  | { enforcement: 'kernel'; rules: KernelBlockRule[] }
  /** Not compilable, but the rule also asks for `kill`: that (user-space) kill is all that acts. */
  | { enforcement: 'user-space-kill'; reason: string };
