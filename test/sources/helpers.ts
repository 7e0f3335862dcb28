/** Shared fixtures for source tests: real captured samples and a collecting emitter. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { RuntimeEvent } from '../../src/events/types.js';
import type { EmitFn } from '../../src/sources/types.js';

export const SAMPLES = fileURLToPath(new URL('../../../shared/samples/', import.meta.url));

export function sampleLines(tool: string, file: string): string[] {
  return readFileSync(`${SAMPLES}${tool}/${file}`, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '');
}

export function collector(): { emit: EmitFn; events: RuntimeEvent[] } {
  const events: RuntimeEvent[] = [];
  return { events, emit: (e) => void events.push(e) };
}

/**
 * How long a test waits for something it expects to happen. Generous on purpose: a wait that
 * succeeds early costs nothing, while a short one fails CI on a loaded machine (load 10+ on 2 cores
 * stretches every step). A deadline that IS the behavior under test belongs in the test, not here.
 */
export const WAIT_MS = 20_000;

/** Polls `cond` until it holds, or fails after `timeoutMs` naming `what` it waited for. */
export async function until(cond: () => boolean, timeoutMs = WAIT_MS, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
