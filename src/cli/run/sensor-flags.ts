/**
 * Parsing of `run`'s sensor flags. The attach timeout is a Go duration ("90s", "3m", "1m30s"), the
 * syntax Kyverno and Falco users already write.
 */
import { InvalidArgumentError } from '@commander-js/extra-typings';
import { parseGoDuration } from '../../engine/duration.js';
import { DEFAULT_ATTACH_TIMEOUT_MS } from '../../sources/sensor/index.js';

/** The sensor's default as `--help` shows it ("60s"). */
export const DEFAULT_SENSOR_ATTACH_TIMEOUT = `${DEFAULT_ATTACH_TIMEOUT_MS / 1000}s`;

/** "90s" → 90000 ms. Throws InvalidArgumentError for anything but a positive duration of at least 1 ms. */
export function parseAttachTimeout(value: string): number {
  const ns = parseGoDuration(value.trim());
  if (ns === undefined) throw new InvalidArgumentError('expected a duration such as 90s, 3m or 1m30s');
  const ms = Math.floor(ns / 1e6);
  if (ms < 1) throw new InvalidArgumentError('the timeout must be at least 1ms');
  // setTimeout's limit (~24.8 days): beyond it Node fires at once.
  if (ms > 2_147_483_647) throw new InvalidArgumentError('the timeout must be under 24 days');
  return ms;
}
