/**
 * Kubernetes Events (events.k8s.io/v1) about a resource: a violation seen, an action taken. Repeats
 * of the same (object, reason, note) within the aggregation window are folded into one Event whose
 * `series.count` is updated at most once per window, so an event storm on the node is not an event
 * storm in etcd. Events about Nodes go to `default`; notes are cut to 1024 UTF-8 bytes. Failures are counted and logged, never thrown: an Event is best effort.
 */
import { EventsV1Api, V1MicroTime, type EventsV1Event, type KubeConfig } from '@kubernetes/client-node';
import type { LRUCache } from 'lru-cache';
import { growingLru } from '../util/growing-lru.js';
import { hostname } from 'node:os';
import { apiClient } from './api-clients.js';
import type { ResourceRef } from '../contracts/verdict.js';
import type { Logger } from '../observability/logger.js';
import { k8sApiRequests } from '../observability/metrics.js';
import { apiStatus } from './errors.js';
import { model } from './model.js';
import { truncateUtf8 } from '../util/utf8-truncate.js';

export const REPORTING_CONTROLLER = 'kyverno.io/kyverno-runtime';
/** Where Events about cluster-scoped objects must go (the API server answers 422 elsewhere). */
export const CLUSTER_EVENT_NAMESPACE = 'default';
/** The API server's limit on an Event note, in UTF-8 bytes. */
export const MAX_NOTE_BYTES = 1024;

export interface EventInput {
  regarding: ResourceRef;
  type: 'Normal' | 'Warning';
  /** CamelCase, e.g. PolicyViolation, PodDeleted. */
  reason: string;
  /** What was done: Report, DeletePod, Label… */
  action: string;
  note: string;
}

export interface EventRecorderOptions {
  kubeConfig: KubeConfig;
  /** reportingInstance: the pod name in a cluster. */
  instance?: string;
  /** Fold repeats within this window (default 60 s). */
  windowMs?: number;
  logger?: Logger;
  dryRun?: boolean;
}

interface Series {
  name: string;
  namespace: string;
  count: number;
  writtenCount: number;
}

export class EventRecorder {
  private readonly api: EventsV1Api;
  private readonly series: LRUCache<string, Series>;
  private readonly instance: string;

  constructor(private readonly opts: EventRecorderOptions) {
    this.api = apiClient(opts.kubeConfig, EventsV1Api);
    this.instance = (opts.instance ?? process.env.POD_NAME ?? hostname()).slice(0, 128);
    this.series = growingLru(10_000, { ttl: opts.windowMs ?? 60_000 });
  }

  /** Records an Event; resolves when written (or skipped as a repeat). Never rejects. */
  async emit(input: EventInput): Promise<void> {
    // The API server accepts Events about cluster-scoped objects (Nodes) only in `default`.
    const namespace =
      input.regarding.namespace !== undefined && input.regarding.namespace !== ''
        ? input.regarding.namespace
        : CLUSTER_EVENT_NAMESPACE;
    const note = truncateUtf8(input.note, MAX_NOTE_BYTES);
    const key = `${input.regarding.uid ?? input.regarding.name}|${input.reason}|${note}`;
    const known = this.series.get(key, { updateAgeOnGet: false });
    if (known) {
      known.count++;
      return; // folded into the Event already written within the window
    }
    const name =
      `${input.regarding.name}.${Date.now().toString(16)}${Math.floor(Math.random() * 0xfff).toString(16)}`.slice(
        0,
        253,
      );
    this.series.set(key, { name, namespace, count: 1, writtenCount: 1 });
    if (this.opts.dryRun === true) return;
    // Events are bookkeeping: let latency-critical requests issued in this tick go out first.
    await new Promise((resolve) => setImmediate(resolve));
    try {
      await this.api.createNamespacedEvent({
        namespace,
        body: model<EventsV1Event>({
          apiVersion: 'events.k8s.io/v1',
          kind: 'Event',
          metadata: { name, namespace },
          eventTime: new V1MicroTime(),
          regarding: {
            apiVersion: input.regarding.apiVersion,
            kind: input.regarding.kind,
            name: input.regarding.name,
            namespace: input.regarding.namespace,
            uid: input.regarding.uid,
          },
          reason: input.reason.slice(0, 128),
          action: input.action.slice(0, 128),
          note,
          type: input.type,
          reportingController: REPORTING_CONTROLLER,
          reportingInstance: this.instance,
        }),
      });
      k8sApiRequests.inc({ purpose: 'event', outcome: 'succeeded' });
    } catch (err) {
      k8sApiRequests.inc({ purpose: 'event', outcome: 'failed' });
      const st = apiStatus(err);
      this.opts.logger?.warn(
        { code: st.code, reason: st.reason, err: st.message, regarding: input.regarding.name },
        'event not recorded',
      );
    }
  }
}
