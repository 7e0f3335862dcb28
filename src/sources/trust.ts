/**
 * Which inputs may be trusted to name host processes (the `kill` action acts on their events).
 * Marking an input trusted is the operator's decision, and it is refused at start unless the input
 * is authenticated, because a pid, start time and binary in an event are whatever the sender wrote:
 * - the built-in sensor: always (it reads the kernel, nobody sends it events);
 * - a file (Tetragon export or other): only if only root can write it or replace it — the file, the
 *   directories on its path and its resolved path are owned by root and not writable by group or
 *   others (a sticky world-writable directory does not count: after a rotation anyone could create
 *   the next file);
 * - Tetragon gRPC: only over a unix socket whose path passes the same check;
 * - HTTP / TCP: only with a token (`--source-token-file`, `--http-token-file`) or on a unix socket
 *   (`unix:<path>` listen address);
 * - stdin: never (any process feeding the pipe could write anything).
 */
import { KyvernoRuntimeError } from '../contracts/errors.js';
import { lstatSync, realpathSync, type Stats } from 'node:fs';
import { dirname, resolve } from 'node:path';

export class SourceTrustError extends KyvernoRuntimeError {
  constructor(message: string) {
    super('E_SOURCE_TRUST', message);
  }
}

const GROUP_OR_OTHER_WRITE = 0o022;

function ownedProblem(path: string, st: Stats, what: string): string | undefined {
  if (st.uid !== 0) return `${what} ${path} is owned by uid ${st.uid}, not root`;
  // A symlink's mode means nothing; a socket's write bit lets others connect as clients, not serve.
  if (!st.isSymbolicLink() && !st.isSocket() && (st.mode & GROUP_OR_OTHER_WRITE) !== 0) {
    return `${what} ${path} is writable by group or others (mode ${(st.mode & 0o7777).toString(8)})`;
  }
  return undefined;
}

/** Each prefix of an absolute path, from "/" to the path itself. */
function prefixes(path: string): string[] {
  const out: string[] = [];
  for (let p = path; ; p = dirname(p)) {
    out.unshift(p);
    if (dirname(p) === p) return out;
  }
}

/**
 * Why a non-root user could write or replace `path` (a file or socket), or undefined when only root
 * can. Both the path as given (symlinks included) and its resolved target are checked.
 */
export function rootOnlyPathProblem(path: string): string | undefined {
  const given = resolve(path);
  let real: string;
  try {
    real = realpathSync(given);
  } catch (err) {
    return `${given}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`;
  }
  for (const full of new Set([given, real])) {
    for (const p of prefixes(full)) {
      let st: Stats;
      try {
        st = lstatSync(p);
      } catch (err) {
        return `${p}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`;
      }
      const what = p === full ? 'file' : st.isSymbolicLink() ? 'symlink' : 'directory';
      const problem = ownedProblem(p, st, what);
      if (problem) return problem;
    }
  }
  return undefined;
}

/** The path of a `unix:` address (`unix:/p`, `unix:///p`), or undefined for anything else. */
export function unixSocketPath(address: string | undefined): string | undefined {
  if (address === undefined || !address.startsWith('unix:')) return undefined;
  const rest = address.slice('unix:'.length);
  return rest.startsWith('//') ? rest.slice(2) : rest;
}

export interface KillTrustInput {
  /** sensor | tetragon-file | file | stdin | http | tcp | tetragon-grpc */
  kind: string;
  /** The flag that asked for trust, for the error message. */
  flag: string;
  /** For file sources. */
  file?: string;
  /** For tetragon-grpc. */
  tetragonTarget?: string;
  /** For http/tcp: the listen address as given (`unix:<path>` = a unix socket). */
  listen?: string;
  /** For http/tcp: the token file, when one is required of senders. */
  tokenFile?: string;
}

/** Why the input cannot be trusted to name host processes, or undefined when it can. */
export function killTrustProblem(input: KillTrustInput): string | undefined {
  const refuse = (why: string): string =>
    `${input.flag}: the ${input.kind} source cannot be trusted to name host processes: ${why}`;
  switch (input.kind) {
    case 'sensor':
      return undefined;
    case 'tetragon-file':
    case 'file': {
      if (input.file === undefined) return refuse('no file given');
      const problem = rootOnlyPathProblem(input.file);
      return problem
        ? refuse(`${problem}; only a file that only root can write is authenticated`)
        : undefined;
    }
    case 'tetragon-grpc': {
      const socket = unixSocketPath(input.tetragonTarget);
      if (socket === undefined) {
        return refuse(
          `${input.tetragonTarget ?? 'the target'} is not a unix socket; gRPC over TCP carries no authentication`,
        );
      }
      const problem = rootOnlyPathProblem(socket);
      return problem
        ? refuse(`${problem}; only a socket that only root can create is authenticated`)
        : undefined;
    }
    case 'http':
    case 'tcp':
      if (input.tokenFile !== undefined || unixSocketPath(input.listen) !== undefined) return undefined;
      return refuse('senders are not authenticated; give a token file or listen on a unix:<path> socket');
    default:
      return refuse('anything that writes to it can write any pid');
  }
}
