import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createRuntimeEngine, staticParamLookup } from '../../../src/engine/runtime/index.js';
import { IndexedRuntimeEngine } from '../../../src/engine/runtime/engine.js';
import { formatPolicyError, loadPolicyText } from '../../../src/policy/index.js';
import { renderTruncations } from '../../../src/engine/variables/index.js';
import type { RuntimeEvent } from '../../../src/events/types.js';

const ISSUE_POLICY = `apiVersion: runtime.kyverno.io/v1alpha1
kind: RuntimeValidatingPolicy
metadata: {name: no-shell-in-prod}
spec:
  validationActions: [Audit]
  behaviors: [process-exec]
  matchConstraints:
    resourceRules:
      - {apiGroups: [''], apiVersions: [v1], resources: [pods], operations: ['*']}
  matchConditions:
    - name: prod-only
      expression: "object.metadata.namespace.startsWith('prod-')"
  variables:
    - {name: bin, expression: "event.process.binary"}
  validations:
    - expression: "!(variables.bin.endsWith('/sh') || variables.bin.endsWith('/bash'))"
      messageExpression: "'shell ' + variables.bin + ' in ' + object.metadata.name"
`;

const event = (binary: string, namespace = 'prod-shop', name = 'web-1'): RuntimeEvent => ({
  id: `ev-${binary}-${namespace}`,
  time: '2026-11-26T12:00:00Z',
  source: 'test',
  behavior: 'process-exec',
  process: { pid: 10, uid: 0, binary, args: [] },
  container: { name: 'app', image: 'registry.example.com/app:1' },
  pod: { namespace, name, labels: { tier: 'web' } },
});

function load(yaml: string) {
  const loaded = loadPolicyText(yaml, 'p.yaml');
  return { ...loaded, messages: loaded.errors.map(formatPolicyError) };
}

function engineFor(yaml: string) {
  const loaded = load(yaml);
  assert.deepEqual(loaded.messages, []);
  return createRuntimeEngine(loaded.policies, {
    nodeName: 'node-a',
    params: staticParamLookup(loaded.objects ?? []),
  });
}

/** A policy around one validation, with optional extra spec lines. */
function policy(validations: string, extra = '', kind = 'RuntimeValidatingPolicy', ns = ''): string {
  return `apiVersion: runtime.kyverno.io/v1alpha1
kind: ${kind}
metadata:
  name: p
${ns ? `  namespace: ${ns}\n` : ''}spec:
  behaviors: [process-exec]
  matchConstraints:
    resourceRules:
      - {apiGroups: [''], apiVersions: [v1], resources: [pods]}
${extra}  validations:
${validations}`;
}

