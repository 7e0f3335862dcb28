/**
 * The file policy host of both run modes (`run`, `cluster --policies`): loads policies, watches their files, and on a change compiles the new
 * set aside and swaps it in atomically. A bad edit (any load error) keeps the old set running and
 * reports the error; nothing is half-loaded.
 *
 * Only policy files wake the watcher (`.yaml`, `.yml`, `.json`; never editor swap/lock/backup files,
 * nor the paths in `ignore` such as the store and the JSON log, which may live in the same folder
 * and change on every event), and a reload whose files hash to what is already running does nothing.
 */
import { createHash } from 'node:crypto';
import { watch, statSync, type FSWatcher } from 'node:fs';
import { basename, dirname, extname, join, resolve } from 'node:path';
import {
  createRuntimeEngine,
  staticParamLookup,
  type ContextProvider,
  type RuntimeEngine,
} from '../engine/runtime/index.js';
import type { Logger } from '../observability/logger.js';
import { policiesLoaded, policyErrors, policyReloads } from '../observability/metrics.js';
import { listYamlFiles, loadPolicies, readPolicyFile, type PolicyError } from '../policy/index.js';
import { nodeTargetingRules, type RuleTargetsNode } from '../actions/node-rules.js';
import type { CompiledPolicy } from '../engine/api/compiled-policy.js';
import { localExceptions } from '../policy/exception-files.js';
import type { CompiledException } from '../engine/api/compiled-exception.js';

/** Extensions of files that can hold policies; a change to any other file is not a policy change. */
const POLICY_EXTENSIONS = new Set(['.yaml', '.yml', '.json']);

/**
 * Whether a changed file can be a policy file: the right extension, and not an editor's lock
 * (`.#name.yaml`, emacs) or backup. Swap files (`.swp`, `~`, vim's `4913`) fail the extension test.
 */
export function isPolicyFileName(file: string): boolean {
  const name = basename(file);
  return POLICY_EXTENSIONS.has(extname(name)) && !name.startsWith('.#');
}

/** A hash of every policy file's path and content under the paths (missing paths hash as such). */
export async function policyFingerprint(paths: readonly string[]): Promise<string> {
  const hash = createHash('sha256');
  for (const path of paths) {
    let files: string[];
    try {
      files = await listYamlFiles(path);
    } catch (err) {
      hash.update(`missing\0${path}\0${(err as NodeJS.ErrnoException).code ?? ''}\0`);
      continue;
    }
    for (const file of files) {
      hash.update(`${file}\0`);
      try {
        // Regular files only, size-capped: a FIFO dropped into the folder must not hang the watcher.
        hash.update(await readPolicyFile(file));
      } catch (err) {
        hash.update(`unreadable\0${(err as NodeJS.ErrnoException).code ?? ''}`);
      }
      hash.update('\0');
    }
  }
  return hash.digest('hex');
}

export interface PolicySetOptions {
  paths: string[];
  /** Node name for host events (kind: Node) in the engines this set builds. */
  nodeName?: string;
  logger?: Logger;
  /** Debounce for bursts of file events (editors write several times). Default 300 ms. */
  debounceMs?: number;
  /** Files whose changes never trigger a reload (the store and its WAL, the JSON log). */
  ignore?: readonly string[];
  /** PolicyException files or folders (`--exception`), beside the exceptions found among `paths`; watched too. */
  exceptionPaths?: readonly string[];
  /** Namespaces whose exceptions apply everywhere (`--exception-namespace`). */
  exceptionNamespaces?: readonly string[];
  /** Data for rule context entries (`--context-file`). */
  context?: ContextProvider;
  /**
   * Keep an engine of this set (default true). A host that builds its own engine from `compiled`
   * (the cluster agent, with its pod cache) passes false: a second engine over the same policies
   * would hold another rule index for nothing. A reload still builds one to vet the new set.
   */
  retainEngine?: boolean;
}

export interface PolicySwap {
  engine: RuntimeEngine;
  /** The compiled policies of `engine` (a host that builds its own engine, e.g. with a pod cache). */
  policies: readonly CompiledPolicy[];
  /** The PolicyExceptions of `engine`. */
  exceptions: readonly CompiledException[];
  previous: RuntimeEngine;
}

export class PolicySet {
  private current: RuntimeEngine | undefined;
  private compiledPolicies: readonly CompiledPolicy[] = [];
  private compiledExceptions: readonly CompiledException[] = [];
  private nodeRules: RuleTargetsNode = () => false;
  private errors: PolicyError[] = [];
  private watchers: FSWatcher[] = [];
  private timer: NodeJS.Timeout | undefined;
  private reloading: Promise<void> = Promise.resolve();
  private listeners: ((swap: PolicySwap) => void | Promise<void>)[] = [];
  private rejectListeners: ((errors: PolicyError[]) => void)[] = [];
  /** Fingerprint of the files the last load or reload attempt read (applied or rejected). */
  private fingerprint: string | undefined;
  private readonly ignored: Set<string>;

  constructor(private readonly opts: PolicySetOptions) {
    this.ignored = new Set((opts.ignore ?? []).map((p) => resolve(p)));
  }

  /** Every watched path: policies, then exception files. */
  private get watched(): string[] {
    return [...this.opts.paths, ...(this.opts.exceptionPaths ?? [])];
  }

