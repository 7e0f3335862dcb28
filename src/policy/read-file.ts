/** Reading policy (and test/resource) YAML files safely: regular files only, size-capped. */
import { constants, type Stats } from 'node:fs';
import { open } from 'node:fs/promises';

export type PolicyFileRejection = 'not-regular-file' | 'too-large';

// Counted here and read by the metrics registry at scrape time, so loading policies needs no metrics.
const rejections: Record<PolicyFileRejection, number> = { 'not-regular-file': 0, 'too-large': 0 };

/** Policy paths refused before parsing since start, by reason. */
export function policyFileRejections(): Readonly<Record<PolicyFileRejection, number>> {
  return rejections;
}

/** Largest policy file read; a larger one is an error (a policy set is kilobytes). */
export const MAX_POLICY_FILE_BYTES = 4 * 1024 * 1024;

const fileType = (s: Stats): string =>
  s.isFIFO()
    ? 'a FIFO'
    : s.isSocket()
      ? 'a socket'
      : s.isCharacterDevice() || s.isBlockDevice()
        ? 'a device'
        : s.isDirectory()
          ? 'a directory'
          : 'not a regular file';

/**
 * Reads one policy file. Only regular files: the open is non-blocking (a FIFO would otherwise wait
 * for a writer forever) and the type is checked on the opened descriptor (no swap after a check).
 */
export async function readPolicyFile(file: string, maxBytes = MAX_POLICY_FILE_BYTES): Promise<string> {
  const fh = await open(file, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  try {
    const st = await fh.stat();
    if (!st.isFile()) {
      rejections['not-regular-file']++;
      throw new Error(`${fileType(st)}, not a regular file`);
    }
    const tooLarge = (): Error => {
      rejections['too-large']++;
      return new Error(`larger than ${maxBytes} bytes`);
    };
    if (st.size > maxBytes) throw tooLarge();
    // Read to EOF, still capped: the file may grow after the stat.
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const { bytesRead, buffer } = await fh.read(Buffer.alloc(64 * 1024), 0, 64 * 1024, total);
      if (bytesRead === 0) break;
      total += bytesRead;
      if (total > maxBytes) throw tooLarge();
      chunks.push(buffer.subarray(0, bytesRead));
    }
    return Buffer.concat(chunks).toString('utf8');
  } finally {
    await fh.close();
  }
}
