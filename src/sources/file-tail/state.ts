/** The tail's resume point, persisted atomically (write a temp file, then rename over the old one). */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { z } from 'zod';

const TailStateSchema = z.object({
  version: z.literal(1),
  path: z.string(),
  dev: z.number(),
  ino: z.number(),
  /** Byte offset just after the last line handed to the pipeline. */
  offset: z.number().int().nonnegative(),
  /** Line number of the next line in that file (for error messages). */
  lineNo: z.number().int().positive(),
  savedAt: z.string(),
});

export type TailState = z.infer<typeof TailStateSchema>;

/** Returns undefined when there is no state yet; throws on a corrupt file (never silently restart). */
export async function loadTailState(statePath: string): Promise<TailState | undefined> {
  let text: string;
  try {
    text = await readFile(statePath, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const parsed = TailStateSchema.safeParse(JSON.parse(text));
  if (!parsed.success) throw new Error(`tail state ${statePath} is invalid: ${parsed.error.message}`);
  return parsed.data;
}

export async function saveTailState(
  statePath: string,
  state: Omit<TailState, 'version' | 'savedAt'>,
): Promise<void> {
  const full: TailState = { version: 1, ...state, savedAt: new Date().toISOString() };
  const tmp = `${statePath}.${process.pid}.tmp`;
  await mkdir(dirname(statePath), { recursive: true });
  await writeFile(tmp, JSON.stringify(full) + '\n', { mode: 0o600 });
  await rename(tmp, statePath); // atomic on POSIX: readers see the old or the new state, never half
}
