/**
 * What each command loads. The Kubernetes client's module graph (every generated model) and gRPC are
 * most of an idle agent's memory, so local mode must never load them, and the cluster-only commands
 * must load them only when they run, with their startup errors as clear as before.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const repo = resolve(import.meta.dirname, '../../..');

/** A resolve hook that appends every module URL the process resolves to `log`. */
function recorder(log: string): string {
  const hooks = `import { appendFileSync } from 'node:fs';
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  appendFileSync(${JSON.stringify(log)}, r.url + '\\n');
  return r;
}`;
  const register = `import { register } from 'node:module';
register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(hooks)}`)});`;
  return `data:text/javascript,${encodeURIComponent(register)}`;
}

/** Runs the CLI with `args`; returns its result and the packages it loaded. */
function cli(args: string[]): {
  status: number | null;
  stdout: string;
  stderr: string;
  packages: Set<string>;
} {
  const dir = mkdtempSync(join(tmpdir(), 'kr-footprint-'));
  const log = join(dir, 'modules.log');
  try {
    const r = spawnSync(
      process.execPath,
      ['--import', 'tsx', '--import', recorder(log), join(repo, 'src/cli/main.ts'), ...args],
      { cwd: repo, encoding: 'utf8', timeout: 120_000 },
    );
    let urls = '';
    try {
      urls = readFileSync(log, 'utf8');
    } catch {
      // Nothing resolved: the process failed before loading anything (the assertions say so).
    }
    const packages = new Set([...urls.matchAll(/node_modules\/((?:@[^/]+\/)?[^/]+)\//g)].map((m) => m[1]!));
    return { status: r.status, stdout: r.stdout, stderr: r.stderr, packages };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const CLUSTER_ONLY = ['@kubernetes/client-node', '@grpc/grpc-js', '@grpc/proto-loader'];

test('run (local mode) generates its sensor program without loading the Kubernetes client or gRPC', () => {
  const r = cli(['run', '--print-program', '-p', join(repo, 'policies')]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /tracepoint:/, 'the bpftrace program was printed');
  // The recorder saw the run's own modules: a broken recorder would pass the next assertion.
  assert.ok(
    r.packages.has('@commander-js/extra-typings') && r.packages.has('yaml'),
    [...r.packages].join(' '),
  );
  assert.deepEqual(
    CLUSTER_ONLY.filter((p) => r.packages.has(p)),
    [],
    'local mode loaded cluster-only packages',
  );
});

test('cluster --help shows its defaults without loading the Kubernetes client', () => {
  const r = cli(['cluster', '--help']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /--report-interval <seconds>[\s\S]*\(default: 10\)/);
  assert.match(r.stdout, /--report-max-results <n>[\s\S]*\(default: 1000\)/);
  assert.equal(r.packages.has('@kubernetes/client-node'), false);
});

test('release --help names the quarantine label without loading the Kubernetes client', () => {
  const r = cli(['release', '--help']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /runtime\.kyverno\.io\/quarantine/);
  assert.equal(r.packages.has('@kubernetes/client-node'), false);
});

test('cluster with a missing kubeconfig still refuses to start with a clear message once the client is loaded', () => {
  const missing = join(tmpdir(), 'kr-footprint-no-such-kubeconfig');
  const r = cli(['cluster', `--kubeconfig=${missing}`, '--policies', join(repo, 'policies')]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, new RegExp(`kyverno-runtime cluster: kubeconfig ${missing} does not exist`));
  assert.ok(r.packages.has('@kubernetes/client-node'), 'the cluster command loads the client when it runs');
});

test('release with a missing kubeconfig exits 1 with the error, the client loaded on use', () => {
  const missing = join(tmpdir(), 'kr-footprint-no-such-kubeconfig');
  const r = cli(['release', 'default/web-1', `--kubeconfig=${missing}`]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /release: .*kubeconfig .* does not exist/);
});
