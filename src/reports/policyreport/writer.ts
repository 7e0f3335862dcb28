/**
 * Writes one PolicyReport per resource, named `runtime-<resource uid>` (ClusterPolicyReport for
 * cluster-scoped resources such as Nodes), with `scope` and an ownerReference so the report is
 * garbage-collected with its resource.
 *
 * - Coalesced: verdicts only update memory; a report is written at most once per `minIntervalMs`
 *   (10 s; `cluster --report-interval`), whatever the event rate, and only when what it would write
 *   differs from what was last written (counts, results, outcomes).
 * - Scored: a policy annotated `policies.kyverno.io/scored: "false"` reports `warn`, unscored, as
 *   Kyverno does; every result carries a stable `properties.resultID`.
 * - Conflicts: a write is an update carrying the resourceVersion we last saw; on 409 the report is
 *   read again, our unwritten counts merged into it, and the update retried.
 * - Outages: counts not yet written stay in memory (`pendingCount`) and are added on the next
 *   successful write, with backoff while the API server is unreachable. Memory is bounded by
 *   `maxReports`; beyond it new results are dropped and counted (reason `buffer-full`).
 * - Size: at most `maxResults` (1000) results per report, newest kept; the serialised object is kept
 *   under `maxBytes` (768 KiB), far under etcd's 1.5 MiB. Dropped results are counted
 *   (kyverno_runtime_report_results_dropped_total, reasons `result-limit`, `size-limit`).
 */
import { CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import type { ActionOutcome } from '../../contracts/actions.js';
import type { ResourceRef, Verdict } from '../../contracts/verdict.js';
import { apiStatus, isTransient } from '../../k8s/errors.js';
import { apiClient } from '../../k8s/api-clients.js';
import type { Logger } from '../../observability/logger.js';
import { ruleKey } from '../../contracts/keys.js';
import { DEFAULT_MAX_REPORT_BYTES, DEFAULT_MAX_RESULTS, DEFAULT_REPORT_INTERVAL_MS } from './defaults.js';
import { reportPending, reportResultsDropped, reportWrites } from '../../observability/metrics.js';
import {
  newResultState,
  observe,
  readExisting,
  recordOutcome,
  REPORT_SOURCE,
  toResult,
  type PolicyReportResult,
  type ResultState,
} from './result.js';

export type ReportFlavor = 'wgpolicyk8s' | 'openreports';

interface ReportApi {
  group: string;
  version: string;
  namespacedPlural: string;
  clusterPlural: string;
  namespacedKind: string;
  clusterKind: string;
}

const APIS: Record<ReportFlavor, ReportApi> = {
  wgpolicyk8s: {
    group: 'wgpolicyk8s.io',
    version: 'v1alpha2',
    namespacedPlural: 'policyreports',
    clusterPlural: 'clusterpolicyreports',
    namespacedKind: 'PolicyReport',
    clusterKind: 'ClusterPolicyReport',
  },
  openreports: {
    group: 'openreports.io',
    version: 'v1alpha1',
    namespacedPlural: 'reports',
    clusterPlural: 'clusterreports',
    namespacedKind: 'Report',
    clusterKind: 'ClusterReport',
  },
};

export interface PolicyReportWriterOptions {
  kubeConfig: KubeConfig;
  flavor?: ReportFlavor;
  /** At most one write per report per this interval (default DEFAULT_REPORT_INTERVAL_MS). */
  minIntervalMs?: number;
  /** False for a policy (policyKey) annotated `policies.kyverno.io/scored: "false"`. Default: all scored. */
  scored?: (policyKey: string) => boolean;
  /** Reports held in memory with unwritten results (default 10000). */
  maxReports?: number;
  maxResults?: number;
  maxBytes?: number;
  /** Concurrent report writes (default 8). */
  concurrency?: number;
  /**
   * True while latency-critical API requests (response actions) are in flight: no new report write
   * starts then (a flush still does), so the action's request and its answer do not queue behind
   * report bodies on this event loop or on the API server. Held back for at most `maxHoldMs`.
   */
  holdBack?: () => boolean;
  /** Longest a pending write waits for `holdBack` (default 250 ms), so a steady stream of actions cannot starve reports. */
  maxHoldMs?: number;
  /**
   * Called once when a resource's report gains a (policy, rule) result it did not hold, e.g. to
   * raise a violation Event (violation-events.ts); the writer itself only writes reports.
   */
  onNewResult?: (v: Verdict) => void;
  logger?: Logger;
}

interface ReportDoc {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    resourceVersion?: string;
    labels?: Record<string, string>;
    ownerReferences?: { apiVersion: string; kind: string; name: string; uid: string }[];
  };
  scope?: Record<string, string>;
  summary?: Record<string, number>;
  results?: (
    | PolicyReportResult
    | (Record<string, unknown> & {
        policy: string;
        rule?: string;
        source?: string;
        timestamp?: { seconds: number };
      })
  )[];
  source?: string;
}

