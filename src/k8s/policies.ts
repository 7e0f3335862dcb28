/**
 * Policies from the cluster: ClusterRuntimePolicy, RuntimePolicy, RuntimeValidatingPolicy and
 * NamespacedRuntimeValidatingPolicy objects are watched, compiled
 * with the same loader as policy files (loadPolicyText; JSON is YAML), and handed to `onChange` as a
 * complete set — the caller swaps its engine, no restart. Each policy's status gets a `Ready`
 * condition (True, or False with the compile errors) and `observedGeneration`, written through the
 * status subresource when `writeStatus()` allows it (the leader, in a replicated Deployment).
 */
import { CustomObjectsApi, PatchStrategy, setHeaderOptions, type KubeConfig } from '@kubernetes/client-node';
import { apiClient } from './api-clients.js';
import type { CompiledPolicy } from '../engine/api/compiled-policy.js';
import { formatPolicyError, loadPolicyText } from '../policy/index.js';
import type { Logger } from '../observability/logger.js';
import { k8sApiRequests, policiesLoaded, policyErrors } from '../observability/metrics.js';
import { apiStatus } from './errors.js';
import { Reflector, reflectorSettings } from './reflector.js';

export const POLICY_GROUP = 'runtime.kyverno.io';
export const POLICY_VERSION = 'v1alpha1';

interface PolicyObject {
  apiVersion?: string;
  kind?: string;
  metadata?: {
    name?: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    generation?: number;
    managedFields?: unknown;
  };
  spec?: unknown;
  status?: {
    observedGeneration?: number;
    conditions?: {
      type: string;
      status: string;
      message?: string;
      reason?: string;
      lastTransitionTime?: string;
    }[];
  };
}

export interface PolicyWatcherOptions {
  kubeConfig: KubeConfig;
  onChange: (policies: CompiledPolicy[]) => void;
  /** Whether this replica may write status (default: always). */
  writeStatus?: () => boolean;
  /**
   * Without a leader (a DaemonSet: every node compiles the same policies), wait a random delay up
   * to this long before writing a status, then write only if no other agent has written it
   * meanwhile (seen through the watch): a handful of writes per change instead of one per node,
   * with no Lease to poll. 0 (default): write at once.
   */
  statusSpreadMs?: number;
  /** Coalesce bursts of changes (default 100 ms). */
  debounceMs?: number;
  relistIntervalMs?: number;
  stallTimeoutMs?: number;
  backoffInitialMs?: number;
  logger?: Logger;
}

export interface PolicyStatusEntry {
  ready: boolean;
  message: string;
}

/** The watched kinds: plural (for the API) by kind, and whether they are namespaced. */
const WATCHED: readonly { kind: string; plural: string; namespaced: boolean }[] = [
  { kind: 'ClusterRuntimePolicy', plural: 'clusterruntimepolicies', namespaced: false },
  { kind: 'RuntimePolicy', plural: 'runtimepolicies', namespaced: true },
  { kind: 'RuntimeValidatingPolicy', plural: 'runtimevalidatingpolicies', namespaced: false },
  {
    kind: 'NamespacedRuntimeValidatingPolicy',
    plural: 'namespacedruntimevalidatingpolicies',
    namespaced: true,
  },
];

export class PolicyWatcher {
  readonly clusterPolicies: Reflector<PolicyObject>;
  readonly namespacedPolicies: Reflector<PolicyObject>;
  readonly validatingPolicies: Reflector<PolicyObject>;
  readonly namespacedValidatingPolicies: Reflector<PolicyObject>;
  private readonly reflectors: Reflector<PolicyObject>[];
  private readonly api: CustomObjectsApi;
  private timer: NodeJS.Timeout | undefined;
  private current: CompiledPolicy[] = [];
  /** Last status written per object uid: "generation|ready|message". */
  private readonly written = new Map<string, string>();
  private lastStatuses: [PolicyObject, PolicyStatusEntry][] = [];
  private readonly spreadTimers = new Set<NodeJS.Timeout>();

  constructor(private readonly opts: PolicyWatcherOptions) {
    this.api = apiClient(opts.kubeConfig, CustomObjectsApi);
    const common = reflectorSettings(opts);
    const reflectors = WATCHED.map(
      ({ kind, plural, namespaced }) =>
        new Reflector<PolicyObject>({
          ...common,
          resource: plural,
          path: `/apis/${POLICY_GROUP}/${POLICY_VERSION}/${plural}`,
          // A real API server omits apiVersion/kind on list items; the loader needs them.
          typeMeta: { apiVersion: `${POLICY_GROUP}/${POLICY_VERSION}`, kind },
          list: (s) =>
            (namespaced
              ? this.api.listCustomObjectForAllNamespaces({
                  group: POLICY_GROUP,
                  version: POLICY_VERSION,
                  plural,
                  ...s,
                })
              : this.api.listClusterCustomObject({
                  group: POLICY_GROUP,
                  version: POLICY_VERSION,
                  plural,
                  ...s,
                })) as Promise<{ items: PolicyObject[] }>,
        }),
    );
    this.reflectors = reflectors;
    [
      this.clusterPolicies,
      this.namespacedPolicies,
      this.validatingPolicies,
      this.namespacedValidatingPolicies,
    ] = reflectors as [
      Reflector<PolicyObject>,
      Reflector<PolicyObject>,
      Reflector<PolicyObject>,
      Reflector<PolicyObject>,
    ];
    for (const r of reflectors) {
      r.on('add', () => this.schedule());
      r.on('update', (o, old) => {
        // Our own status writes come back as updates: recompile only when the spec moved.
        if (
          o.metadata?.generation !== old?.metadata?.generation ||
          JSON.stringify(o.spec) !== JSON.stringify(old?.spec)
        )
          this.schedule();
      });
      r.on('delete', () => this.schedule());
    }
  }