describe('RuntimeValidatingPolicy', () => {
  it("loads the issue's policy and reports a shell in a prod- namespace with the messageExpression", () => {
    const engine = engineFor(ISSUE_POLICY);
    const verdicts = engine.evaluate(event('/bin/bash'));
    assert.equal(verdicts.length, 1);
    assert.equal(verdicts[0]!.policy, 'no-shell-in-prod');
    assert.equal(verdicts[0]!.message, 'shell /bin/bash in web-1');
    assert.equal(verdicts[0]!.mode, 'Audit');
    assert.deepEqual(verdicts[0]!.actions, []);
  });

  it('a validation that is true allows the event (truth is not inverted as in restrict.cel)', () => {
    const engine = engineFor(ISSUE_POLICY);
    assert.deepEqual(engine.evaluate(event('/usr/sbin/nginx')), []);
  });

  it('matchConditions that are false leave the event alone', () => {
    const engine = engineFor(ISSUE_POLICY);
    assert.deepEqual(engine.evaluate(event('/bin/sh', 'staging')), []);
  });

  it('matchConstraints select the attributed kind: a pods rule ignores host (Node) events', () => {
    const engine = engineFor(policy(`    - expression: "false"\n`));
    const host: RuntimeEvent = { ...event('/bin/sh'), pod: undefined, container: undefined };
    assert.deepEqual(engine.evaluate(host), []);
    assert.equal(engine.evaluate(event('/bin/sh')).length, 1);
  });

  it('excludeResourceRules and objectSelector narrow the match', () => {
    const excluded = engineFor(
      policy(`    - expression: "false"\n`).replace(
        'resources: [pods]}\n',
        "resources: [pods]}\n    excludeResourceRules:\n      - {apiGroups: [''], apiVersions: [v1], resources: [pods], resourceNames: [web-1]}\n",
      ),
    );
    assert.deepEqual(excluded.evaluate(event('/bin/sh')), []);
    assert.equal(excluded.evaluate(event('/bin/sh', 'prod-shop', 'web-2')).length, 1);
    const selected = engineFor(
      policy(`    - expression: "false"\n`).replace(
        'resources: [pods]}\n',
        'resources: [pods]}\n    objectSelector: {matchLabels: {tier: db}}\n',
      ),
    );
    assert.deepEqual(selected.evaluate(event('/bin/sh')), []);
  });

  it('Deny means Enforce: the actions run', () => {
    const engine = engineFor(
      policy(
        `    - expression: "false"\n      message: no\n`,
        '  validationActions: [Deny]\n  actions:\n    - kill: {}\n',
      ),
    );
    const [v] = engine.evaluate(event('/bin/sh'));
    assert.equal(v!.mode, 'Enforce');
    assert.deepEqual(v!.actions, [{ kill: {} }]);
    assert.equal(v!.message, 'no');
  });

  it('variables are lazy, in order, and may use earlier ones', () => {
    const engine = engineFor(
      policy(
        `    - expression: "variables.base != 'sh'"\n      messageExpression: "variables.base"\n`,
        `  variables:\n    - {name: parts, expression: "event.process.binary.split('/')"}\n    - {name: base, expression: "variables.parts[size(variables.parts) - 1]"}\n    - {name: unused, expression: "event.nope.field"}\n`,
      ),
    );
    const verdicts = engine.evaluate(event('/bin/sh'));
    // `unused` would fail (no such field) but is never read: no rule error.
    assert.equal(verdicts[0]?.message, 'sh');
    assert.equal(
      (engine as unknown as Pick<IndexedRuntimeEngine, 'takeRuleErrors'>).takeRuleErrors().count,
      0,
    );
  });

  it('a failing messageExpression falls back to the message; no message gives the failed expression', () => {
    const engine = engineFor(
      policy(
        `    - expression: "false"\n      message: static\n      messageExpression: "event.nope.x"\n    - expression: "1 == 2"\n`,
      ),
    );
    assert.equal(engine.evaluate(event('/bin/sh'))[0]!.message, 'static; failed expression: 1 == 2');
  });

  it('a messageExpression carrying event data is bounded to 4096 characters and the cut counted', () => {
    const engine = engineFor(
      policy(`    - expression: "false"\n      messageExpression: "event.process.binary"\n`),
    );
    const before = renderTruncations().message;
    const [v] = engine.evaluate(event(`/x/${'A'.repeat(100_000)}`));
    assert.ok(v!.message.length <= 4096, `${v!.message.length}`);
    assert.match(v!.message, /truncated from/);
    assert.equal(renderTruncations().message, before + 1);
  });

  it('a non-boolean validation is a rule error, not a verdict', () => {
    const engine = engineFor(policy(`    - expression: "event.process.binary"\n`));
    assert.deepEqual(engine.evaluate(event('/bin/sh')), []);
    const errors = (engine as unknown as Pick<IndexedRuntimeEngine, 'takeRuleErrors'>).takeRuleErrors();
    assert.equal(errors.count, 1);
    assert.match(errors.recent[0]!.message, /bool/);
  });

  it('namespaceObject is the namespace of the attributed object', () => {
    const engine = engineFor(policy(`    - expression: "namespaceObject.metadata.name != 'prod-shop'"\n`));
    assert.equal(engine.evaluate(event('/bin/sh')).length, 1);
    assert.deepEqual(engine.evaluate(event('/bin/sh', 'other')), []);
  });

  it('the namespaced kind only governs its own namespace', () => {
    const engine = engineFor(
      policy(`    - expression: "false"\n`, '', 'NamespacedRuntimeValidatingPolicy', 'prod-shop'),
    );
    const [v] = engine.evaluate(event('/bin/sh'));
    assert.equal(v!.policyNamespace, 'prod-shop');
    assert.deepEqual(engine.evaluate(event('/bin/sh', 'prod-other')), []);
  });

  it('auditAnnotations are added to the verdict', () => {
    const engine = engineFor(
      policy(
        `    - expression: "false"\n`,
        `  auditAnnotations:\n    - {key: bin, valueExpression: "event.process.binary"}\n    - {key: none, valueExpression: "null"}\n`,
      ),
    );
    assert.deepEqual(engine.evaluate(event('/bin/sh'))[0]!.annotations, { bin: '/bin/sh' });
  });

  describe('params', () => {
    const withParams = (notFound: string, configMap: string): string =>
      policy(
        `    - expression: "event.process.binary in params.data.allowed.split(',')"\n`,
        `  paramKind: {apiVersion: v1, kind: ConfigMap}\n  paramRef: {name: allow, parameterNotFoundAction: ${notFound}}\n`,
      ) + configMap;
    const cm = (ns: string): string =>
      `---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: allow, namespace: ${ns}}\ndata: {allowed: /bin/ls}\n`;

    it('binds the ConfigMap of the object namespace from the policy files', () => {
      const engine = engineFor(withParams('Deny', cm('prod-shop')));
      assert.deepEqual(engine.evaluate(event('/bin/ls')), []);
      assert.equal(engine.evaluate(event('/bin/sh')).length, 1);
    });

    it('a missing parameter denies under Deny and skips under Allow', () => {
      const deny = engineFor(withParams('Deny', cm('elsewhere')));
      assert.match(deny.evaluate(event('/bin/ls'))[0]!.message, /no params found/);
      const allow = engineFor(withParams('Allow', cm('elsewhere')));
      assert.deepEqual(allow.evaluate(event('/bin/sh')), []);
    });
  });

  describe('compile errors with file:line:col', () => {
    it('an undeclared variable is rejected at the expression', () => {
      const { messages } = load(policy(`    - expression: "variables.nope == 'x'"\n`));
      assert.deepEqual(messages, [
        'p.yaml:11:19: validation: undeclared variable `variables.nope` (no variables are declared before this point)',
      ]);
    });

    it('a variable may not use a later one', () => {
      const { messages } = load(
        policy(
          `    - expression: "true"\n`,
          `  variables:\n    - {name: a, expression: "variables.b"}\n    - {name: b, expression: "1"}\n`,
        ),
      );
      assert.equal(messages.length, 1);
      assert.match(messages[0]!, /^p\.yaml:11:29: variable: undeclared variable `variables\.b`/);
    });

    it('an undeclared binding is rejected with a suggestion', () => {
      const { messages } = load(policy(`    - expression: "evnt.process.binary == ''"\n`));
      assert.deepEqual(messages, [
        'p.yaml:11:19: validation: undeclared reference `evnt`, did you mean `event`?',
      ]);
    });

    it('comprehension variables and library receivers are not references', () => {
      const { messages } = load(
        policy(
          `    - expression: "event.process.args.all(a, a != '-i') && optional.of(1).hasValue() && type(1) == int"\n`,
        ),
      );
      assert.deepEqual(messages, []);
    });

    it('a syntax error and an unknown field point at their place', () => {
      const { messages } = load(policy(`    - expression: "1 +"\n      mesage: x\n`));
      assert.deepEqual(messages, ['p.yaml:12:7: unknown field `mesage`, did you mean `message`?']);
      const syntax = load(policy(`    - expression: "1 +"\n`)).messages;
      assert.equal(syntax.length, 1);
      assert.match(syntax[0]!, /^p\.yaml:11:19: invalid validation: .*Unexpected token/);
    });
  });
});