interface ReportState {
  name: string;
  ref: ResourceRef & { uid: string };
  results: Map<string, ResultState>;
  /** Bumped on every change; a write that started at version v leaves the report dirty if it moved on. */
  version: number;
  writtenVersion: number;
  server: ReportDoc | undefined;
  lastWriteAt: number;
  nextAttemptAt: number;
  failures: number;
  writing: boolean;
  /** What the last successful write sent, less the resourceVersion: an identical body is not sent again. */
  lastBody: string | undefined;
}

export const MANAGED_BY = { 'app.kubernetes.io/managed-by': 'kyverno-runtime' };

/** The report's summary: results by their `result`. */
function summarise(results: readonly object[]): Record<string, number> {
  const summary = { pass: 0, fail: 0, warn: 0, error: 0, skip: 0 };
  for (const { result } of results as { result?: unknown }[]) {
    const k =
      typeof result === 'string' && Object.hasOwn(summary, result)
        ? (result as keyof typeof summary)
        : 'fail';
    summary[k]++;
  }
  return summary;
}

/** What a reader sees of a report body, for the unchanged check (not its resourceVersion). */
function contentOf(doc: ReportDoc): string {
  return JSON.stringify({ ...doc, metadata: { ...doc.metadata, resourceVersion: undefined } });
}

export function reportName(uid: string): string {
  return `runtime-${uid}`;
}

export class PolicyReportWriter {
  private readonly api: CustomObjectsApi;
  private readonly flavor: ReportApi;
  private readonly reports = new Map<string, ReportState>();
  private readonly dirty = new Set<string>();
  private readonly timer: NodeJS.Timeout;
  private inFlight = 0;
  /** When `holdBack` started holding writes back (0: not holding). */
  private heldSince = 0;
  private readonly idleWaiters: (() => void)[] = [];
  private readonly minIntervalMs: number;

  constructor(private readonly opts: PolicyReportWriterOptions) {
    this.api = apiClient(opts.kubeConfig, CustomObjectsApi);
    this.flavor = APIS[opts.flavor ?? 'wgpolicyk8s'];
    this.minIntervalMs = opts.minIntervalMs ?? DEFAULT_REPORT_INTERVAL_MS;
    this.timer = setInterval(() => this.tick(), Math.max(10, Math.min(100, this.minIntervalMs / 4)));
    this.timer.unref();
  }

  /** Folds a verdict into its resource's report. Returns false when it had to be dropped. */
  record(v: Verdict): boolean {
    const uid = v.resource.uid;
    if (uid === undefined || uid === '' || v.synthetic === true) {
      reportResultsDropped.inc({ reason: 'no-uid' });
      return false;
    }
    let report = this.reports.get(uid);
    if (!report) {
      if (this.reports.size >= (this.opts.maxReports ?? 10_000) && !this.evictClean()) {
        reportResultsDropped.inc({ reason: 'buffer-full' });
        return false;
      }
      report = {
        name: reportName(uid),
        ref: { ...v.resource, uid },
        results: new Map(),
        version: 0,
        writtenVersion: 0,
        server: undefined,
        lastWriteAt: 0,
        nextAttemptAt: 0,
        failures: 0,
        writing: false,
        lastBody: undefined,
      };
      this.reports.set(uid, report);
    }
    const key = ruleKey(v);
    let state = report.results.get(key);
    if (!state) {
      state = newResultState(v);
      report.results.set(key, state);
      this.opts.onNewResult?.(v);
    }
    observe(state, v);
    this.touch(uid, report);
    return true;
  }

  /** Adds action outcomes to the verdict's result (written with the next report write). */
  recordOutcomes(v: Verdict, outcomes: readonly ActionOutcome[]): void {
    const uid = v.resource.uid;
    if (uid === undefined) return;
    const report = this.reports.get(uid);
    const state = report?.results.get(ruleKey(v));
    if (!report || !state) return;
    for (const o of outcomes) recordOutcome(state, o);
    this.touch(uid, report);
  }