  /** Policies and exceptions loaded together: one set of errors, one engine. */
  private async loadAll(): Promise<{
    policies: CompiledPolicy[];
    exceptions: CompiledException[];
    errors: PolicyError[];
    engine: () => RuntimeEngine;
  }> {
    const r = await loadPolicies(this.opts.paths);
    const exceptions = await localExceptions(r, this.opts.exceptionPaths, this.opts.exceptionNamespaces);
    for (const w of exceptions.warnings)
      this.opts.logger?.warn({ warning: w }, 'policy exception names an unknown policy');
    return {
      policies: r.policies,
      exceptions: exceptions.exceptions,
      errors: [...r.errors, ...exceptions.errors],
      engine: () =>
        createRuntimeEngine(r.policies, {
          nodeName: this.opts.nodeName,
          params: staticParamLookup(r.objects ?? []),
          exceptions: exceptions.set,
          ...(this.opts.context ? { context: this.opts.context } : {}),
        }),
    };
  }

  get engine(): RuntimeEngine {
    if (this.opts.retainEngine === false) throw new Error('this policy set keeps no engine');
    if (!this.current) throw new Error('policies not loaded yet');
    return this.current;
  }

  /** The compiled policies of the current engine. */
  get compiled(): readonly CompiledPolicy[] {
    return this.compiledPolicies;
  }

  /** Whether a verdict's rule (in the current set) matches kind Node: its `kill` may hit host processes. */
  readonly ruleTargetsNode: RuleTargetsNode = (v) => this.nodeRules(v);

  /** The PolicyExceptions of the current engine. */
  get exceptions(): readonly CompiledException[] {
    return this.compiledExceptions;
  }

  /** Errors of the last load attempt (empty when it succeeded). */
  get lastErrors(): readonly PolicyError[] {
    return this.errors;
  }

  /**
   * First load. Unlike a reload, valid policies start even when others have errors (reported):
   * refusing to start would leave the host unprotected. Resolves to the set's engine (undefined
   * when it keeps none).
   */
  async load(): Promise<RuntimeEngine | undefined> {
    // Hashed before reading: an edit racing the load changes the hash, so it is reloaded, not lost.
    this.fingerprint = await policyFingerprint(this.watched);
    const r = await this.loadAll();
    this.errors = r.errors;
    if (this.opts.retainEngine !== false) this.current = r.engine();
    this.compiledPolicies = r.policies;
    this.compiledExceptions = r.exceptions;
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
    for (const path of this.watched) {
      try {
        // A single file is watched through its directory: editors replace files (a new inode),
        // which would silence a watch on the file itself.
        const isDir = statSync(path).isDirectory();
        const root = isDir ? path : dirname(path);
        const w = watch(root, { recursive: isDir, persistent: false }, (_type, name) => {
          if (name === null) return this.schedule(); // the platform did not say: check the hash
          const file = join(root, name);
          if (!isDir && resolve(file) !== resolve(path)) return;
          if (this.ignored.has(resolve(file)) || !isPolicyFileName(file)) return;
          this.schedule();
        });
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

  /**
   * Loads the files again and swaps the new set in; false when nothing was swapped (the content is
   * what the last attempt read, or it has errors).
   */
  async reload(): Promise<boolean> {
    const fingerprint = await policyFingerprint(this.watched);
    if (fingerprint === this.fingerprint) {
      policyReloads.inc({ result: 'unchanged' });
      this.opts.logger?.debug('policy files changed on disk but not in content: no reload');
      return false;
    }
    this.fingerprint = fingerprint;
    let r: Awaited<ReturnType<PolicySet['loadAll']>>;
    try {
      r = await this.loadAll();
    } catch (err) {
      r = {
        policies: [],
        exceptions: [],
        errors: [{ file: this.opts.paths.join(','), line: 0, col: 0, message: (err as Error).message }],
        engine: () => createRuntimeEngine([]),
      };
    }
    if (r.errors.length > 0) {
      this.errors = r.errors;
      policyErrors.set(r.errors.length);
      this.opts.logger?.error(
        { errors: r.errors },
        'policy reload rejected: keeping the previous policy set',
      );
      policyReloads.inc({ result: 'rejected' });
      for (const l of this.rejectListeners) l(r.errors);
      return false;
    }
    let engine: RuntimeEngine;
    try {
      engine = r.engine();
    } catch (err) {
      this.errors = [{ file: this.opts.paths.join(','), line: 0, col: 0, message: (err as Error).message }];
      policyErrors.set(1);
      policyReloads.inc({ result: 'rejected' });
      this.opts.logger?.error(
        { errors: this.errors },
        'policy reload rejected: keeping the previous policy set',
      );
      for (const l of this.rejectListeners) l(this.errors);
      return false;
    }
    const previous = this.current ?? engine;
    if (this.opts.retainEngine !== false) this.current = engine;
    this.compiledPolicies = r.policies;
    this.compiledExceptions = r.exceptions;
    this.nodeRules = nodeTargetingRules(r.policies);
    this.errors = [];
    policiesLoaded.set(r.policies.length);
    policyErrors.set(0);
    policyReloads.inc({ result: 'applied' });
    this.opts.logger?.info({ policies: r.policies.length }, 'policies reloaded');
    // A copy: a listener added while this swap is announced waits for the next one.
    for (const l of [...this.listeners])
      await l({ engine, policies: r.policies, exceptions: r.exceptions, previous });
    return true;
  }
}
