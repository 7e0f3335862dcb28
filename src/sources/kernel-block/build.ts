/**
 * Builds the cgroup connect program and its loader on first use (clang, libbpf, bpftool): vmlinux.h
 * from the running kernel's BTF, the BPF object (CO-RE), its skeleton, then the loader with the object
 * embedded. The output lives in `build/kblock/` of the package and is rebuilt when a source is newer.
 * As root on an apt system the tools are installed first (like bpftrace for the sensor), and said so.
 * Commands run via execFile: no shell.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { KyvernoRuntimeError } from '../../contracts/errors.js';
import { packagePath } from '../../package-root.js';
import { findExecutable } from '../sensor/prerequisites.js';

const run = promisify(execFile);

export const KERNEL_BLOCK_PACKAGES = ['clang', 'libbpf-dev', 'bpftool', 'libelf-dev', 'zlib1g-dev'] as const;
export const KERNEL_BLOCK_INSTALL_COMMAND = `apt-get install -y ${KERNEL_BLOCK_PACKAGES.join(' ')}`;
const SOURCES = ['kblock.bpf.c', 'kblock.h', 'loader.c'];

export class KernelBlockError extends KyvernoRuntimeError {
  constructor(message: string) {
    super('E_KERNEL_BLOCK_UNAVAILABLE', `block rules cannot be enforced in the kernel: ${message}`);
  }
}

export interface BuildOptions {
  /** Install the build tools with apt-get when missing (root on an apt system). Default true. */
  install?: boolean;
  announce?: (message: string) => void;
  /** Where the sources are (default `bpf/kblock` of the package) and where the output goes. */
  sourceDir?: string;
  outDir?: string;
}

function missingTools(): string[] {
  const missing: string[] = [];
  if (!findExecutable('clang')) missing.push('clang');
  if (!findExecutable('bpftool')) missing.push('bpftool');
  if (!existsSync('/usr/include/bpf/libbpf.h')) missing.push('libbpf-dev');
  return missing;
}

async function install(announce: (m: string) => void): Promise<void> {
  announce(
    `building the block program needs clang, libbpf and bpftool: installing them (${KERNEL_BLOCK_INSTALL_COMMAND}) …`,
  );
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const args = ['install', '-y', '-qq', '--no-install-recommends', ...KERNEL_BLOCK_PACKAGES];
  try {
    await run('apt-get', args, { env, maxBuffer: 16 << 20 });
  } catch {
    announce('apt-get install failed; refreshing package lists (apt-get update) and retrying …');
    await run('apt-get', ['update', '-qq'], { env, maxBuffer: 16 << 20 });
    await run('apt-get', args, { env, maxBuffer: 16 << 20 });
  }
  announce('clang, libbpf and bpftool installed.');
}

const mtime = (p: string): number => {
  try {
    return statSync(p).mtimeMs;
  } catch {
    return -1;
  }
};

/** The loader binary, built now if needed. Throws KernelBlockError saying what is missing. */
export async function ensureKernelBlockLoader(opts: BuildOptions = {}): Promise<string> {
  const src = opts.sourceDir ?? packagePath('bpf', 'kblock');
  const out = opts.outDir ?? packagePath('build', 'kblock');
  const loader = join(out, 'kblock-loader');
  const newest = Math.max(...SOURCES.map((f) => mtime(join(src, f))));
  if (newest < 0) throw new KernelBlockError(`the program's sources are missing (${src})`);
  if (mtime(loader) >= newest) return loader;
  const announce = opts.announce ?? (() => undefined);
  let missing = missingTools();
  if (missing.length > 0 && opts.install !== false && process.getuid?.() === 0 && findExecutable('apt-get')) {
    try {
      await install(announce);
    } catch (err) {
      throw new KernelBlockError(
        `installing the build tools failed: ${(err as Error).message.split('\n')[0] ?? ''}`,
      );
    }
    missing = missingTools();
  }
  if (missing.length > 0)
    throw new KernelBlockError(
      `${missing.join(', ')} missing: run \`${KERNEL_BLOCK_INSTALL_COMMAND}\` as root` +
        (opts.install === false ? ' (automatic install disabled by --no-install)' : ''),
    );
  if (!existsSync('/sys/kernel/btf/vmlinux'))
    throw new KernelBlockError(
      'no kernel BTF (/sys/kernel/btf/vmlinux): use a kernel built with CONFIG_DEBUG_INFO_BTF=y',
    );
  announce(`building the block program (${out}) …`);
  mkdirSync(out, { recursive: true, mode: 0o755 });
  const step = async (file: string, args: string[], to?: string): Promise<void> => {
    try {
      const { stdout } = await run(file, args, { maxBuffer: 64 << 20 });
      if (to !== undefined) writeFileSync(to, stdout);
    } catch (err) {
      const e = err as Error & { stderr?: string };
      throw new KernelBlockError(
        `${file} failed: ${(e.stderr ?? e.message).trim().split('\n').slice(-5).join(' ')}`,
      );
    }
  };
  const bpftool = findExecutable('bpftool')!;
  const clang = findExecutable('clang')!;
  await step(
    bpftool,
    ['btf', 'dump', 'file', '/sys/kernel/btf/vmlinux', 'format', 'c'],
    join(out, 'vmlinux.h'),
  );
  const arch = process.arch === 'arm64' ? 'arm64' : 'x86';
  await step(clang, [
    '-g',
    '-O2',
    '-target',
    'bpf',
    `-D__TARGET_ARCH_${arch}`,
    '-I',
    out,
    '-c',
    join(src, 'kblock.bpf.c'),
    '-o',
    join(out, 'kblock.bpf.o'),
  ]);
  await step(
    bpftool,
    ['gen', 'skeleton', join(out, 'kblock.bpf.o'), 'name', 'kblock'],
    join(out, 'kblock.skel.h'),
  );
  // Built beside, then renamed: a concurrent start never runs a half-written binary.
  const tmp = `${loader}.${process.pid}.tmp`;
  await step(clang, [
    '-O2',
    '-Wall',
    '-I',
    out,
    '-I',
    src,
    join(src, 'loader.c'),
    '-lbpf',
    '-lelf',
    '-lz',
    '-o',
    tmp,
  ]);
  renameSync(tmp, loader);
  announce('block program built.');
  return loader;
}
