import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AUTOGEN_ANNOTATION, canAutogen, generateAutogenRules } from '../../../src/engine/autogen/index.js';

const podRule = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  name: 'check-ro',
  match: { any: [{ resources: { kinds: ['Pod'] } }] },
  validate: {
    message: 'ro {{ request.object.metadata.name }}',
    pattern: { spec: { containers: [{ image: '!*:latest' }] } },
  },
  ...extra,
});

describe('autogen (pod controllers)', () => {
  it('generates autogen-<rule> and autogen-cronjob-<rule> with nested patterns and controller kinds', () => {
    const out = generateAutogenRules(undefined, [podRule()]);
    assert.deepEqual(
      out.map((r) => [r.rule.name, r.kind, r.autogenOf]),
      [
        ['autogen-check-ro', 'pod-controllers', 'check-ro'],
        ['autogen-cronjob-check-ro', 'cronjob', 'check-ro'],
      ],
    );
    const [pod, cron] = out;
    assert.deepEqual((pod!.rule.match as any).any[0].resources.kinds, [
      'DaemonSet',
      'Deployment',
      'Job',
      'ReplicaSet',
      'ReplicationController',
      'StatefulSet',
    ]);
    assert.deepEqual((pod!.rule.validate as any).pattern, {
      spec: { template: { spec: { containers: [{ image: '!*:latest' }] } } },
    });
    assert.equal((pod!.rule.validate as any).message, 'ro {{ request.object.spec.template.metadata.name }}');
    assert.deepEqual((cron!.rule.match as any).any[0].resources.kinds, ['CronJob']);
    assert.deepEqual((cron!.rule.validate as any).pattern, {
      spec: { jobTemplate: { spec: { template: { spec: { containers: [{ image: '!*:latest' }] } } } } },
    });
    assert.equal(
      (cron!.rule.validate as any).message,
      'ro {{ request.object.spec.jobTemplate.spec.template.metadata.name }}',
    );
  });

  it('rewrites CEL expressions without the request. prefix', () => {
    const rule = podRule({
      validate: {
        cel: { expressions: [{ expression: 'object.spec.hostPID != true && object.metadata.name != ""' }] },
      },
    });
    const [pod, cron] = generateAutogenRules(undefined, [rule]);
    assert.equal(
      (pod!.rule.validate as any).cel.expressions[0].expression,
      'object.spec.template.spec.hostPID != true && object.spec.template.metadata.name != ""',
    );
    assert.equal(
      (cron!.rule.validate as any).cel.expressions[0].expression.startsWith(
        'object.spec.jobTemplate.spec.template.spec.hostPID',
      ),
      true,
    );
  });

  it('is off for the whole policy when a rule uses names, selector, annotations or mixes Pod with other kinds', () => {
    assert.equal(
      canAutogen([podRule({ match: { any: [{ resources: { kinds: ['Pod'], names: ['x'] } }] } })]),
      false,
    );
    assert.equal(
      canAutogen([
        podRule({
          match: { any: [{ resources: { kinds: ['Pod'], selector: { matchLabels: { a: 'b' } } } }] },
        }),
      ]),
      false,
    );
    assert.equal(
      canAutogen([podRule({ match: { any: [{ resources: { kinds: ['Pod', 'Service'] } }] } })]),
      false,
    );
    assert.equal(
      canAutogen([
        podRule(),
        { name: 'svc', match: { any: [{ resources: { kinds: ['Service'], annotations: { a: 'b' } } }] } },
      ]),
      false,
    );
    assert.equal(
      canAutogen([{ name: 'svc', match: { any: [{ resources: { kinds: ['Service'] } }] } }]),
      false,
    );
    assert.equal(
      canAutogen([
        podRule(),
        { name: 'g', match: { any: [{ resources: { kinds: ['Pod'] } }] }, generate: {} },
      ]),
      false,
    );
  });

  it('skips rules whose exclude names other kinds, and rules already named autogen-', () => {
    assert.deepEqual(
      generateAutogenRules(undefined, [
        podRule({ exclude: { any: [{ resources: { kinds: ['Service'] } }] } }),
      ]),
      [],
    );
    assert.deepEqual(generateAutogenRules(undefined, [podRule({ name: 'autogen-x' })]), []);
  });

  it('honours the autogen-controllers annotation', () => {
    assert.deepEqual(generateAutogenRules({ [AUTOGEN_ANNOTATION]: 'none' }, [podRule()]), []);
    const only = generateAutogenRules({ [AUTOGEN_ANNOTATION]: 'Deployment' }, [podRule()]);
    assert.deepEqual(
      only.map((r) => r.rule.name),
      ['autogen-check-ro'],
    );
    assert.deepEqual((only[0]!.rule.match as any).any[0].resources.kinds, ['Deployment']);
    const cronOnly = generateAutogenRules({ [AUTOGEN_ANNOTATION]: 'CronJob' }, [podRule()]);
    assert.deepEqual(
      cronOnly.map((r) => r.rule.name),
      ['autogen-cronjob-check-ro'],
    );
  });

  it('truncates generated names to 63 characters', () => {
    const long = 'x'.repeat(60);
    const out = generateAutogenRules(undefined, [podRule({ name: long })]);
    assert.equal(out[0]!.rule.name, `autogen-${long}`.slice(0, 63));
    assert.equal((out[1]!.rule.name as string).length, 63);
  });
});
