/**
 * Whether this kernel lets us load BPF LSM programs, which `block` on file writes, exec or mount
 * would need. Reported at start (run, /api/policies, selftest); no LSM program ships, so the answer
 * only changes the wording of warnings. Two conditions: "bpf" is in the active LSM list, and a
 * probe load works (some kernels list bpf yet refuse every LSM program load).
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';

export interface BpfLsmStatus {
  available: boolean;
  /** Why not, or how it was confirmed. */
  detail: string;
}

export const LSM_LIST = '/sys/kernel/security/lsm';
const PROBE_TIMEOUT_MS = 30_000;

/** Reads the active LSM list; undefined when securityfs is not mounted or unreadable. */
export function activeLsms(path = LSM_LIST): string[] | undefined {
  try {
    return readFileSync(path, 'utf8')
      .trim()
      .split(',')
      .filter((s) => s !== '');
  } catch {
    return undefined;
  }
}

/**
 * The answer for this host. `bpftrace` (a path) is used for the probe load: a trivial `lsm:` probe
 * that exits at once; without it only the LSM list is read.
 */
export async function detectBpfLsm(
  opts: { bpftrace?: string; lsmPath?: string } = {},
): Promise<BpfLsmStatus> {
  const lsms = activeLsms(opts.lsmPath);
  if (lsms === undefined) return { available: false, detail: `cannot read ${opts.lsmPath ?? LSM_LIST}` };
  if (!lsms.includes('bpf'))
    return { available: false, detail: `"bpf" is not an active LSM (${lsms.join(',') || 'none'})` };
  if (opts.bpftrace === undefined) return { available: false, detail: 'bpf is listed; no probe load tried' };
  const ok = await probeLoad(opts.bpftrace);
  return ok
    ? { available: true, detail: 'bpf is an active LSM and a probe program loaded' }
    : { available: false, detail: 'bpf is listed but loading an LSM probe failed' };
}

function probeLoad(bpftrace: string): Promise<boolean> {
  return new Promise((resolve) => {
    const child = spawn(bpftrace, ['-e', 'lsm:file_open { exit(); } interval:ms:1 { exit(); }'], {
      stdio: 'ignore',
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), PROBE_TIMEOUT_MS);
    child.once('error', () => {
      clearTimeout(timer);
      resolve(false);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve(code === 0);
    });
  });
}
