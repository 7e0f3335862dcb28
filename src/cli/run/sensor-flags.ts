/**
 * Parsing of the sensor flags of `run` and `cluster`. The attach timeout is a Go duration ("90s", "3m", "1m30s"), the
 * syntax Kyverno and Falco users already write.
 */
import { InvalidArgumentError, Option } from '@commander-js/extra-typings';
import { parseGoDuration } from '../../engine/duration.js';
import {
  CONTAINER_RUNTIME_DEFAULTS,
  DEFAULT_ATTACH_TIMEOUT_MS,
  DEFAULT_RUNTIME_SOCKETS,
  parseRuntimeSocket,
  type RuntimeSocket,
} from '../../sources/sensor/index.js';

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

/** The container lookup deadline's default as `--help` shows it ("250ms"). */
export const DEFAULT_CONTAINER_RUNTIME_TIMEOUT = `${CONTAINER_RUNTIME_DEFAULTS.timeoutMs}ms`;

/**
 * One `--container-runtime-socket` (repeatable): accumulates sockets; "none" alone means no runtime.
 * undefined (the flag never given) means the default sockets that exist.
 */
export function collectRuntimeSocket(value: string, previous: RuntimeSocket[] | undefined): RuntimeSocket[] {
  let parsed: RuntimeSocket | 'none';
  try {
    parsed = parseRuntimeSocket(value);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
  if (parsed === 'none') {
    if (previous !== undefined && previous.length > 0)
      throw new InvalidArgumentError('"none" cannot be combined with a socket');
    return [];
  }
  if (previous !== undefined && previous.length === 0)
    throw new InvalidArgumentError('"none" cannot be combined with a socket');
  return [...(previous ?? []), parsed];
}

/** "250ms" → 250. A lookup deadline is short by design: events of a new container wait for it. */
export function parseContainerRuntimeTimeout(value: string): number {
  const ns = parseGoDuration(value.trim());
  if (ns === undefined) throw new InvalidArgumentError('expected a duration such as 250ms or 1s');
  const ms = Math.floor(ns / 1e6);
  if (ms < 1) throw new InvalidArgumentError('the timeout must be at least 1ms');
  if (ms > 10_000) throw new InvalidArgumentError('the timeout must be at most 10s (events wait for it)');
  return ms;
}

/** `--container-runtime-socket`, shared by `run` and `cluster`; `role` says what the runtime is asked for. */
export function containerRuntimeSocketOption(role: string) {
  return new Option(
    '--container-runtime-socket <socket>',
    `${role} (repeatable): a CRI socket (containerd, CRI-O), Docker's socket, "cri:<path>"/"docker:<path>", or "none"`,
  )
    .argParser(collectRuntimeSocket)
    .default(undefined, DEFAULT_RUNTIME_SOCKETS.map((x) => x.path).join(', ') + ' (those present)');
}

/** `--container-runtime-timeout`, shared by `run` and `cluster`. */
export function containerRuntimeTimeoutOption() {
  return new Option(
    '--container-runtime-timeout <duration>',
    'deadline of one container metadata lookup; events of a container not yet known wait at most this long',
  )
    .argParser(parseContainerRuntimeTimeout)
    .default(CONTAINER_RUNTIME_DEFAULTS.timeoutMs, DEFAULT_CONTAINER_RUNTIME_TIMEOUT);
}
