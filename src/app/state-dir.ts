/** Where the agent keeps its state (the store, the file tail's position), in both run modes. */
import { join } from 'node:path';

/** File name of the tail position, next to the store unless --tail-state says otherwise. */
export const TAIL_STATE_FILE = 'tail-state.json';

/** Where a root agent keeps its state (the store, the tail position); else under the working directory. */
export function defaultStateDir(): string {
  return process.getuid?.() === 0 ? '/var/lib/kyverno-runtime' : join(process.cwd(), '.kyverno-runtime');
}

export function defaultDbPath(): string {
  if (process.env.KYVERNO_RUNTIME_STORE) return process.env.KYVERNO_RUNTIME_STORE;
  return join(defaultStateDir(), 'state.db');
}
