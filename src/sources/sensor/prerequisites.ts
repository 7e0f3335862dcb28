/**
 * What the built-in sensor needs from the host, checked up front with messages that say exactly
 * what to do: root, kernel BTF, tracefs, bpftrace ≥ 0.17. As root, tracefs is mounted and (on apt
 * systems, unless disabled) bpftrace is installed, each announced. Commands run via execFile: no shell.
 */
import { KyvernoRuntimeError } from '../../contracts/errors.js';
import { execFile } from 'node:child_process';
import { accessSync, constants, existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const MIN_BPFTRACE_VERSION: readonly [number, number] = [0, 17];
export const TRACEFS_MOUNT = 'mount -t tracefs nodev /sys/kernel/tracing';
export const INSTALL_COMMAND = 'apt-get install -y bpftrace';
const TRACEFS_ROOTS = ['/sys/kernel/tracing', '/sys/kernel/debug/tracing'];

export interface PrerequisiteOptions {
  /** Install bpftrace with apt-get when missing (root on an apt system only). Default true. */
  install?: boolean;
  /** Progress messages ("installing bpftrace …"). */
  announce?: (message: string) => void;
  /** Override for tests: pretend not to be root, etc. */
  isRoot?: boolean;
}

export interface SensorHost {
  bpftrace: string;
  version: string;
  tracefs: string;
  tracepointExists: (name: string) => boolean;
}

export class PrerequisiteError extends KyvernoRuntimeError {
  constructor(readonly problems: string[]) {
    super('E_SENSOR_PREREQUISITES', `the built-in sensor cannot start:\n  - ${problems.join('\n  - ')}`);
  }
}

/** First executable named `name` on PATH (plus the sbin dirs root usually has). */
export function findExecutable(name: string): string | undefined {
  const dirs = (process.env.PATH ?? '').split(delimiter).filter(Boolean);
  for (const extra of ['/usr/sbin', '/usr/bin', '/sbin', '/bin']) if (!dirs.includes(extra)) dirs.push(extra);
  for (const dir of dirs) {
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** "bpftrace v0.17.0" → [0, 17, 0]; undefined when unreadable. */
export function parseBpftraceVersion(output: string): [number, number, number] | undefined {
  const m = /v?(\d+)\.(\d+)(?:\.(\d+))?/.exec(output);
  if (!m) return undefined;
  return [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)];
}

export function versionAtLeast(v: readonly number[], min: readonly number[]): boolean {
  for (let i = 0; i < min.length; i++) {
    const a = v[i] ?? 0;
    const b = min[i] ?? 0;
    if (a !== b) return a > b;
  }
  return true;
}

export function findTracefs(): string | undefined {
  return TRACEFS_ROOTS.find((root) => existsSync(join(root, 'events')));
}

export function tracepointChecker(tracefs: string): (name: string) => boolean {
  return (name) => {
    const [category, event] = name.split(':');
    if (!category || !event || /[^a-z0-9_]/i.test(category + event)) return false;
    return existsSync(join(tracefs, 'events', category, event));
  };
}

async function installBpftrace(announce: (m: string) => void): Promise<void> {
  announce(`bpftrace not found: installing it (${INSTALL_COMMAND}) …`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  try {
    await run('apt-get', ['install', '-y', '-qq', 'bpftrace'], { env, maxBuffer: 16 << 20 });
  } catch {
    // A fresh machine often has no package lists yet.
    announce('apt-get install failed; refreshing package lists (apt-get update) and retrying …');
    await run('apt-get', ['update', '-qq'], { env, maxBuffer: 16 << 20 });
    await run('apt-get', ['install', '-y', '-qq', 'bpftrace'], { env, maxBuffer: 16 << 20 });
  }
  announce('bpftrace installed.');
}

/** Checks (and as root, fixes what it safely can); throws PrerequisiteError listing every problem. */
export async function ensureSensorPrerequisites(options: PrerequisiteOptions = {}): Promise<SensorHost> {
  const announce = options.announce ?? (() => undefined);
  const root = options.isRoot ?? process.getuid?.() === 0;
  const problems: string[] = [];
  if (!root) problems.push('not running as root: loading eBPF programs needs root (run with sudo)');
  if (!existsSync('/sys/kernel/btf/vmlinux')) {
    problems.push('no kernel BTF (/sys/kernel/btf/vmlinux): use a kernel built with CONFIG_DEBUG_INFO_BTF=y');
  }
  let tracefs = findTracefs();
  if (!tracefs && root) {
    announce(`tracefs is not mounted: mounting it (${TRACEFS_MOUNT})`);
    try {
      await run('mount', ['-t', 'tracefs', 'nodev', '/sys/kernel/tracing']);
      tracefs = findTracefs();
    } catch (err) {
      problems.push(`tracefs is not mounted and mounting it failed (${(err as Error).message.trim()})`);
    }
  }
  if (!tracefs && !problems.some((p) => p.startsWith('tracefs'))) {
    problems.push(`tracefs is not mounted: run \`${TRACEFS_MOUNT}\` as root`);
  }
  let bpftrace = findExecutable('bpftrace');
  if (!bpftrace) {
    const apt = findExecutable('apt-get');
    if (root && apt && options.install !== false) {
      try {
        await installBpftrace(announce);
        bpftrace = findExecutable('bpftrace');
      } catch (err) {
        problems.push(
          `bpftrace is missing and installing it failed: ${(err as Error).message.split('\n')[0] ?? ''}`,
        );
      }
    }
    if (!bpftrace && !problems.some((p) => p.startsWith('bpftrace'))) {
      problems.push(
        apt
          ? `bpftrace is not installed: run \`${INSTALL_COMMAND}\` as root` +
              (options.install === false ? ' (automatic install disabled by --no-install)' : '')
          : 'bpftrace is not installed: install bpftrace ≥ 0.17 with your package manager',
      );
    }
  }
  let version = '';
  if (bpftrace) {
    try {
      const { stdout } = await run(bpftrace, ['--version']);
      version = stdout.trim();
      const v = parseBpftraceVersion(version);
      if (!v || !versionAtLeast(v, MIN_BPFTRACE_VERSION)) {
        problems.push(`${version || 'bpftrace'} is too old: need ≥ ${MIN_BPFTRACE_VERSION.join('.')}`);
      }
    } catch (err) {
      problems.push(`\`${bpftrace} --version\` failed: ${(err as Error).message}`);
    }
  }
  if (problems.length > 0 || !bpftrace || !tracefs) throw new PrerequisiteError(problems);
  return { bpftrace, version, tracefs, tracepointExists: tracepointChecker(tracefs) };
}
