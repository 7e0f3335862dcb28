/** run's JSON log flags: --log-max-size (bytes with an optional binary suffix) and --log-max-files. */
import { InvalidArgumentError } from '@commander-js/extra-typings';

const UNITS: Readonly<Record<string, number>> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

/** "67108864", "64M", "64Mi", "64MiB", "512k", "1G"; "0" = never rotate. Binary units. */
export function parseLogSize(value: string): number {
  const m = /^(\d{1,12})\s*([kmg]?)(?:i?b)?$/i.exec(value.trim());
  const unit = m ? UNITS[m[2]!.toLowerCase()] : undefined;
  const n = m && unit !== undefined ? Number(m[1]) * unit : NaN;
  if (!Number.isSafeInteger(n))
    throw new InvalidArgumentError('expected a size such as 64M, 512k or 1G (0 = never rotate)');
  if (n > 0 && n < 4096) throw new InvalidArgumentError('at least 4k (or 0 = never rotate)');
  return n;
}

export function parseLogFiles(value: string): number {
  const v = value.trim();
  if (!/^\d{1,3}$/.test(v)) throw new InvalidArgumentError('expected a number of files from 0 to 999');
  return Number(v);
}
