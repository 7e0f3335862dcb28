import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { evaluatePolicy } from '../../../src/engine/validate/index.js';
import type { CompiledPolicy } from '../../../src/engine/api/compiled-policy.js';
import { loadPolicyText } from '../../../src/policy/index.js';

function policy(rules: string, annotations = ''): CompiledPolicy {
  const r = loadPolicyText(
    `apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: p
${annotations}spec:
  validationFailureAction: Audit
  rules:
${rules}`,
    'p.yaml',
  );
  assert.deepEqual(r.errors, []);
  return r.policies[0]!;
}
const podRule = (name: string, body: string): string => `  - name: ${name}
    match: {any: [{resources: {kinds: [Pod]}}]}
${body}`;
const pod = (
  spec: Record<string, unknown>,
  labels: Record<string, string> = {},
): Record<string, unknown> => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'p1', namespace: 'default', labels },
  spec,
});
const statuses = (p: CompiledPolicy, res: Record<string, unknown>, opts = {}): string[] =>
  evaluatePolicy(p, res, opts).map((r) => `${r.rule}=${r.status}`);

describe('validate rule flow', () => {
  const patternPolicy = policy(
    podRule(
      'no-latest',
      `    validate:
      message: "images must not use latest"
      pattern: {spec: {containers: [{image: "!*:latest"}]}}
`,
    ),
  );

  it("pattern: pass, and fail with Kyverno's message and path", () => {
    assert.deepEqual(statuses(patternPolicy, pod({ containers: [{ name: 'a', image: 'nginx:1.2' }] })), [
      'no-latest=pass',
    ]);
    const [fail] = evaluatePolicy(patternPolicy, pod({ containers: [{ name: 'a', image: 'nginx:latest' }] }));
    assert.equal(fail!.status, 'fail');
    assert.equal(
      fail!.message,
      'validation error: images must not use latest. rule no-latest failed at path /spec/containers/0/image/',
    );
  });

  it('applies autogen rules to pod controllers and nothing to unrelated kinds', () => {
    const deploy = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'd', namespace: 'default' },
      spec: { template: { spec: { containers: [{ name: 'a', image: 'x:latest' }] } } },
    };
    assert.deepEqual(statuses(patternPolicy, deploy), ['autogen-no-latest=fail']);
    const svc = { apiVersion: 'v1', kind: 'Service', metadata: { name: 's', namespace: 'default' } };
    assert.deepEqual(statuses(patternPolicy, svc), []);
  });

  it('scored: "false" reports fail as warn', () => {
    const p = policy(
      podRule('no-latest', `    validate:\n      pattern: {spec: {containers: [{image: "!*:latest"}]}}\n`),
      '  annotations:\n    policies.kyverno.io/scored: "false"\n',
    );
    assert.deepEqual(statuses(p, pod({ containers: [{ name: 'a', image: 'nginx:latest' }] })), [
      'no-latest=warn',
    ]);
  });

  it('preconditions false → skip; a missing key in a message-free pattern variable → error', () => {
    const p = policy(
      podRule(
        'only-prod',
        `    preconditions:
      all:
      - key: "{{ request.object.metadata.labels.env || '' }}"
        operator: Equals
        value: prod
    validate:
      pattern: {spec: {hostNetwork: false}}
`,
      ) +
        podRule(
          'label-ref',
          `    validate:
      pattern:
        metadata:
          labels:
            team: "{{ request.object.metadata.labels.owner }}"
`,
        ),
    );
    const res = evaluatePolicy(p, pod({ hostNetwork: true }, { env: 'dev' }));
    assert.deepEqual(
      res.map((r) => [r.rule, r.status]),
      [
        ['only-prod', 'skip'],
        ['label-ref', 'error'],
      ],
    );
    assert.match(res[1]!.message, /owner/);
    assert.equal(
      statuses(p, pod({ hostNetwork: true }, { env: 'prod', owner: 'a', team: 'a' }))[0],
      'only-prod=fail',
    );
  });

  it('anyPattern: first passing pattern wins; otherwise fail listing each', () => {
    const p = policy(
      podRule(
        'run-as',
        `    validate:
      anyPattern:
      - spec: {securityContext: {runAsNonRoot: true}}
      - spec: {containers: [{securityContext: {runAsNonRoot: true}}]}
`,
      ),
    );
    const [ok] = evaluatePolicy(
      p,
      pod({ containers: [{ name: 'a', securityContext: { runAsNonRoot: true } }] }),
    );
    assert.equal(ok!.message, "validation rule 'run-as' anyPattern[1] passed.");
    const [bad] = evaluatePolicy(p, pod({ containers: [{ name: 'a' }] }));
    assert.equal(bad!.status, 'fail');
    assert.match(bad!.message, /rule run-as\[0\] failed at path .* rule run-as\[1\] failed at path/);
  });

  it('deny: true conditions fail with the message, false pass; operation comes from values', () => {
    const p = policy(
      podRule(
        'no-update',
        `    validate:
      message: "updates are blocked"
      deny:
        conditions:
          any:
          - key: "{{ request.operation }}"
            operator: AnyIn
            value: [UPDATE]
`,
      ),
    );
    const res = pod({ containers: [] });
    assert.deepEqual(statuses(p, res), ['no-update=pass']);
    const [denied] = evaluatePolicy(p, res, { variables: { 'request.operation': 'UPDATE' } });
    assert.deepEqual([denied!.status, denied!.message], ['fail', 'updates are blocked']);
  });

  it('foreach: element binding, per-element preconditions, no result when nothing applied', () => {
    const p = policy(
      podRule(
        'each',
        `    validate:
      message: "{{ element.name }} must not be privileged"
      foreach:
      - list: request.object.spec.containers
        preconditions:
          all:
          - key: "{{ element.name }}"
            operator: NotEquals
            value: sidecar
        deny:
          conditions:
            any:
            - key: "{{ element.securityContext.privileged || \`false\` }}"
              operator: Equals
              value: true
`,
      ),
    );
    assert.deepEqual(
      statuses(
        p,
        pod({ containers: [{ name: 'a' }, { name: 'sidecar', securityContext: { privileged: true } }] }),
      ),
      ['each=pass'],
    );
    const [bad] = evaluatePolicy(
      p,
      pod({ containers: [{ name: 'b', securityContext: { privileged: true } }] }),
    );
    assert.deepEqual([bad!.status, bad!.message], ['fail', 'validation failure: b must not be privileged']);
    assert.deepEqual(statuses(p, pod({ containers: [{ name: 'sidecar' }] })), []);
  });

  it('context variables are computed and values mock external data', () => {
    const p = policy(
      podRule(
        'ctx',
        `    context:
    - name: allowed
      configMap: {name: registries, namespace: default}
    - name: first
      variable:
        jmesPath: request.object.spec.containers[0].image
    validate:
      deny:
        conditions:
          all:
          - key: "{{ first }}"
            operator: AnyNotIn
            value: "{{ allowed.data.registries }}"
`,
      ),
    );
    const res = pod({ containers: [{ name: 'a', image: 'ghcr.io/x' }] });
    const ruleVariables = { ctx: { 'allowed.data.registries': ['ghcr.io/*'] } };
    assert.deepEqual(statuses(p, res, { ruleVariables }), ['ctx=pass']);
    assert.deepEqual(
      statuses(p, res, { ruleVariables: { ctx: { 'allowed.data.registries': ['docker.io/*'] } } }),
      ['ctx=fail'],
    );
    assert.equal(evaluatePolicy(p, res)[0]!.status, 'error');
  });

  it('validate.cel with variables and celPreconditions', () => {
    const p = policy(
      podRule(
        'cel',
        `    celPreconditions:
    - name: not-system
      expression: "object.metadata.namespace != 'kube-system'"
    validate:
      cel:
        variables:
        - name: names
          expression: "object.spec.containers.map(c, c.name)"
        expressions:
        - expression: "!('forbidden' in variables.names)"
          message: no forbidden container
`,
      ),
    );
    assert.deepEqual(statuses(p, pod({ containers: [{ name: 'ok' }] })), ['cel=pass']);
    const [bad] = evaluatePolicy(p, pod({ containers: [{ name: 'forbidden' }] }));
    assert.deepEqual([bad!.status, bad!.message], ['fail', 'no forbidden container']);
    const sys = {
      ...pod({ containers: [{ name: 'forbidden' }] }),
      metadata: { name: 'x', namespace: 'kube-system' },
    };
    assert.deepEqual(statuses(p, sys), ['cel=skip']);
  });
});
