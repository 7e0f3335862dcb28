// CEL's direct evaluator on hostile events: an event names its own binary, file paths, labels and
// keys, so a value that looks like CEL, a key that names a prototype, a deep or huge value must get
// exactly what cel-js gives — compared as data, a rule error (counted) where cel-js errs, never a
// crash or a verdict the policy did not write.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createRuntimeEngine } from '../../src/engine/runtime/index.js';
import type { RuntimeEngine } from '../../src/engine/api/runtime.js';
import { loadPolicyText } from '../../src/policy/index.js';
import { adaptLine } from '../../src/events/adapters/index.js';
import type { RuntimeEvent } from '../../src/events/types.js';

const POLICY = `apiVersion: runtime.kyverno.io/v1alpha1
kind: RuntimeValidatingPolicy
metadata: {name: no-shell}
spec:
  validationActions: [Audit]
  behaviors: [process-exec]
  matchConstraints:
    resourceRules:
      - {apiGroups: [''], apiVersions: [v1], resources: [pods], operations: ['*']}
  validations:
    - expression: "!(event.process.binary.endsWith('/sh') || event.process.binary.matches('^/usr/bin/(a+)+$'))"
      message: shell
`;

function engine(): RuntimeEngine {
  const loaded = loadPolicyText(POLICY, 'p.yaml');
  assert.deepEqual(loaded.errors, []);
  return createRuntimeEngine(loaded.policies);
}

/** A Tetragon exec record as the tool writes it, with the process fields the attacker chose. */
function tetragonLine(process: Record<string, unknown>): string {
  return JSON.stringify({
    process_exec: {
      process: {
        exec_id: 'ZXhlYw',
        pid: 4242,
        uid: 0,
        start_time: '2026-11-26T12:00:00Z',
        pod: {
          namespace: 'shop',
          name: 'web-1',
          container: { id: 'containerd://abcdef012345', name: 'app' },
        },
        ...process,
      },
    },
    node_name: 'worker-1',
    time: '2026-11-26T12:00:00Z',
  });
}

function eventsOf(line: string): RuntimeEvent[] {
  const out = adaptLine(line, 'tetragon');
  assert.equal(out.kind, 'events');
  return out.kind === 'events' ? out.events : [];
}

describe('CEL direct evaluator: event values are data', () => {
  it('a binary written as CEL is compared as text, never evaluated', () => {
    const e = engine();
    for (const binary of ["/bin/x' || true || '", "event.process.binary.endsWith('/sh')", '/bin/sh\u0000x'])
      for (const ev of eventsOf(tetragonLine({ binary }))) assert.equal(e.evaluate(ev).length, 0, binary);
    for (const ev of eventsOf(tetragonLine({ binary: "/tmp/' || false || '/sh" })))
      assert.equal(e.evaluate(ev).length, 1);
  });

  it('a catastrophic-backtracking binary is matched in linear time (RE2), with the expected verdict', () => {
    const e = engine();
    const [ev] = eventsOf(tetragonLine({ binary: `/usr/bin/${'a'.repeat(5_000)}!` }));
    assert.ok(ev);
    assert.equal(e.evaluate(ev).length, 0);
    const [hit] = eventsOf(tetragonLine({ binary: `/usr/bin/${'a'.repeat(5_000)}` }));
    assert.ok(hit);
    assert.equal(e.evaluate(hit).length, 1);
  });

  it('prototype-named keys in a tool record do not supply a field: the rule errs as cel-js does, counted', () => {
    const loaded = loadPolicyText(
      POLICY.replace(/- expression: .*/, `- expression: "event.raw.process_exec.parent.binary != '/bin/sh'"`),
      'p.yaml',
    );
    assert.deepEqual(loaded.errors, []);
    const e = createRuntimeEngine(loaded.policies);
    // JSON.parse makes "__proto__" and "constructor" own keys: neither is the parent's binary.
    const line = tetragonLine({ binary: '/bin/ls' })
      .replace('"node_name"', '"parent_x":0,"node_name"')
      .replace(
        '"process_exec":{',
        '"process_exec":{"parent":{"__proto__":{"binary":"/bin/sh"},"constructor":{"binary":"/bin/sh"}},',
      );
    const events = eventsOf(line);
    assert.ok(events.length > 0);
    for (const ev of events) assert.equal(e.evaluate(ev).length, 0);
    const errors = e.takeRuleErrors();
    assert.equal(errors.count, events.length);
    assert.match(errors.recent[0]!.message, /No such key: binary/);
    // The same record with a real parent binary: the policy sees it.
    const real = eventsOf(
      tetragonLine({ binary: '/bin/ls' }).replace(
        '"process_exec":{',
        '"process_exec":{"parent":{"binary":"/bin/sh"},',
      ),
    );
    for (const ev of real) assert.equal(e.evaluate(ev).length, 1);
  });
});
