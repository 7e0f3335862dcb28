/**
 * `kyverno-runtime run` end to end with the real sensor: the CLI runs as its own process (the sensor
 * never reports itself), test processes make real syscalls, and the violations must appear in the
 * store through /api/violations. Under Enforce, the process doing the forbidden mount or connect is
 * killed and the one doing the allowed one is not. SIGINT must leave no bpftrace behind and exit 0.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { openStore } from '../../../src/reports/store/index.js';
import {
  ATTACH_DEADLINE_MS,
  childrenOf,
  execFileP,
  isAlive,
  nodeChild,
  sensorSkipReason,
  whileCompilingBpftrace,
} from '../sensor/helpers.js';

const skip =
  sensorSkipReason() ??
  (process.arch === 'x64' || process.arch === 'arm64' ? undefined : 'mount syscall number unknown');
const repoRoot = resolve(import.meta.dirname, '../../..');
const MOUNT_SYSCALL = process.arch === 'arm64' ? 40 : 165;

function policy(
  name: string,
  mode: 'Audit' | 'Enforce',
  behavior: string,
  pattern: Record<string, unknown>,
): string {
  return JSON.stringify({
    apiVersion: 'runtime.kyverno.io/v1alpha1',
    kind: 'ClusterRuntimePolicy',
    metadata: { name },
    spec: {
      failureAction: mode,
      rules: [
        {
          name: `${name}-rule`,
          match: { any: [{ resources: { kinds: ['Node'] } }] },
          restrict: {
            message: `${name}: {{ event.process.binary }}`,
            behaviors: [behavior],
            pattern: { event: pattern },
            ...(mode === 'Enforce' ? { actions: [{ kill: {} }, { deletePod: {} }] } : {}),
          },
        },
      ],
    },
  });
}

/** A perl process (perl-base is always there on Debian) that mounts a tmpfs, then waits. */
function mounter(target: string, waitSeconds: number): ChildProcess {
  // perl's syscall() passes strings as pointers, but only from writable variables.
  const code = `my ($s, $t, $f) = ("kr-e2e", $ARGV[0], "tmpfs"); syscall(${MOUNT_SYSCALL}, $s, $t, $f, 0, 0) == 0 or die "mount: $!"; sleep ${waitSeconds}; exit 0`;
  return spawn('perl', ['-e', code, target], { stdio: 'ignore' });
}

/** A node process that connects to a port, then waits. */
function connector(port: number, waitMs: number): ChildProcess {
  const code = `require('net').connect(${port},'127.0.0.1').on('error',()=>{});setTimeout(()=>process.exit(0),${waitMs});`;
  return spawn(process.execPath, ['-e', code], { stdio: 'ignore' });
}

async function exitOf(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null)
    return { code: child.exitCode, signal: child.signalCode };
  const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
  return { code, signal };
}

interface ApiViolation {
  policy: string;
  rule: string;
  behavior: string;
  mode: string;
  count: number;
  resource: { kind: string; name: string };
  process?: { pid?: number; binary?: string };
}

