/**
 * The live policy set of `run`: loads policies, watches their files, and on a change compiles the new
 * set aside and swaps it in atomically. A bad edit (any load error) keeps the old set running and
 * reports the error; nothing is half-loaded.
 */
import { watch, type FSWatcher } from 'node:fs';
import { createRuntimeEngine, type RuntimeEngine } from '../../engine/runtime/index.js';
import type { Logger } from '../../observability/logger.js';
import { policiesLoaded, policyErrors } from '../../observability/metrics.js';
import { loadPolicies, type PolicyError } from '../../policy/index.js';
import { nodeTargetingRules, type RuleTargetsNode } from '../../actions/node-rules.js';

export interface PolicySetOptions {
  paths: string[];
  nodeName: string;
  logger?: Logger;
  /** Debounce for bursts of file events (editors write several times). Default 300 ms. */
  debounceMs?: number;
}

export interface PolicySwap {
  engine: RuntimeEngine;
  previous: RuntimeEngine;
}

export class PolicySet {
  private current: RuntimeEngine | undefined;
  private nodeRules: RuleTargetsNode = () => false;
  private errors: PolicyError[] = [];
  private watchers: FSWatcher[] = [];
  private timer: NodeJS.Timeout | undefined;
  private reloading: Promise<void> = Promise.resolve();
  private listeners: ((swap: PolicySwap) => void | Promise<void>)[] = [];
  private rejectListeners: ((errors: PolicyError[]) => void)[] = [];

  constructor(private readonly opts: PolicySetOptions) {}

  get engine(): RuntimeEngine {
    if (!this.current) throw new Error('policies not loaded yet');
    return this.current;
  }

  /** Whether a verdict's rule (in the current set) matches kind Node: its `kill` may hit host processes. */
  readonly ruleTargetsNode: RuleTargetsNode = (v) => this.nodeRules(v);

  /** Errors of the last load attempt (empty when it succeeded). */
  get lastErrors(): readonly PolicyError[] {
    return this.errors;
  }

  /**
   * First load. Unlike a reload, valid policies start even when others have errors (reported):
   * refusing to start would leave the host unprotected.
   */
  async load(): Promise<RuntimeEngine> {
    const r = await loadPolicies(this.opts.paths);
    this.errors = r.errors;
    this.current = createRuntimeEngine(r.policies, { nodeName: this.opts.nodeName });
    this.nodeRules = nodeTargetingRules(r.policies);
    policiesLoaded.set(r.policies.length);
    policyErrors.set(r.errors.length);
    return this.current;
  }

  onSwap(listener: (swap: PolicySwap) => void | Promise<void>): void {
    this.listeners.push(listener);
  }

  onRejected(listener: (errors: PolicyError[]) => void): void {
    this.rejectListeners.push(listener);
  }

  watch(): void {
    for (const path of this.opts.paths) {
      try {
        const w = watch(path, { recursive: true, persistent: false }, () => this.schedule());
        w.on('error', (err) => this.opts.logger?.warn({ err, path }, 'policy watch failed'));
        this.watchers.push(w);
      } catch (err) {
        this.opts.logger?.warn({ err, path }, 'cannot watch policy path; reload disabled for it');
      }
    }
  }

  close(): void {
    if (this.timer) clearTimeout(this.timer);
    for (const w of this.watchers) w.close();
    this.watchers = [];
  }

  /** Resolves when a reload in progress (if any) is done. */
  settled(): Promise<void> {
    return this.reloading;
  }

  private schedule(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      // Serialise reloads: a second edit waits for the first swap.
      this.reloading = this.reloading.then(async () => {
        await this.reload();
      });
    }, this.opts.debounceMs ?? 300);
  }

  async reload(): Promise<boolean> {
    let r: Awaited<ReturnType<typeof loadPolicies>>;
    try {
      r = await loadPolicies(this.opts.paths);
    } catch (err) {
      r = {
        policies: [],
        errors: [{ file: this.opts.paths.join(','), line: 0, col: 0, message: (err as Error).message }],
      };
    }
    if (r.errors.length > 0) {
      this.errors = r.errors;
      policyErrors.set(r.errors.length);
      this.opts.logger?.error(
        { errors: r.errors },
        'policy reload rejected: keeping the previous policy set',
      );
      for (const l of this.rejectListeners) l(r.errors);
      return false;
    }
    let engine: RuntimeEngine;
    try {
      engine = createRuntimeEngine(r.policies, { nodeName: this.opts.nodeName });
    } catch (err) {
      this.errors = [{ file: this.opts.paths.join(','), line: 0, col: 0, message: (err as Error).message }];
      for (const l of this.rejectListeners) l(this.errors);
      return false;
    }
    const previous = this.current ?? engine;
    this.current = engine;
    this.nodeRules = nodeTargetingRules(r.policies);
    this.errors = [];
    policiesLoaded.set(r.policies.length);
    policyErrors.set(0);
    this.opts.logger?.info({ policies: r.policies.length }, 'policies reloaded');
    for (const l of this.listeners) await l({ engine, previous });
    return true;
  }
}