  get policies(): readonly CompiledPolicy[] {
    return this.current;
  }

  async start(timeoutMs = 30_000): Promise<void> {
    await Promise.all(this.reflectors.map((r) => r.start(timeoutMs)));
    this.recompile();
  }

  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    for (const t of this.spreadTimers) clearTimeout(t);
    this.spreadTimers.clear();
    await Promise.all(this.reflectors.map((r) => r.stop()));
  }

  get synced(): boolean {
    return this.reflectors.every((r) => r.synced);
  }

  private schedule(): void {
    if (!this.synced) return; // start() compiles once synced
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.recompile();
    }, this.opts.debounceMs ?? 100);
    this.timer.unref();
  }

  /** Compiles every policy object; a bad one never stops the others. */
  recompile(): void {
    const compiled: CompiledPolicy[] = [];
    let failed = 0;
    const statuses: [PolicyObject, PolicyStatusEntry][] = [];
    for (const obj of this.reflectors.flatMap((r) => r.list())) {
      const { status: _status, ...rest } = obj;
      const metadata = { ...(rest.metadata ?? {}) };
      delete metadata.managedFields;
      const file = `cluster:${obj.kind ?? ''}/${metadata.namespace !== undefined ? `${metadata.namespace}/` : ''}${metadata.name ?? ''}`;
      const result = loadPolicyText(JSON.stringify({ ...rest, metadata }, null, 1), file);
      if (result.errors.length > 0 || result.policies.length !== 1) {
        failed++;
        const message = result.errors.map(formatPolicyError).join('; ') || 'not a policy document';
        statuses.push([obj, { ready: false, message }]);
        this.opts.logger?.warn({ policy: file, errors: result.errors.length }, 'policy rejected');
      } else {
        compiled.push(...result.policies);
        statuses.push([obj, { ready: true, message: `compiled ${countRules(result.policies[0]!)} rules` }]);
      }
    }
    this.current = compiled;
    policiesLoaded.set(compiled.length);
    policyErrors.set(failed);
    this.opts.onChange(compiled);
    this.lastStatuses = statuses;
    this.writeStatuses();
  }

  /** Writes the Ready conditions of the last compile (called again when this replica becomes leader). */
  writeStatuses(): void {
    if (!(this.opts.writeStatus?.() ?? true)) return;
    const spread = this.opts.statusSpreadMs ?? 0;
    for (const [obj, st] of this.lastStatuses) {
      if (spread <= 0) {
        void this.writeStatus(obj, st);
        continue;
      }
      const t = setTimeout(() => {
        this.spreadTimers.delete(t);
        // The cached object carries any status another agent wrote during the delay.
        const md = obj.metadata ?? {};
        const at = WATCHED.findIndex((w) => w.kind === obj.kind);
        const reflector = this.reflectors[at >= 0 ? at : md.namespace !== undefined ? 1 : 0]!;
        const latest = md.name !== undefined ? reflector.get(md.namespace, md.name) : undefined;
        if (latest !== undefined && latest.metadata?.uid === md.uid) void this.writeStatus(latest, st);
      }, Math.random() * spread);
      t.unref();
      this.spreadTimers.add(t);
    }
  }

  private async writeStatus(obj: PolicyObject, st: PolicyStatusEntry): Promise<void> {
    const md = obj.metadata ?? {};
    const generation = md.generation ?? 1;
    const key = `${generation}|${st.ready}|${st.message}`;
    if (md.uid === undefined || md.name === undefined || this.written.get(md.uid) === key) return;
    const existing = obj.status?.conditions?.find((c) => c.type === 'Ready');
    const statusText = st.ready ? 'True' : 'False';
    if (
      obj.status?.observedGeneration === generation &&
      existing?.status === statusText &&
      existing.message === st.message.slice(0, 32768)
    ) {
      this.written.set(md.uid, key);
      return;
    }
    const body = {
      status: {
        observedGeneration: generation,
        ready: st.ready,
        conditions: [
          {
            type: 'Ready',
            status: statusText,
            observedGeneration: generation,
            lastTransitionTime:
              existing?.status === statusText && existing.lastTransitionTime !== undefined
                ? existing.lastTransitionTime
                : new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
            reason: st.ready ? 'Compiled' : 'Invalid',
            message: st.message.slice(0, 32768),
          },
        ],
      },
    };
    const headers = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
    const watched = WATCHED.find((w) => w.kind === obj.kind);
    const plural =
      watched?.plural ?? (md.namespace !== undefined ? 'runtimepolicies' : 'clusterruntimepolicies');
    try {
      if (md.namespace !== undefined) {
        await this.api.patchNamespacedCustomObjectStatus(
          {
            group: POLICY_GROUP,
            version: POLICY_VERSION,
            plural,
            namespace: md.namespace,
            name: md.name,
            body,
          },
          headers,
        );
      } else {
        await this.api.patchClusterCustomObjectStatus(
          {
            group: POLICY_GROUP,
            version: POLICY_VERSION,
            plural,
            name: md.name,
            body,
          },
          headers,
        );
      }
      this.written.set(md.uid, key);
      k8sApiRequests.inc({ purpose: 'policy-status', outcome: 'succeeded' });
    } catch (err) {
      k8sApiRequests.inc({ purpose: 'policy-status', outcome: 'failed' });
      const s = apiStatus(err);
      this.opts.logger?.warn(
        { policy: md.name, code: s.code, reason: s.reason, err: s.message },
        'policy status not written',
      );
    }
  }
}

function countRules(p: CompiledPolicy): number {
  return p.rules.length;
}