// Generous time limits throughout: bpftrace compiles for seconds (tens of seconds on a loaded CI
// machine), and every wait below returns as soon as its condition holds.
describe('kyverno-runtime run with the sensor, end to end', { skip, timeout: 600_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'kr-run-'));
  const policies = join(dir, 'policies');
  const watched = join(dir, 'watched');
  const shellDir = join(dir, 'shell-marker');
  let cli: ChildProcess;
  let api = '';
  let stderr = '';
  let stdout = '';
  let auditServer: Server;
  let auditPort = 0;
  const forbiddenPort = 1; // never listened on: connect fails, the process stays until killed
  const mounted: string[] = [];

  async function violations(): Promise<ApiViolation[]> {
    const res = await fetch(`${api}api/violations?limit=500`);
    assert.equal(res.status, 200);
    return ((await res.json()) as { items: ApiViolation[] }).items;
  }

  async function waitForViolation(policyName: string, timeoutMs = 30_000): Promise<ApiViolation> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = (await violations()).find((x) => x.policy === policyName);
      if (v) return v;
      if (Date.now() > deadline)
        throw new Error(`no violation of ${policyName}; stderr:\n${stderr}\nstdout:\n${stdout}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  before(async () => {
    mkdirSync(policies);
    mkdirSync(watched);
    mkdirSync(shellDir);
    auditServer = createServer((s) => s.end());
    await new Promise<void>((r) => auditServer.listen(0, '127.0.0.1', r));
    auditPort = (auditServer.address() as { port: number }).port;
    const docs = [
      policy('e2e-audit-mount', 'Audit', 'volume-mount', { mount: { target: `${dir}/audit-mnt*` } }),
      policy('e2e-audit-connect', 'Audit', 'network-connect', { network: { dport: auditPort } }),
      policy('e2e-audit-write', 'Audit', 'file-write', { file: { path: `${watched}/*` } }),
      policy('e2e-audit-shell', 'Audit', 'process-exec', { process: { binary: `${shellDir}/*` } }),
      policy('e2e-audit-setuid', 'Audit', 'privilege-escalation', { privilege: { toUid: 54321 } }),
      policy('e2e-enforce-mount', 'Enforce', 'volume-mount', { mount: { target: `${dir}/forbidden*` } }),
      policy('e2e-enforce-connect', 'Enforce', 'network-connect', { network: { dport: forbiddenPort } }),
    ];
    writeFileSync(join(policies, 'e2e.yaml'), docs.join('\n---\n'));
    // `run` compiles bpftrace at start: not while the sensor tests compile theirs (see the helper).
    await whileCompilingBpftrace(() => startRun());
  });

  /** Starts `run` and resolves once it reports the sensor attached and the API listening. */
  async function startRun(): Promise<void> {
    cli = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        'src/cli/main.ts',
        'run',
        '--policies',
        policies,
        '--db',
        join(dir, 'state.db'),
        '--listen',
        '127.0.0.1:0',
        '--no-install',
        '--node-name',
        'e2e-node',
      ],
      { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    cli.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    await new Promise<void>((resolveReady, reject) => {
      const timer = setTimeout(() => reject(new Error(`run did not start:\n${stderr}`)), ATTACH_DEADLINE_MS);
      cli.stderr!.on('data', (d: Buffer) => {
        stderr += d.toString();
        const m = /api: (http:\/\/\S+\/)/.exec(stderr);
        if (m?.[1] && /running;/.test(stderr)) {
          api = m[1];
          clearTimeout(timer);
          resolveReady();
        }
      });
      cli.once('exit', (code) => reject(new Error(`run exited early (${String(code)}):\n${stderr}`)));
    });
  }

  after(async () => {
    if (cli.exitCode === null) cli.kill('SIGKILL');
    auditServer.close();
    for (const m of mounted) await execFileP('umount', [m]).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });

  test('a tmpfs mount is a volume-mount violation in the store', async () => {
    const target = join(dir, 'audit-mnt');
    mkdirSync(target);
    await execFileP('mount', ['-t', 'tmpfs', 'kr-e2e', target]);
    await execFileP('umount', [target]);
    const v = await waitForViolation('e2e-audit-mount');
    assert.equal(v.behavior, 'volume-mount');
    assert.equal(v.mode, 'Audit');
    assert.deepEqual([v.resource.kind, v.resource.name], ['Node', 'e2e-node']);
  });

  test('a loopback connect, a write under the watched dir, a shell exec and a setuid are violations', async () => {
    await nodeChild(
      `require('net').connect(${auditPort},'127.0.0.1').on('close',()=>process.exit(0)).on('error',()=>process.exit(0))`,
    );
    await nodeChild(`require('fs').writeFileSync(process.argv[1], 'x')`, [join(watched, 'f.txt')]);
    await execFileP('cp', ['/bin/sh', join(shellDir, 'sh')]);
    await execFileP(join(shellDir, 'sh'), ['-c', 'true']);
    await nodeChild('process.setuid(54321)');
    const connect = await waitForViolation('e2e-audit-connect');
    assert.equal(connect.behavior, 'network-connect');
    const write = await waitForViolation('e2e-audit-write');
    assert.equal(write.behavior, 'file-write');
    const shell = await waitForViolation('e2e-audit-shell');
    assert.equal(shell.process?.binary, join(shellDir, 'sh'));
    const setuid = await waitForViolation('e2e-audit-setuid');
    assert.equal(setuid.behavior, 'privilege-escalation');
  });

  test('Enforce: the forbidden mount is killed, the allowed one is not', async () => {
    const forbidden = join(dir, 'forbidden-mnt');
    const allowed = join(dir, 'allowed-mnt');
    mkdirSync(forbidden);
    mkdirSync(allowed);
    mounted.push(forbidden, allowed);
    const bad = mounter(forbidden, 120); // stays until killed: the kill has 2 min to arrive
    const good = mounter(allowed, 3);
    const [badExit, goodExit] = await Promise.all([exitOf(bad), exitOf(good)]);
    assert.equal(badExit.signal, 'SIGKILL', `forbidden mount not killed; stdout:\n${stdout}`);
    assert.deepEqual(goodExit, { code: 0, signal: null });
    assert.match(stdout, /kill succeeded/);
    assert.match(stdout, /deletePod unavailable: not available without a cluster/);
  });

  test('Enforce: the forbidden connect is killed, the allowed one is not', async () => {
    const bad = connector(forbiddenPort, 120_000); // stays until killed: the kill has 2 min to arrive
    const good = connector(auditPort, 3000);
    const [badExit, goodExit] = await Promise.all([exitOf(bad), exitOf(good)]);
    assert.equal(badExit.signal, 'SIGKILL');
    assert.deepEqual(goodExit, { code: 0, signal: null });
    const v = await waitForViolation('e2e-enforce-connect');
    assert.equal(v.mode, 'Enforce');
  });

  test('SIGINT: exit 0, no bpftrace left, the store kept the violations', async () => {
    const bpftrace = childrenOf(cli.pid!)
      .filter((c) => c.comm === 'bpftrace')
      .map((c) => c.pid);
    assert.equal(bpftrace.length, 1, 'expected one bpftrace child of run');
    cli.kill('SIGINT');
    const { code } = await exitOf(cli);
    assert.equal(code, 0, stderr);
    assert.ok(!isAlive(bpftrace[0]!), 'bpftrace survived run');
    // The store on disk (after WAL checkpoint) still has every policy's violation.
    const store = openStore(join(dir, 'state.db'));
    try {
      const names = new Set(store.listViolations({}, { limit: 500 }).items.map((v) => v.policy));
      for (const p of [
        'e2e-audit-mount',
        'e2e-audit-connect',
        'e2e-audit-write',
        'e2e-audit-shell',
        'e2e-audit-setuid',
        'e2e-enforce-mount',
        'e2e-enforce-connect',
      ]) {
        assert.ok(names.has(p), `store lost ${p}`);
      }
    } finally {
      store.close();
    }
    assert.match(stderr, /stopped/);
  });
});
