import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ActionExecutor } from '../../../src/actions/executor.js';
import { releasePod } from '../../../src/cli/commands/release.js';
import { PodCache } from '../../../src/k8s/pod-cache.js';
import type { FakeApiServer } from './fake-apiserver/server.js';
import { seedPod, startCluster, verdictFor, WAIT_MS, waitFor } from './helpers.js';

/** Async: the fake API server runs in this process and must keep answering while the CLI runs. */
function cli(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', ...args],
      { encoding: 'utf8', timeout: 60_000 },
      (err, stdout, stderr) => {
        resolve({ status: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr });
      },
    );
  });
}

describe('kyverno-runtime release', () => {
  let server: FakeApiServer;
  let cache: PodCache;
  before(async () => {
    server = await startCluster();
    cache = new PodCache({ kubeConfig: server.kubeConfig() });
    await cache.start(WAIT_MS);
  });
  after(async () => {
    await cache.stop();
    await server.close();
  });

  it('removes the NetworkPolicy and the quarantine label that isolate added', async () => {
    const pod = seedPod(server, 'suspect');
    await waitFor(() => cache.byName('shop', 'suspect') !== undefined);
    const executor = new ActionExecutor({ kubeConfig: server.kubeConfig(), lookup: cache });
    const [o] = await executor.execute(verdictFor(pod, [{ isolate: {} }]));
    assert.equal(o!.outcome, 'succeeded');
    assert.ok(server.get('networking.k8s.io/v1', 'NetworkPolicy', 'shop', 'kyverno-runtime-isolate-suspect'));

    const r = await releasePod(server.kubeConfig(), 'shop', 'suspect');
    assert.deepEqual(r, { networkPolicy: 'deleted', pod: 'unlabelled' });
    assert.equal(
      server.get('networking.k8s.io/v1', 'NetworkPolicy', 'shop', 'kyverno-runtime-isolate-suspect'),
      undefined,
    );
    const now = server.get('v1', 'Pod', 'shop', 'suspect')!;
    assert.equal(now.metadata.labels?.['runtime.kyverno.io/quarantine'], undefined);
    assert.equal(now.metadata.labels?.app, 'suspect', 'other labels untouched');
    assert.deepEqual(await releasePod(server.kubeConfig(), 'shop', 'suspect'), {
      networkPolicy: 'absent',
      pod: 'unlabelled',
    });
  });

  it('works from the command line with --kubeconfig', async () => {
    const pod = seedPod(server, 'cli-suspect');
    await waitFor(() => cache.byName('shop', 'cli-suspect') !== undefined);
    await new ActionExecutor({ kubeConfig: server.kubeConfig(), lookup: cache }).execute(
      verdictFor(pod, [{ isolate: {} }]),
    );
    const dir = mkdtempSync(join(tmpdir(), 'kr-release-'));
    const kubeconfig = join(dir, 'config');
    writeFileSync(kubeconfig, server.kubeConfigYaml());
    const r = await cli(['release', '--kubeconfig', kubeconfig, 'shop/cli-suspect']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /shop\/cli-suspect: NetworkPolicy deleted/);
    assert.equal(
      server.get('networking.k8s.io/v1', 'NetworkPolicy', 'shop', 'kyverno-runtime-isolate-cli-suspect'),
      undefined,
    );
  });
});
