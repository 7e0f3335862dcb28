/**
 * Parsing of `run`'s network-input flags (--source-listen, --source-token-file and the limits).
 * Durations are Go durations ("10s", "5m"), like --sensor-attach-timeout.
 */
import { InvalidArgumentError } from '@commander-js/extra-typings';
import { parseGoDuration } from '../../engine/duration.js';
import { parseSocketMode, parseSourceAddress, type SourceAddress } from '../listen-address.js';

export const DEFAULT_SOURCE_REQUEST_TIMEOUT = '10s';
export const DEFAULT_SOURCE_IDLE_TIMEOUT = '5m';

/** "10s" → 10000 ms; a positive duration of at least 1 ms that setTimeout can hold. */
export function parseDurationMs(value: string): number {
  const ns = parseGoDuration(value.trim());
  if (ns === undefined) throw new InvalidArgumentError('expected a duration such as 10s, 5m or 1m30s');
  const ms = Math.floor(ns / 1e6);
  if (ms < 1) throw new InvalidArgumentError('the duration must be at least 1ms');
  if (ms > 2_147_483_647) throw new InvalidArgumentError('the duration must be under 24 days');
  return ms;
}

export function parseConnectionCap(value: string): number {
  const n = Number(value.trim());
  if (!Number.isInteger(n) || n < 1 || n > 1_000_000)
    throw new InvalidArgumentError('expected a whole number of connections, at least 1');
  return n;
}

/** --source-listen: host:port, :port, port, or unix:/path; TCP defaults to loopback. */
export function parseSourceListen(value: string): SourceAddress {
  try {
    return parseSourceAddress(value, { defaultHost: '127.0.0.1', allowBarePort: true });
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

export function parseSocketModeFlag(value: string): number {
  try {
    return parseSocketMode(value);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}
