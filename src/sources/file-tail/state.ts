/** The tail's resume point, persisted atomically (write a temp file, then rename over the old one). */
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { z } from 'zod';

/** Bytes at the start of the file that identify it beyond its inode (inodes are reused after unlink). */
export const HEAD_FINGERPRINT_BYTES = 1024;

const TailStateSchema = z.object({
  version: z.literal(1),
  path: z.string(),
  dev: z.number(),
  ino: z.number(),
  /** Byte offset just after the last line handed to the pipeline. */
  offset: z.number().int().nonnegative(),
  /** Line number of the next line in that file (for error messages). */
  lineNo: z.number().int().positive(),
  /** sha256 of the file's first `bytes` bytes when the state was saved (absent in older state files). */
  head: z
    .object({ bytes: z.number().int().nonnegative(), sha256: z.string().regex(/^[0-9a-f]{64}$/) })
    .optional(),
  savedAt: z.string(),
});

export type TailState = z.infer<typeof TailStateSchema>;
export type HeadFingerprint = NonNullable<TailState['head']>;

/** Returns undefined when there is no state yet; throws on a corrupt file (never silently restart). */
export async function loadTailState(statePath: string): Promise<TailState | undefined> {
  let text: string;
  try {
    text = await readFile(statePath, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new Error(`tail state ${statePath} is not JSON: ${(err as Error).message}`, { cause: err });
  }
  const parsed = TailStateSchema.safeParse(json);
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

/** Fingerprint of the first min(limit, HEAD_FINGERPRINT_BYTES) bytes of an open file. */
export async function headFingerprint(fh: FileHandle, limit: number): Promise<HeadFingerprint> {
  const want = Math.min(limit, HEAD_FINGERPRINT_BYTES);
  const buf = Buffer.alloc(want);
  let got = 0;
  while (got < want) {
    const { bytesRead } = await fh.read(buf, got, want - got, got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return { bytes: got, sha256: createHash('sha256').update(buf.subarray(0, got)).digest('hex') };
}

/** True when the file still starts with the bytes the state was saved against (or nothing was saved). */
export async function sameHead(fh: FileHandle, saved: HeadFingerprint | undefined): Promise<boolean> {
  if (saved === undefined) return true;
  const now = await headFingerprint(fh, saved.bytes);
  return now.bytes === saved.bytes && now.sha256 === saved.sha256;
}
