/**
 * `run --store-max-violations / --store-retention`: the flag grammar (and its refusals, through the
 * real CLI), and the limits reaching the store of a running local mode fed real Tetragon samples.
 */
import { waitFor } from '../../support/wait.js';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startLocalMode } from '../../../src/app/local.js';
import { TerminalSink } from '../../../src/cli/run/terminal.js';
import { parseRetentionAge, parseRowCap } from '../../../src/cli/run/store-retention.js';

const repoRoot = resolve(import.meta.dirname, '../../..');
const sampleLine = readFileSync(
  fileURLToPath(new URL('../../../../shared/samples/tetragon/testdata-events.jsonl', import.meta.url)),
  'utf8',
).split('\n')[0]!;

/** The real sample, as if it happened in pod `name`. */
function inPod(name: string): string {
  const r = JSON.parse(sampleLine) as {
    process_exec: { process: { exec_id: string; pod: { name: string } } };
  };
  r.process_exec.process.exec_id = `exec-${name}`;
  r.process_exec.process.pod.name = name;
  return JSON.stringify(r) + '\n';
}

describe('store retention flags', () => {
  it('parse days and Go-style units, "off" and 0; refuse the rest', () => {
    assert.equal(parseRetentionAge('30d'), 30 * 86_400_000);
    assert.equal(parseRetentionAge('1d12h'), 36 * 3_600_000);
    assert.equal(parseRetentionAge('90m'), 90 * 60_000);
    assert.equal(parseRetentionAge('45s'), 45_000);
    assert.equal(parseRetentionAge('off'), 0);
    assert.equal(parseRetentionAge('0'), 0);
    for (const bad of ['', '30', '1w', '-1d', '1.5h', 'd', '30d ago'])
      assert.throws(() => parseRetentionAge(bad), /expected a duration/, bad);
    assert.equal(parseRowCap('100000'), 100_000);
    assert.equal(parseRowCap('0'), 0);
    for (const bad of ['-1', '1e3', 'lots', '', '99999999999999999999'])
      assert.throws(() => parseRowCap(bad), /non-negative integer/, bad);
  });

  it('a bad value makes `run` exit 1 with the reason, before anything starts', () => {
    const r = spawnSync(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', 'run', '--store-retention', '2weeks', '--print-program'],
      { cwd: repoRoot, encoding: 'utf8', timeout: 120_000 },
    );
    assert.equal(r.status, 1);
    assert.match(r.stderr, /option '--store-retention <age>' argument '2weeks' is invalid/);
  });

  it('cap the store of a running local mode', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kr-run-retention-'));
    const input = join(dir, 'tetragon.log');
    const policy = join(dir, 'policy.yaml');
    writeFileSync(input, '');
    writeFileSync(
      policy,
      `apiVersion: runtime.kyverno.io/v1alpha1
kind: ClusterRuntimePolicy
metadata: {name: netserver-exec}
spec:
  rules:
    - name: no-netserver
      match: {any: [{resources: {kinds: [Pod]}}]}
      restrict:
        message: netserver started
        behaviors: [process-exec]
        pattern: {event: {process: {binary: "*/netserver"}}}
`,
    );
    const handle = await startLocalMode({
      policies: [policy],
      source: 'file',
      format: 'tetragon',
      file: input,
      nodeName: 'node-test',
      db: join(dir, 'state.db'),
      storeRetention: { maxViolations: 2, maxAgeMs: 0 },
      install: false,
      logLevel: 'silent',
      logFile: join(dir, 'run.log'),
      actionMode: 'audit',
      say: () => undefined,
      terminal: new TerminalSink({ out: new Writable({ write: (_c, _e, done) => done() }) }),
    });
    try {
      const storedNames = (): string[] =>
        handle.store
          .listViolations()
          .items.map((v) => v.resource.name)
          .sort();
      // Waits on the store's state, not on a sleep: the pruning happens in the commit tick.
      const until = (what: string, ok: () => boolean): Promise<void> =>
        waitFor(ok, 30_000, () => `${what}; stored: ${storedNames().join(', ')}`);
      appendFileSync(input, ['job-a', 'job-b', 'job-c', 'job-d'].map(inPod).join(''));
      await until('4 events not evaluated', () => handle.pipeline.stats().evaluated >= 4);
      await handle.pipeline.drain();
      await until('not pruned to the cap of 2', () => storedNames().join() === 'job-c,job-d');
      appendFileSync(input, inPod('job-e'));
      await until('5th event not evaluated', () => handle.pipeline.stats().evaluated >= 5);
      await handle.pipeline.drain();
      // The least recently seen row goes first.
      await until('not pruned to the newest 2', () => storedNames().join() === 'job-d,job-e');
    } finally {
      await handle.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
