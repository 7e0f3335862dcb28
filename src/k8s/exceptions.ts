/**
 * PolicyExceptions from the cluster: Kyverno's `kyverno.io/v2` and CEL (`policies.kyverno.io`)
 * PolicyException objects are watched, compiled with the loader that reads exception files, and
 * handed to `onChange` as a complete set (the agent replaces its ExceptionSet; no engine rebuild).
 *
 * Kyverno's CRDs may not be installed: a kind whose list answers 404 (or 403, no RBAC) is reported
 * once and not watched — never retried in a loop, never a failed start. Installing it later takes
 * an agent restart.
 */
import { CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { apiClient } from './api-clients.js';
import type { CompiledException } from '../engine/api/compiled-exception.js';
import { formatPolicyError, loadPolicyText } from '../policy/index.js';
import type { Logger } from '../observability/logger.js';
import { exceptionsLoaded } from '../observability/metrics.js';
import { apiStatus } from './errors.js';
import { Reflector, reflectorSettings } from './reflector.js';

/** The exception kinds watched: group, served version, plural. */
export const EXCEPTION_RESOURCES = [
  { group: 'kyverno.io', version: 'v2', plural: 'policyexceptions' },
  { group: 'policies.kyverno.io', version: 'v1alpha1', plural: 'policyexceptions' },
] as const;

interface ExceptionObject {
  apiVersion?: string;
  kind?: string;
  metadata?: {
    name?: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    managedFields?: unknown;
  };
  spec?: unknown;
}

export interface ExceptionWatcherOptions {
  kubeConfig: KubeConfig;
  onChange: (exceptions: CompiledException[]) => void;
  debounceMs?: number;
  relistIntervalMs?: number;
  stallTimeoutMs?: number;
  backoffInitialMs?: number;
  logger?: Logger;
}

export class ExceptionWatcher {
  private readonly api: CustomObjectsApi;
  private readonly reflectors: {
    resource: (typeof EXCEPTION_RESOURCES)[number];
    reflector: Reflector<ExceptionObject>;
  }[];
  private readonly active = new Set<Reflector<ExceptionObject>>();
  private timer: NodeJS.Timeout | undefined;
  private current: CompiledException[] = [];
  private started = false;

  constructor(private readonly opts: ExceptionWatcherOptions) {
    this.api = apiClient(opts.kubeConfig, CustomObjectsApi);
    const common = reflectorSettings(opts);
    this.reflectors = EXCEPTION_RESOURCES.map((resource) => {
      const { group, version, plural } = resource;
      const reflector = new Reflector<ExceptionObject>({
        ...common,
        resource: `${plural}.${group}`,
        path: `/apis/${group}/${version}/${plural}`,
        list: (s) =>
          this.api.listCustomObjectForAllNamespaces({ group, version, plural, ...s }) as Promise<{
            items: ExceptionObject[];
          }>,
        typeMeta: { apiVersion: `${group}/${version}`, kind: 'PolicyException' },
      });
      for (const event of ['add', 'update', 'delete'] as const) reflector.on(event, () => this.schedule());
      return { resource, reflector };
    });
  }

  get exceptions(): readonly CompiledException[] {
    return this.current;
  }

  /** Kinds being watched (those whose CRD is installed and readable). */
  get watching(): string[] {
    return this.reflectors.filter((r) => this.active.has(r.reflector)).map((r) => r.reflector.resource);
  }

  get synced(): boolean {
    return [...this.active].every((r) => r.synced);
  }

  async start(timeoutMs = 30_000): Promise<void> {
    await Promise.all(
      this.reflectors.map(async ({ resource, reflector }) => {
        const { group, version, plural } = resource;
        try {
          await this.api.listCustomObjectForAllNamespaces({ group, version, plural, limit: 1 });
        } catch (err) {
          const st = apiStatus(err);
          if (st.code === 404 || st.code === 403) {
            this.opts.logger?.warn(
              { resource: `${plural}.${group}/${version}`, code: st.code },
              st.code === 404
                ? 'PolicyException CRD not installed: these exceptions are not watched (restart after installing it)'
                : 'no permission to list PolicyExceptions: these exceptions are not watched',
            );
            return;
          }
          // Anything else is the reflector's to retry (an API server still starting).
        }
        this.active.add(reflector);
        await reflector.start(timeoutMs);
      }),
    );
    this.started = true;
    this.recompile();
  }

  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    await Promise.all([...this.active].map((r) => r.stop()));
  }

  private schedule(): void {
    if (!this.started || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.recompile();
    }, this.opts.debounceMs ?? 100);
    this.timer.unref();
  }

  /** Compiles every exception object; a bad one is logged with its errors and never stops the others. */
  recompile(): void {
    const compiled: CompiledException[] = [];
    let failed = 0;
    for (const reflector of this.active)
      for (const obj of reflector.list()) {
        const metadata = { ...(obj.metadata ?? {}) };
        delete metadata.managedFields;
        const file = `cluster:PolicyException/${metadata.namespace ?? ''}/${metadata.name ?? ''}`;
        const result = loadPolicyText(JSON.stringify({ ...obj, metadata }, null, 1), file);
        if (result.errors.length > 0 || result.exceptions?.length !== 1) {
          failed++;
          this.opts.logger?.warn(
            { exception: file, errors: result.errors.map(formatPolicyError) },
            'policy exception rejected',
          );
        } else compiled.push(...result.exceptions);
      }
    this.current = compiled;
    exceptionsLoaded.set({ state: 'loaded' }, compiled.length);
    exceptionsLoaded.set({ state: 'rejected' }, failed);
    this.opts.onChange(compiled);
  }
}
