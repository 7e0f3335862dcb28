/**
 * A FIFO (or socket, or an oversized file) in a policy folder must not hang or exhaust `validate`,
 * `run` or the loader: only regular files are read (non-blocking open, type checked on the opened
 * descriptor), each at most MAX_POLICY_FILE_BYTES, and every refusal is an error naming the path.
 */
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { registry } from '../../src/observability/metrics.js';
import { loadPolicies, MAX_POLICY_FILE_BYTES } from '../../src/policy/index.js';

const repoRoot = resolve(import.meta.dirname, '../..');
const GOOD = `apiVersion: runtime.kyverno.io/v1alpha1
kind: ClusterRuntimePolicy
metadata: {name: good}
spec:
  rules:
    - name: r
      match: {any: [{resources: {kinds: [Pod]}}]}
      restrict:
        behaviors: [process-exec]
        pattern: {event: {process: {binary: "/bin/sh"}}}
`;

async function rejected(reason: string): Promise<number> {
  const m = await registry.getSingleMetric('kyverno_runtime_policy_files_rejected_total')!.get();
  return m.values.find((v) => v.labels.reason === reason)?.value ?? 0;
}

/** Fails the test instead of hanging it. */
function within<T>(ms: number, p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, fail) => {
      timer = setTimeout(() => fail(new Error(`${what} still blocked after ${ms} ms`)), ms);
    }),
  ]);
}

describe('policy folders with FIFOs, sockets and huge files', () => {
  let dir: string;
  let sock: Server;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kr-policy-fifo-'));
    mkdirSync(join(dir, 'policies'));
    writeFileSync(join(dir, 'policies', 'a-good.yaml'), GOOD);
    execFileSync('mkfifo', [join(dir, 'policies', 'b-fifo.yaml')]);
    symlinkSync(join(dir, 'policies', 'b-fifo.yaml'), join(dir, 'policies', 'c-link-to-fifo.yaml'));
    sock = createServer();
    await new Promise<void>((r) => sock.listen(join(dir, 'policies', 'd-socket.yaml'), r));
    writeFileSync(join(dir, 'policies', 'e-huge.yaml'), Buffer.alloc(MAX_POLICY_FILE_BYTES + 1, 0x23));
  });
  after(() => {
    sock.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the loader returns promptly with one error per bad file and still loads the good one', async () => {
    const fifos = await rejected('not-regular-file');
    const huge = await rejected('too-large');
    const r = await within(10_000, loadPolicies([join(dir, 'policies')]), 'loadPolicies');
    assert.deepEqual(
      r.policies.map((p) => p.name),
      ['good'],
    );
    const byFile = new Map(r.errors.map((e) => [e.file.slice(dir.length + 10), e.message]));
    assert.match(byFile.get('b-fifo.yaml') ?? '', /cannot read: a FIFO, not a regular file/);
    assert.match(byFile.get('c-link-to-fifo.yaml') ?? '', /cannot read: a FIFO, not a regular file/);
    assert.match(byFile.get('d-socket.yaml') ?? '', /cannot read: /);
    assert.match(byFile.get('e-huge.yaml') ?? '', new RegExp(`larger than ${MAX_POLICY_FILE_BYTES} bytes`));
    assert.equal(r.errors.length, 4);
    assert.equal(await rejected('not-regular-file'), fifos + 2);
    assert.equal(await rejected('too-large'), huge + 1);
  });

  it('a FIFO named directly on the command line is refused the same way', async () => {
    const r = await within(10_000, loadPolicies([join(dir, 'policies', 'b-fifo.yaml')]), 'loadPolicies');
    assert.equal(r.errors.length, 1);
    assert.equal(r.errors[0]!.file, join(dir, 'policies', 'b-fifo.yaml'));
    assert.equal(`${r.errors[0]!.line}:${r.errors[0]!.col}`, '1:1');
  });

  it('`validate` exits 1 promptly, printing file:line:col for the FIFO', async () => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', 'validate', join(dir, 'policies')],
      { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const code = await within(
      60_000,
      new Promise<number | null>((r) => child.once('exit', r)),
      'validate',
    ).finally(() => child.kill('SIGKILL'));
    assert.equal(code, 1, out);
    assert.ok(
      out.includes(`${join(dir, 'policies', 'b-fifo.yaml')}:1:1: cannot read: a FIFO, not a regular file`),
      out,
    );
    assert.match(out, /ok ClusterRuntimePolicy\/good/);
    assert.match(out, /1 valid, 4 errors/);
  });
});