  /** Writes everything pending now (ignoring the coalescing interval) and waits for it. */
  async flush(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.dirty.size > 0 || this.inFlight > 0) {
      if (Date.now() > deadline)
        throw new Error(`report flush timed out with ${this.dirty.size} reports pending`);
      this.tick(true);
      await new Promise<void>((resolve) => {
        this.idleWaiters.push(resolve);
        setTimeout(resolve, 50).unref();
      });
    }
  }

  get pendingReports(): number {
    return this.dirty.size;
  }

  close(): void {
    clearInterval(this.timer);
  }

  private touch(uid: string, report: ReportState): void {
    report.version++;
    this.dirty.add(uid);
    reportPending.set(this.dirty.size);
  }

  /** Frees the slot of a report that has nothing left to write. */
  private evictClean(): boolean {
    for (const [uid, r] of this.reports) {
      if (!this.dirty.has(uid) && !r.writing) {
        this.reports.delete(uid);
        return true;
      }
    }
    return false;
  }

  private tick(force = false): void {
    const now = Date.now();
    if (!force && this.holding(now)) return;
    const concurrency = this.opts.concurrency ?? 8;
    for (const uid of this.dirty) {
      if (this.inFlight >= concurrency) break;
      const r = this.reports.get(uid);
      if (!r || r.writing) continue;
      if (!force && (now - r.lastWriteAt < this.minIntervalMs || now < r.nextAttemptAt)) continue;
      if (force && now < r.nextAttemptAt && r.failures > 0 && now - r.lastWriteAt < 100) continue;
      r.writing = true;
      this.inFlight++;
      void this.write(uid, r).finally(() => {
        r.writing = false;
        this.inFlight--;
        for (const w of this.idleWaiters.splice(0)) w();
      });
    }
  }

  /** Whether new writes wait for the actions in flight (bounded by maxHoldMs). */
  private holding(now: number): boolean {
    if (this.opts.holdBack?.() !== true) {
      this.heldSince = 0;
      return false;
    }
    if (this.heldSince === 0) this.heldSince = now;
    if (now - this.heldSince < (this.opts.maxHoldMs ?? 250)) return true;
    this.heldSince = 0; // held long enough: let this tick's writes out
    return false;
  }

  private async write(uid: string, r: ReportState): Promise<void> {
    const startVersion = r.version;
    const snapshot = new Map<ResultState, number>();
    for (const s of r.results.values()) snapshot.set(s, s.pendingCount);
    r.lastWriteAt = Date.now();
    try {
      for (let attempt = 0; attempt < 5; attempt++) {
        const body = this.build(r);
        const content = contentOf(body);
        if (r.server !== undefined && content === r.lastBody) {
          // Nothing a reader could see changed since the last write: no request.
          reportWrites.inc({ outcome: 'unchanged' });
          if (r.version === startVersion) this.dirty.delete(uid);
          reportPending.set(this.dirty.size);
          return;
        }
        try {
          const saved = (
            r.server === undefined ? await this.create(r, body) : await this.replace(r, body)
          ) as ReportDoc;
          reportWrites.inc({ outcome: r.server === undefined ? 'created' : 'updated' });
          r.server = saved;
          r.lastBody = content;
          for (const [s, n] of snapshot) {
            s.pendingCount -= n;
            s.writtenCount += n;
          }
          r.failures = 0;
          if (r.version === startVersion) this.dirty.delete(uid);
          reportPending.set(this.dirty.size);
          return;
        } catch (err) {
          const st = apiStatus(err);
          if (st.code === 409 || (st.code === 404 && r.server !== undefined)) {
            reportWrites.inc({ outcome: 'conflict' });
            r.server = await this.read(r);
            continue;
          }
          throw err;
        }
      }
      throw new Error('gave up after 5 conflicts');
    } catch (err) {
      const st = apiStatus(err);
      reportWrites.inc({ outcome: 'failed' });
      r.failures++;
      if (isTransient(err) || st.code === 409) {
        r.nextAttemptAt = Date.now() + Math.min(30_000, 500 * 2 ** Math.min(r.failures, 6));
        this.opts.logger?.warn(
          { report: r.name, code: st.code, reason: st.reason, err: st.message, failures: r.failures },
          'report write failed; will retry',
        );
      } else {
        // Rejected (e.g. 403 or 422): retrying the same body cannot help; drop these results.
        this.opts.logger?.error(
          { report: r.name, code: st.code, reason: st.reason, err: st.message },
          'report write rejected; results dropped',
        );
        reportResultsDropped.inc({ reason: 'rejected' }, r.results.size);
        this.dirty.delete(uid);
        this.reports.delete(uid);
      }
    }
  }

  private namespaced(r: ReportState): boolean {
    return r.ref.namespace !== undefined && r.ref.namespace !== '';
  }

  private async create(r: ReportState, body: ReportDoc): Promise<unknown> {
    try {
      if (this.namespaced(r)) {
        return await this.api.createNamespacedCustomObject({
          group: this.flavor.group,
          version: this.flavor.version,
          namespace: r.ref.namespace!,
          plural: this.flavor.namespacedPlural,
          body,
        });
      }
      return await this.api.createClusterCustomObject({
        group: this.flavor.group,
        version: this.flavor.version,
        plural: this.flavor.clusterPlural,
        body,
      });
    } catch (err) {
      // AlreadyExists: written by an earlier run of ours; read it and merge into it.
      if (apiStatus(err).code === 409) {
        r.server = await this.read(r);
        if (r.server !== undefined) return await this.replace(r, this.build(r));
      }
      throw err;
    }
  }

  private async replace(r: ReportState, body: ReportDoc): Promise<unknown> {
    if (this.namespaced(r)) {
      return this.api.replaceNamespacedCustomObject({
        group: this.flavor.group,
        version: this.flavor.version,
        namespace: r.ref.namespace!,
        plural: this.flavor.namespacedPlural,
        name: r.name,
        body,
      });
    }
    return this.api.replaceClusterCustomObject({
      group: this.flavor.group,
      version: this.flavor.version,
      plural: this.flavor.clusterPlural,
      name: r.name,
      body,
    });
  }

  private async read(r: ReportState): Promise<ReportDoc | undefined> {
    try {
      if (this.namespaced(r)) {
        return (await this.api.getNamespacedCustomObject({
          group: this.flavor.group,
          version: this.flavor.version,
          namespace: r.ref.namespace!,
          plural: this.flavor.namespacedPlural,
          name: r.name,
        })) as ReportDoc;
      }
      return (await this.api.getClusterCustomObject({
        group: this.flavor.group,
        version: this.flavor.version,
        plural: this.flavor.clusterPlural,
        name: r.name,
      })) as ReportDoc;
    } catch (err) {
      if (apiStatus(err).code === 404) return undefined;
      throw err;
    }
  }

  /** The report as it should be: the server's results merged with ours, bounded in count and size. */
  private build(r: ReportState): ReportDoc {
    const serverResults = new Map<string, NonNullable<ReportDoc['results']>[number]>();
    for (const res of r.server?.results ?? []) serverResults.set(`${res.policy}\u0000${res.rule ?? ''}`, res);
    const results: NonNullable<ReportDoc['results']> = [];
    for (const [key, state] of r.results) {
      const existing = serverResults.get(key) as { properties?: Record<string, string> } | undefined;
      serverResults.delete(key);
      const base = existing ? readExisting(existing) : { count: state.writtenCount, firstSeen: undefined };
      results.push(
        toResult(state, existing ? base.count : 0, base.firstSeen, {
          uid: r.ref.uid,
          scored: this.opts.scored?.(state.policy) ?? true,
        }),
      );
    }
    // Results we do not hold in memory (older rules, an earlier run) are kept as they are.
    results.push(...serverResults.values());
    results.sort((a, b) => (b.timestamp?.seconds ?? 0) - (a.timestamp?.seconds ?? 0));
    const max = this.opts.maxResults ?? DEFAULT_MAX_RESULTS;
    if (results.length > max) {
      reportResultsDropped.inc({ reason: 'result-limit' }, results.length - max);
      results.length = max;
    }
    const doc = this.envelope(r, results);
    const maxBytes = this.opts.maxBytes ?? DEFAULT_MAX_REPORT_BYTES;
    while (results.length > 1 && Buffer.byteLength(JSON.stringify(doc)) > maxBytes) {
      const drop = Math.max(1, Math.floor(results.length / 10));
      results.length -= drop;
      reportResultsDropped.inc({ reason: 'size-limit' }, drop);
      doc.summary = summarise(results);
    }
    results.sort((a, b) => `${a.policy}/${a.rule ?? ''}`.localeCompare(`${b.policy}/${b.rule ?? ''}`));
    return doc;
  }

  private envelope(r: ReportState, results: NonNullable<ReportDoc['results']>): ReportDoc {
    const ref = r.ref;
    const scope: Record<string, string> = {
      apiVersion: ref.apiVersion,
      kind: ref.kind,
      name: ref.name,
      uid: ref.uid,
    };
    if (this.namespaced(r)) scope.namespace = ref.namespace!;
    const doc: ReportDoc = {
      apiVersion: `${this.flavor.group}/${this.flavor.version}`,
      kind: this.namespaced(r) ? this.flavor.namespacedKind : this.flavor.clusterKind,
      metadata: {
        name: r.name,
        labels: { ...MANAGED_BY },
        ownerReferences: [{ apiVersion: ref.apiVersion, kind: ref.kind, name: ref.name, uid: ref.uid }],
      },
      scope,
      summary: summarise(results),
      results,
    };
    if (this.namespaced(r)) doc.metadata.namespace = ref.namespace!;
    if (r.server?.metadata.resourceVersion !== undefined)
      doc.metadata.resourceVersion = r.server.metadata.resourceVersion;
    if (this.flavor.group === 'openreports.io') doc.source = REPORT_SOURCE;
    return doc;
  }
}
