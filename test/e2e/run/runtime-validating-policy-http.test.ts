/**
 * `kyverno-runtime run` with the RuntimeValidatingPolicy, fed through the HTTP source as a
 * sender would post events: the violation reaches the store with the messageExpression's text, an
 * allowed binary and a shell outside prod- namespaces do not.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const repoRoot = resolve(import.meta.dirname, '../../..');

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

interface ApiViolation {
  policy: string;
  message: string;
  count: number;
  resource: { kind: string; namespace?: string; name: string };
}

describe('run: a RuntimeValidatingPolicy over events posted to the HTTP source', { timeout: 180_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'kr-rvp-http-'));
  let cli: ChildProcess;
  let api = '';
  let sourcePort = 0;
  let stderr = '';

  before(async () => {
    mkdirSync(join(dir, 'policies'));
    copyFileSync(
      join(repoRoot, 'docs/examples/no-shell-in-prod/policy.yaml'),
      join(dir, 'policies/policy.yaml'),
    );
    sourcePort = await freePort();
    cli = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        'src/cli/main.ts',
        'run',
        '--source',
        'http',
        '--source-listen',
        `127.0.0.1:${sourcePort}`,
        '--policies',
        join(dir, 'policies'),
        '--db',
        join(dir, 'state.db'),
        '--listen',
        '127.0.0.1:0',
        '--no-install',
      ],
      { cwd: repoRoot, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    await new Promise<void>((ready, reject) => {
      const timer = setTimeout(() => reject(new Error(`run did not start:\n${stderr}`)), 120_000);
      cli.stderr!.on('data', (d: Buffer) => {
        stderr += d.toString();
        const m = /api: (http:\/\/\S+\/)/.exec(stderr);
        if (m?.[1] && /running;/.test(stderr)) {
          api = m[1];
          clearTimeout(timer);
          ready();
        }
      });
      cli.once('exit', (code) => reject(new Error(`run exited early (${String(code)}):\n${stderr}`)));
    });
  });

  after(() => {
    if (cli.exitCode === null) cli.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  const exec = (id: string, binary: string, namespace: string, name: string) => ({
    id,
    time: '2026-11-26T12:00:00Z',
    source: 'tetragon',
    behavior: 'process-exec',
    process: { pid: 100, uid: 0, binary, args: ['-i'] },
    container: { id: `c-${id}`, name: 'web' },
    pod: { namespace, name },
  });

  async function violations(): Promise<ApiViolation[]> {
    const res = await fetch(`${api}api/violations?limit=100`);
    assert.equal(res.status, 200);
    return ((await res.json()) as { items: ApiViolation[] }).items;
  }

  test('a shell in a prod- namespace is a violation with the messageExpression text; the others are not', async () => {
    const body = [
      exec('e1', '/usr/sbin/nginx', 'prod-shop', 'web-2'),
      exec('e2', '/bin/bash', 'dev-shop', 'web-3'),
      exec('e3', '/bin/bash', 'prod-shop', 'web-1'),
    ]
      .map((e) => JSON.stringify(e))
      .join('\n');
    const res = await fetch(`http://127.0.0.1:${sourcePort}/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-ndjson' },
      body,
    });
    assert.equal(res.status, 202);
    const deadline = Date.now() + 30_000;
    let found: ApiViolation[] = [];
    while (Date.now() < deadline) {
      found = (await violations()).filter((v) => v.policy === 'no-shell-in-prod');
      if (found.length > 0) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.deepEqual(
      found.map((v) => [v.message, v.resource.namespace, v.resource.name, v.count]),
      [['shell /bin/bash in web-1', 'prod-shop', 'web-1', 1]],
      stderr,
    );
  });
});
