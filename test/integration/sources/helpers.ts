/** Shared fixtures for source tests: real captured samples and a collecting emitter. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { RuntimeEvent } from '../../../src/events/types.js';
import type { EmitFn } from '../../../src/sources/types.js';

export const SAMPLES = fileURLToPath(new URL('../../../../shared/samples/', import.meta.url));

export function sampleLines(tool: string, file: string): string[] {
  return readFileSync(`${SAMPLES}${tool}/${file}`, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '');
}

export function collector(): { emit: EmitFn; events: RuntimeEvent[] } {
  const events: RuntimeEvent[] = [];
  return { events, emit: (e) => void events.push(e) };
}

export { WAIT_MS, waitFor } from '../../support/wait.js';
