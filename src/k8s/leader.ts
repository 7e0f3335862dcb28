/**
 * Lease-based leader election (coordination.k8s.io/v1), following client-go's algorithm, since
 * client-node has none:
 * - acquire: create the Lease, or take it over when its holder has not renewed for
 *   leaseDurationSeconds — measured on OUR clock from when we last saw the record change (never by
 *   comparing the remote renewTime with our clock, which would trust clock skew);
 * - renew every retryPeriod with an update carrying the read resourceVersion (409 = lost a race);
 * - stop acting the moment a renew deadline is missed (isLeader() turns false by itself);
 * - release on stop() by clearing the holder, so failover is immediate.
 * Defaults are client-go's: lease 15 s, renew deadline 10 s, retry 2 s.
 */
import { CoordinationV1Api, V1MicroTime, type KubeConfig, type V1Lease } from '@kubernetes/client-node';
import { hostname } from 'node:os';
import { apiClient } from './api-clients.js';
import type { Logger } from '../observability/logger.js';
import { leaderStatus } from '../observability/metrics.js';
import { apiStatus } from './errors.js';
import { model } from './model.js';

interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds: number;
  acquireTime?: Date;
  renewTime?: Date;
  leaseTransitions: number;
}

export interface LeaderElectorOptions {
  kubeConfig: KubeConfig;
  namespace: string;
  name?: string;
  /** Unique per replica: the pod name in a cluster. */
  identity?: string;
  leaseDurationSeconds?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  onStartedLeading?: () => void;
  onStoppedLeading?: () => void;
  logger?: Logger;
}

export class LeaderElector {
  readonly identity: string;
  private readonly api: CoordinationV1Api;
  private readonly name: string;
  private readonly leaseSeconds: number;
  private readonly renewDeadlineMs: number;
  private readonly retryMs: number;
  private lastRenew = 0;
  private leading = false;
  private observed: { key: string; at: number } | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private inFlight: Promise<void> | undefined;

  constructor(private readonly opts: LeaderElectorOptions) {
    this.api = apiClient(opts.kubeConfig, CoordinationV1Api);
    this.identity = opts.identity ?? process.env.POD_NAME ?? hostname();
    this.name = opts.name ?? 'kyverno-runtime-leader';
    this.leaseSeconds = opts.leaseDurationSeconds ?? 15;
    this.renewDeadlineMs = opts.renewDeadlineMs ?? 10_000;
    this.retryMs = opts.retryPeriodMs ?? 2000;
  }

  /** True only while the lease was renewed within the renew deadline. */
  isLeader(): boolean {
    if (this.leading && Date.now() - this.lastRenew > this.renewDeadlineMs) this.setLeading(false);
    return this.leading;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    const loop = (): void => {
      this.inFlight = this.tryAcquireOrRenew().finally(() => {
        if (this.running) {
          this.timer = setTimeout(loop, this.retryMs);
          this.timer.unref();
        }
      });
    };
    loop();
  }

  /** Stops and, when leading, releases the lease so another replica takes over at once. */
  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    await this.inFlight;
    if (!this.leading) return;
    try {
      const lease = await this.api.readNamespacedLease({ name: this.name, namespace: this.opts.namespace });
      if (lease.spec?.holderIdentity === this.identity) {
        lease.spec.holderIdentity = undefined;
        lease.spec.leaseDurationSeconds = 1;
        await this.api.replaceNamespacedLease({
          name: this.name,
          namespace: this.opts.namespace,
          body: lease,
        });
      }
    } catch (err) {
      this.opts.logger?.warn({ err: apiStatus(err).message }, 'lease not released');
    }
    this.setLeading(false);
  }

  private setLeading(v: boolean): void {
    if (v === this.leading) return;
    this.leading = v;
    leaderStatus.set(v ? 1 : 0);
    this.opts.logger?.info(
      { identity: this.identity, lease: `${this.opts.namespace}/${this.name}` },
      v ? 'became leader' : 'stopped leading',
    );
    if (v) this.opts.onStartedLeading?.();
    else this.opts.onStoppedLeading?.();
  }

  private async tryAcquireOrRenew(): Promise<void> {
    const now = new V1MicroTime();
    try {
      let lease: V1Lease;
      try {
        lease = await this.api.readNamespacedLease({ name: this.name, namespace: this.opts.namespace });
      } catch (err) {
        if (apiStatus(err).code !== 404) throw err;
        await this.api.createNamespacedLease({
          namespace: this.opts.namespace,
          body: this.leaseBody(undefined, {
            holderIdentity: this.identity,
            leaseDurationSeconds: this.leaseSeconds,
            acquireTime: now,
            renewTime: now,
            leaseTransitions: 0,
          }),
        });
        this.renewed();
        return;
      }
      const spec: Partial<LeaseSpec> = lease.spec ?? {};
      const holder = spec.holderIdentity ?? '';
      const recordKey = `${holder}|${spec.renewTime instanceof Date ? spec.renewTime.toISOString() : String(spec.renewTime)}`;
      if (this.observed?.key !== recordKey) this.observed = { key: recordKey, at: Date.now() };
      const duration = (spec.leaseDurationSeconds ?? this.leaseSeconds) * 1000;
      const expired = holder === '' || this.observed.at + duration < Date.now();
      if (holder !== this.identity && !expired) {
        this.setLeading(false);
        return;
      }
      const takeover = holder !== this.identity;
      const body = this.leaseBody(lease.metadata?.resourceVersion, {
        holderIdentity: this.identity,
        leaseDurationSeconds: this.leaseSeconds,
        acquireTime: takeover ? now : micro(spec.acquireTime),
        renewTime: now,
        leaseTransitions: takeover ? (spec.leaseTransitions ?? 0) + 1 : (spec.leaseTransitions ?? 0),
      });
      await this.api.replaceNamespacedLease({ name: this.name, namespace: this.opts.namespace, body });
      this.renewed();
    } catch (err) {
      const st = apiStatus(err);
      if (st.code !== 409)
        this.opts.logger?.warn({ code: st.code, reason: st.reason, err: st.message }, 'lease renew failed');
      this.isLeader(); // drops leadership once the renew deadline has passed
    }
  }

  private leaseBody(resourceVersion: string | undefined, spec: LeaseSpec): V1Lease {
    return model<V1Lease>({
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: {
        name: this.name,
        namespace: this.opts.namespace,
        ...(resourceVersion !== undefined ? { resourceVersion } : {}),
      },
      spec,
    });
  }

  private renewed(): void {
    this.lastRenew = Date.now();
    this.setLeading(true);
  }
}

/** Lease times are MicroTime: the API server parses exactly six fractional digits. */
function micro(d: Date | undefined): V1MicroTime | undefined {
  return d === undefined ? undefined : new V1MicroTime(d.getTime());
}
