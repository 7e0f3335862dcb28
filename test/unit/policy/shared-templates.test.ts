/**
 * Policies that share a message text share one compiled template (a pure function of the text),
 * and each still renders its own event's values.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadPolicyText } from '../../../src/policy/index.js';

function policy(name: string, message: string): string {
  return `apiVersion: runtime.kyverno.io/v1alpha1
kind: ClusterRuntimePolicy
metadata:
  name: ${name}
spec:
  rules:
    - name: r
      match:
        any:
          - resources:
              kinds: [Pod]
      restrict:
        message: ${JSON.stringify(message)}
        behaviors: [process-exec]
        pattern:
          event:
            process:
              binary: '*/${name}'
`;
}

test('identical message texts compile to one template; different texts do not', () => {
  const same = 'binary {{ event.process.binary }} in {{ request.object.metadata.name }}';
  const r = loadPolicyText(
    [policy('a', same), policy('b', same), policy('c', `${same} (c)`)].join('---\n'),
    'shared.yaml',
  );
  assert.deepEqual(r.errors, []);
  const [a, b, c] = r.policies.map((p) => p.rules[0]!.restrict!.message!);
  assert.equal(a, b, 'one compiled template for one text');
  assert.notEqual(a, c);
  const render = (t: typeof a, binary: string, pod: string): unknown =>
    t!.render({ event: { process: { binary } }, request: { object: { metadata: { name: pod } } } });
  assert.equal(render(a, '/bin/sh', 'web-1'), 'binary /bin/sh in web-1');
  assert.equal(render(b, '/usr/bin/nc', 'db-0'), 'binary /usr/bin/nc in db-0');
  assert.equal(render(c, '/bin/sh', 'web-1'), 'binary /bin/sh in web-1 (c)');
});

test('a bad template is an error at its own place in every policy that holds it (failures are not cached)', () => {
  const bad = 'binary {{ event.process.[ }}';
  const r = loadPolicyText([policy('a', bad), policy('b', bad)].join('---\n'), 'bad.yaml');
  assert.equal(r.policies.length, 0);
  assert.deepEqual(
    r.errors.map((e) => [e.policy, e.line, e.col]),
    [
      ['a', 13, 18],
      ['b', 32, 18],
    ],
  );
  for (const e of r.errors) assert.match(e.message, /invalid message: failed to parse JMESPath/);
});
