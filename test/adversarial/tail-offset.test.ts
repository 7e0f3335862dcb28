/**
 * The file tail keeps its position across restarts of `run` (real process, real file): lines
 * written while the agent is down are evaluated when it comes back, also when the file was rotated
 * meanwhile, and a crash (SIGKILL) loses nothing either (at-least-once: re-reading is allowed).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadTailState } from '../../src/sources/file-tail/index.js';

const repoRoot = resolve(import.meta.dirname, '../..');
const sampleLine = readFileSync(
  fileURLToPath(new URL('../../../shared/samples/tetragon/testdata-events.jsonl', import.meta.url)),
  'utf8',
).split('\n')[0]!;

/** The real Tetragon exec sample as if it happened in pod `p-<i>`: one verdict per line. */
function lines(from: number, to: number): string {
  const r = JSON.parse(sampleLine) as {
    process_exec: { process: { exec_id: string; pod: { name: string } } };
  };
  let out = '';
  for (let i = from; i < to; i++) {
    r.process_exec.process.exec_id = `exec-${i}`;
    r.process_exec.process.pod.name = `p-${i}`;
    out += JSON.stringify(r) + '\n';
  }
  return out;
}

const POLICY = `apiVersion: runtime.kyverno.io/v1alpha1
kind: ClusterRuntimePolicy
metadata: {name: every-exec}
spec:
  rules:
    - name: any-exec
      match: {any: [{resources: {kinds: [Pod]}}]}
      restrict:
        message: exec
        behaviors: [process-exec]
        pattern: {event: {process: {binary: "*"}}}
`;

describe('file tail position across restarts of run', () => {
  let dir: string;
  let file: string;
  let policy: string;
  let statePath: string;
  /** Pod indexes seen in verdict lines, with how often, over every run. */
  const seen = new Map<number, number>();
  let cli: ChildProcess | undefined;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'kr-tail-offset-'));
    file = join(dir, 'tetragon.log');
    policy = join(dir, 'policy.yaml');
    statePath = join(dir, 'custom', 'offset.json');
    writeFileSync(policy, POLICY);
    writeFileSync(file, '');
  });
  after(() => {
    if (cli && cli.exitCode === null) cli.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  async function start(): Promise<void> {
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        'src/cli/main.ts',
        'run',
        '--source',
        'tetragon-file',
        '--file',
        file,
        '--tail-state',
        statePath,
        '--policies',
        policy,
        '--db',
        join(dir, 'state.db'),
        '--listen',
        'off',
        '--log-file',
        '-',
        '--log-level',
        'warn',
      ],
      { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    cli = child;
    let pending = '';
    child.stdout.on('data', (d: Buffer) => {
      pending += d.toString();
      const parts = pending.split('\n');
      pending = parts.pop()!;
      for (const l of parts) {
        const m = /Pod\/\S+\/p-(\d+)/.exec(l);
        if (m) seen.set(Number(m[1]), (seen.get(Number(m[1])) ?? 0) + 1);
      }
    });
    let stderr = '';
    await new Promise<void>((ok, fail) => {
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
        if (stderr.includes('running;')) ok();
      });
      child.once('exit', (code) => fail(new Error(`run exited (${String(code)}):\n${stderr}`)));
    });
  }

  async function stop(signal: NodeJS.Signals): Promise<void> {
    const child = cli!;
    if (child.exitCode !== null) return;
    await new Promise<void>((ok) => {
      child.once('exit', () => ok());
      child.kill(signal);
    });
  }

  async function seenAll(n: number): Promise<void> {
    const end = Date.now() + 60_000;
    while ([...Array(n).keys()].some((i) => !seen.has(i))) {
      if (Date.now() > end) {
        const missing = [...Array(n).keys()].filter((i) => !seen.has(i));
        throw new Error(`${missing.length} of ${n} lines never evaluated (first: ${missing[0]})`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  it('evaluates every line written while run was stopped, each once, at the flag-given path', async () => {
    await start();
    appendFileSync(file, lines(0, 2000));
    await seenAll(2000);
    await stop('SIGTERM');
    const state = await loadTailState(statePath);
    assert.equal(state?.offset, readFileSync(file).length, 'position saved at the end of the last line');
    appendFileSync(file, lines(2000, 5000)); // the agent is down
    await start();
    await seenAll(5000);
    await stop('SIGTERM');
    assert.deepEqual(
      [...seen.values()].filter((c) => c !== 1),
      [],
      'a graceful stop re-reads nothing',
    );
  });

  it('finishes the rotated file before the new one when rotation happened while down', async () => {
    appendFileSync(file, lines(5000, 5500));
    renameSync(file, `${file}.1`); // lumberjack-style rotation: rename, then create anew
    writeFileSync(file, lines(5500, 6000));
    await start();
    await seenAll(6000);
    await stop('SIGTERM');
    const state = await loadTailState(statePath);
    assert.equal(state?.offset, readFileSync(file).length);
    assert.equal(seen.size, 6000);
  });

  it('loses no line when run is killed with SIGKILL mid-stream (at-least-once)', async () => {
    await start();
    appendFileSync(file, lines(6000, 16_000));
    // Kill while it is still working through the burst.
    const end = Date.now() + 60_000;
    while (![...Array(50).keys()].some((i) => seen.has(6000 + i))) {
      if (Date.now() > end) throw new Error('nothing evaluated');
      await new Promise((r) => setTimeout(r, 5));
    }
    await stop('SIGKILL');
    appendFileSync(file, lines(16_000, 17_000));
    await start();
    await seenAll(17_000);
    await stop('SIGTERM');
  });
});
