/**
 * The cluster agent's kill-trust vocabulary, apart from the assembly so that the command line can
 * parse `--kill-trusted-sources` without loading the Kubernetes client.
 */

/** Inputs of the cluster agent an operator may trust to name host processes (--kill-trusted-sources). */
export const KILL_TRUSTABLE_SOURCES = ['tetragon-file', 'tetragon-grpc', 'http'] as const;
export type KillTrustableSource = (typeof KILL_TRUSTABLE_SOURCES)[number];
