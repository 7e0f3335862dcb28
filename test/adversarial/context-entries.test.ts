/**
 * Attacks through rule `context` entries: event values substituted into an apiCall path (path
 * traversal, query smuggling), and a huge ConfigMap in a context file.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRuntimeEngine } from '../../src/engine/runtime/index.js';
import { formatPolicyError, loadPolicyText } from '../../src/policy/index.js';
import { loadContextFiles, MAX_CONTEXT_VALUE_BYTES } from '../../src/policy/context-file.js';
import type { ContextProvider } from '../../src/engine/runtime/index.js';
import type { RuntimeEvent } from '../../src/events/types.js';

const POLICY = `apiVersion: runtime.kyverno.io/v1alpha1
kind: ClusterRuntimePolicy
metadata: {name: lookup}
spec:
  rules:
    - name: by-binary
      match: {any: [{resources: {kinds: [Pod]}}]}
      context:
        - name: info
          apiCall:
            urlPath: "/api/v1/namespaces/{{ request.object.metadata.namespace }}/configmaps/{{ event.process.args[0] }}"
            jmesPath: data.verdict
      restrict:
        behaviors: [process-exec]
        message: "{{ info }}"
        conditions:
          all: [{key: "{{ info }}", operator: Equals, value: deny}]
`;

const ev = (arg: string): RuntimeEvent => ({
  id: 'e',
  time: '2026-11-26T12:00:00Z',
  source: 'test',
  behavior: 'process-exec',
  process: { pid: 1, binary: '/bin/x', args: [arg] },
  pod: { namespace: 'prod', name: 'web-1' },
});

test('event values in an apiCall path are URL-encoded once: no traversal, no query, no second substitution', () => {
  const loaded = loadPolicyText(POLICY, 'p.yaml');
  assert.deepEqual(loaded.errors.map(formatPolicyError), []);
  const asked: string[] = [];
  const provider: ContextProvider = {
    configMap: () => undefined,
    apiCall: (path) => {
      asked.push(path);
      return path === '/api/v1/namespaces/prod/configmaps/flagged'
        ? { data: { verdict: 'deny' } }
        : undefined;
    },
    globalReference: () => undefined,
  };
  const engine = createRuntimeEngine(loaded.policies, { context: provider });
  assert.equal(engine.evaluate(ev('flagged')).length, 1, 'the everyday lookup works');
  for (const arg of ['../../../secrets/token', 'x?labelSelector=a', 'x#frag', '{{ request.object }}', '..'])
    assert.equal(engine.evaluate(ev(arg)).length, 0);
  assert.deepEqual(asked, [
    '/api/v1/namespaces/prod/configmaps/flagged',
    '/api/v1/namespaces/prod/configmaps/..%2F..%2F..%2Fsecrets%2Ftoken',
    '/api/v1/namespaces/prod/configmaps/x%3FlabelSelector%3Da',
    '/api/v1/namespaces/prod/configmaps/x%23frag',
    '/api/v1/namespaces/prod/configmaps/%7B%7B%20request.object%20%7D%7D',
  ]);
  const errors = engine.takeRuleErrors();
  assert.equal(errors.count, 5, 'unanswered lookups and a bare `..` are rule errors, never a pass');
  assert.ok(errors.recent.every((e) => e.reason === 'context'));
});

test('apiCall service calls and non-GET methods fail to load with file:line:col', () => {
  const service = POLICY.replace('urlPath: "/api', 'service: {url: "http://x"}\n            urlPath: "/api');
  assert.match(
    loadPolicyText(service, 'p.yaml').errors.map(formatPolicyError).join('\n'),
    /p\.yaml:11:\d+: apiCall\.service is not supported/,
  );
  const post = POLICY.replace('urlPath: "/api', 'method: POST\n            urlPath: "/api');
  assert.match(
    loadPolicyText(post, 'p.yaml').errors.map(formatPolicyError).join('\n'),
    /p\.yaml:11:\d+: only GET/,
  );
});

test('a ConfigMap over the size limit in a context file is refused with its place, the others load', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kr-adv-ctx-'));
  try {
    const file = join(dir, 'context.yaml');
    writeFileSync(
      file,
      `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: small, namespace: prod}\ndata: {a: b}\n---\n` +
        `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: huge, namespace: prod}\ndata:\n  blob: ${'x'.repeat(MAX_CONTEXT_VALUE_BYTES + 10)}\n`,
    );
    const { provider, errors } = await loadContextFiles([file]);
    assert.equal(errors.length, 1);
    assert.match(
      formatPolicyError(errors[0]!),
      /context\.yaml:6:1: ConfigMap huge is \d+ bytes, over the 1048576-byte limit/,
    );
    assert.equal(provider.configMap('prod', 'huge'), undefined);
    assert.deepEqual(provider.configMap('prod', 'small')?.data, { a: 'b' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
