import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ActionSpec } from '../../../src/contracts/actions.js';
import { dedupKey } from '../../../src/contracts/keys.js';
import type { Verdict } from '../../../src/contracts/verdict.js';
import type { ActionCall, ActionResult, Guard, MaybePromise, Step } from '../../../src/actions/chain.js';
import { compose } from '../../../src/actions/chain.js';
import {
  ALLOW_PROTECTED_ANNOTATION,
  ApiBudgetGuard,
  available,
  DedupGuard,
  dryRun,
  protectedNamespaces,
  RateLimitGuard,
  scope,
  trust,
} from '../../../src/actions/guards.js';
import { OutcomeSink } from '../../../src/actions/outcome-sink.js';
import { ActionRunner, actionFields, verdictTarget } from '../../../src/actions/runner.js';
import { actionRefused, actions as actionsMetric } from '../../../src/observability/metrics.js';
import type { EventOrigin } from '../../../src/sources/types.js';

const TRUSTED: EventOrigin = { source: 'sensor', trustedForKill: true };
const UNTRUSTED: EventOrigin = { source: 'http', trustedForKill: false };

function verdict(
  overrides: Partial<Verdict> = {},
  actions: ActionSpec[] = [{ label: { labels: { a: 'b' } } }],
): Verdict {
  return {
    policy: 'p',
    rule: 'r',
    mode: 'Enforce',
    resource: { apiVersion: 'v1', kind: 'Pod', name: 'web', namespace: 'shop', uid: 'uid-1' },
    behavior: 'process-exec',
    message: 'm',
    eventId: 'e1',
    time: '2026-01-01T00:00:00Z',
    actions,
    event: {
      id: 'e1',
      time: '2026-01-01T00:00:00Z',
      source: 'test',
      behavior: 'process-exec',
      node: 'node-1',
      process: { pid: 4242, startTime: '1', binary: '/bin/sh' },
    },
    ...overrides,
  };
}

function call(
  v: Verdict = verdict(),
  origin: EventOrigin = TRUSTED,
  index = 0,
  perVerdict = new Map<string, unknown>(),
): ActionCall {
  const spec = v.actions[index]!;
  return {
    verdict: v,
    origin,
    spec,
    name: Object.keys(spec)[0] as ActionCall['name'],
    fields: actionFields(spec),
    index,
    target: verdictTarget(v),
    perVerdict,
  };
}

/** A handler that records its calls and answers `outcome`. */
function handler(outcome: ActionResult['outcome'] = 'succeeded'): Step & { calls: ActionCall[] } {
  const calls: ActionCall[] = [];
  const step = (c: ActionCall): ActionResult => {
    calls.push(c);
    return { outcome, by: 'handler' };
  };
  return Object.assign(step, { calls });
}

function sync(r: MaybePromise<ActionResult>): ActionResult {
  assert.ok(!(r instanceof Promise), 'expected a synchronous answer');
  return r;
}

async function metric(
  counter: typeof actionRefused,
  labels: Record<'action', string> & Partial<Record<'reason' | 'outcome', string>>,
): Promise<number> {
  const m = await counter.get();
  return (
    m.values.find((v) =>
      Object.entries(labels).every(([k, x]) => (v.labels as Record<string, unknown>)[k] === x),
    )?.value ?? 0
  );
}

describe('compose', () => {
  it('runs guards in order and stops at the first refusal, before the handler', () => {
    const seen: string[] = [];
    const pass = (name: string): Guard => ({ name, run: (c, next) => (seen.push(name), next(c)) });
    const stop: Guard = { name: 'stop', run: () => (seen.push('stop'), { outcome: 'skipped', by: 'stop' }) };
    const h = handler();
    const r = compose([pass('a'), pass('b'), stop, pass('c')], h)(call());
    assert.deepEqual(seen, ['a', 'b', 'stop']);
    assert.deepEqual(r, { outcome: 'skipped', by: 'stop' });
    assert.equal(h.calls.length, 0);
  });
});

describe('available guard', () => {
  it('answers unavailable for an action the runner cannot run, and passes the others', () => {
    const g = available(
      (n) => n === 'kill',
      () => 'no cluster',
    );
    const h = handler();
    assert.deepEqual(sync(g.run(call(), h)), {
      outcome: 'unavailable',
      detail: 'no cluster',
      by: 'available',
    });
    assert.equal(sync(g.run(call(verdict({}, [{ kill: {} }])), h)).outcome, 'succeeded');
  });
});

describe('trust guard', () => {
  it('refuses a kill from an untrusted input (counted as untrusted-source) and lets other actions through', async () => {
    const g = trust();
    const h = handler();
    const before = await metric(actionRefused, { action: 'kill', reason: 'untrusted-source' });
    const r = sync(g.run(call(verdict({}, [{ kill: {} }]), UNTRUSTED), h));
    assert.equal(r.outcome, 'refused');
    assert.match(r.detail ?? '', /^untrusted-source: input "http"/);
    assert.equal(await metric(actionRefused, { action: 'kill', reason: 'untrusted-source' }), before + 1);
    assert.equal(h.calls.length, 0);
    assert.equal(
      sync(g.run(call(verdict(), UNTRUSTED), h)).outcome,
      'succeeded',
      'label from an untrusted input',
    );
    assert.equal(sync(g.run(call(verdict({}, [{ kill: {} }]), TRUSTED), h)).outcome, 'succeeded');
  });
});

describe('scope guard', () => {
  it('skips quietly when not the leader, outside the policy namespace, or on another node', () => {
    const h = handler();
    const notLeader = sync(scope({ isLeader: () => false }).run(call(), h));
    assert.deepEqual(
      [notLeader.outcome, notLeader.detail, notLeader.quiet],
      ['skipped', 'not the leader', true],
    );
    const other = sync(scope({}).run(call(verdict({ policyNamespace: 'team-a' })), h));
    assert.equal(other.detail, 'policy of namespace team-a may not act in shop');
    const node = sync(scope({ nodeName: 'node-2' }).run(call(), h));
    assert.equal(node.detail, 'pod runs on node node-1, not node-2');
    assert.equal(h.calls.length, 0);
    assert.equal(
      sync(
        scope({ nodeName: 'node-1', isLeader: () => true }).run(
          call(verdict({ policyNamespace: 'shop' })),
          h,
        ),
      ).outcome,
      'succeeded',
    );
  });
});

describe('protected namespaces guard', () => {
  const inKubeSystem = (actions?: ActionSpec[], policyNamespace?: string): Verdict =>
    verdict(
      {
        resource: { apiVersion: 'v1', kind: 'Pod', name: 'dns', namespace: 'kube-system', uid: 'u' },
        ...(policyNamespace && { policyNamespace }),
      },
      actions,
    );

  it('skips kube-system unless the action or the policy allows it', () => {
    const h = handler();
    const r = sync(protectedNamespaces().run(call(inKubeSystem()), h));
    assert.deepEqual(
      [r.outcome, r.detail, r.quiet],
      ['skipped', 'namespace kube-system is protected', undefined],
    );
    assert.equal(
      sync(
        protectedNamespaces().run(
          call(inKubeSystem([{ label: { labels: {}, allowProtectedNamespaces: true } }])),
          h,
        ),
      ).outcome,
      'succeeded',
    );
    const annotated = protectedNamespaces({
      policyAnnotations: (key) => (key === 'p' ? { [ALLOW_PROTECTED_ANNOTATION]: 'true' } : undefined),
    });
    assert.equal(sync(annotated.run(call(inKubeSystem()), h)).outcome, 'succeeded');
    assert.equal(sync(protectedNamespaces({ namespaces: ['shop'] }).run(call(), h)).outcome, 'skipped');
  });
});

describe('dedup guard', () => {
  const guard = (): DedupGuard =>
    new DedupGuard({
      windowMs: 60_000,
      identity: (c) => ({ lane: c.origin.trustedForKill ? 't' : 'u', target: c.target.uid ?? '' }),
    });

  it('runs an action once per window and answers the repeats quietly', () => {
    const g = guard();
    const h = handler();
    assert.equal(sync(g.run(call(), h)).outcome, 'succeeded');
    const again = sync(g.run(call(), h));
    assert.deepEqual([again.outcome, again.quiet], ['deduplicated', true]);
    assert.equal(h.calls.length, 1);
    assert.equal(
      sync(g.run(call(verdict({ rule: 'other' })), h)).outcome,
      'succeeded',
      'another rule is another action',
    );
    assert.equal(
      sync(g.run(call(verdict(), UNTRUSTED), h)).outcome,
      'succeeded',
      'the untrusted lane is apart',
    );
  });

  for (const outcome of ['failed', 'refused', 'rate-limited'] as const) {
    it(`a ${outcome} action does not occupy the window: the next event retries it`, () => {
      const g = guard();
      assert.equal(sync(g.run(call(), handler(outcome))).outcome, outcome);
      assert.equal(sync(g.run(call(), handler())).outcome, 'succeeded');
      assert.equal(sync(g.run(call(), handler())).outcome, 'deduplicated');
    });
  }

  it('a skipped action (process already gone) keeps its entry', () => {
    const g = guard();
    sync(g.run(call(), handler('skipped')));
    assert.equal(sync(g.run(call(), handler())).outcome, 'deduplicated');
  });

  it('holds the entry while an asynchronous action runs, and gives it back if it fails', async () => {
    const g = guard();
    let fail!: () => void;
    const slow: Step = () =>
      new Promise((resolve) => (fail = () => resolve({ outcome: 'failed', by: 'handler' })));
    const first = g.run(call(), slow);
    assert.equal(sync(g.run(call(), handler())).outcome, 'deduplicated', 'concurrent repeat');
    fail();
    assert.equal((await first).outcome, 'failed');
    assert.equal(sync(g.run(call(), handler())).outcome, 'succeeded');
  });

  it('keys cannot be forged to collide through separator characters in event data', () => {
    const v = verdict();
    const a = dedupKey(v, { lane: 't', target: 'x\u0000y', action: '0:kill', process: '1' });
    const b = dedupKey(v, { lane: 't', target: 'x', action: '0:kill', process: 'y\u00001' });
    assert.notEqual(a, b);
  });
});

describe('rate-limit guard', () => {
  it('takes one token per verdict, refuses beyond the burst, and keeps lanes apart', () => {
    const g = new RateLimitGuard({
      rate: 0.001,
      burst: 1,
      lane: (c) => (c.origin.trustedForKill ? 't' : 'u'),
    });
    const h = handler();
    const two = verdict({}, [{ label: { labels: {} } }, { annotate: { annotations: {} } }]);
    const shared = new Map<string, unknown>();
    assert.equal(sync(g.run(call(two, TRUSTED, 0, shared), h)).outcome, 'succeeded');
    assert.equal(
      sync(g.run(call(two, TRUSTED, 1, shared), h)).outcome,
      'succeeded',
      'same verdict, same token',
    );
    const r = sync(g.run(call(), h));
    assert.deepEqual([r.outcome, r.detail], ['rate-limited', 'policy p is over its action rate limit']);
    assert.equal(
      sync(g.run(call(verdict(), UNTRUSTED), h)).outcome,
      'succeeded',
      'untrusted lane has its own bucket',
    );
    assert.equal(
      sync(g.run(call(verdict({ policyNamespace: 'shop' })), h)).outcome,
      'succeeded',
      'shop/p is another policy',
    );
  });
});

describe('api-budget guard', () => {
  it('gives the handler a budget and turns an exhausted budget into rate-limited, whatever the handler answered', async () => {
    const g = new ApiBudgetGuard({ rate: 0.001, burst: 1, maxWaitMs: 20 });
    const spend: Step = async (c) => {
      // As a handler behind the runner: an exhausted budget ends the action as failed.
      if (!(await c.budget!())) return { outcome: 'failed', detail: 'no token', by: 'handler' };
      return { outcome: 'succeeded', by: 'handler' };
    };
    assert.equal((await g.run(call(), spend)).outcome, 'succeeded');
    const r = await g.run(call(), spend);
    assert.deepEqual([r.outcome, r.detail], ['rate-limited', 'global API budget exhausted']);
    await assert.rejects(async () => g.run(call(), () => Promise.reject(new Error('boom'))), /boom/);
  });
});

describe('dry-run guard', () => {
  it('marks the call when the runner or the action says so', () => {
    const h = handler();
    sync(dryRun(true).run(call(), h));
    sync(dryRun(false).run(call(verdict({}, [{ label: { labels: {}, dryRun: true } }])), h));
    sync(dryRun(false).run(call(), h));
    assert.deepEqual(
      h.calls.map((c) => c.dryRun === true),
      [true, true, false],
    );
  });
});

describe('action runner and outcome sink', () => {
  it('counts every outcome, reports only the non-quiet ones, and turns a throwing handler into failed', async () => {
    const reported: string[] = [];
    const every: string[] = [];
    const sink = new OutcomeSink({
      report: (_v, os) => reported.push(...os.map((o) => `${o.action}:${o.outcome}`)),
      onOutcome: (_v, o) => every.push(`${o.action}:${o.outcome}`),
    });
    const dedup = new DedupGuard({
      windowMs: 60_000,
      identity: (c) => ({ lane: 't', target: c.target.uid ?? '' }),
    });
    const runner = new ActionRunner({
      guards: [dedup],
      handler: (c) => {
        if (c.name === 'annotate') throw new Error('handler bug');
        return { outcome: 'succeeded', by: 'handler' };
      },
      sink,
    });
    const v = verdict({}, [{ label: { labels: {} } }, { annotate: { annotations: {} } }]);
    const before = await metric(actionsMetric, { action: 'annotate', outcome: 'failed' });
    const first = runner.run(v, TRUSTED);
    assert.ok(Array.isArray(first), 'synchronous steps give a synchronous result');
    assert.deepEqual(
      first.map((o) => [o.action, o.outcome, o.detail]),
      [
        ['label', 'succeeded', undefined],
        ['annotate', 'failed', 'handler bug'],
      ],
    );
    runner.run(v, TRUSTED);
    assert.deepEqual(every, ['label:succeeded', 'annotate:failed', 'label:deduplicated', 'annotate:failed']);
    assert.deepEqual(
      reported,
      ['label:succeeded', 'annotate:failed', 'annotate:failed'],
      'deduplicated is quiet',
    );
    assert.equal(await metric(actionsMetric, { action: 'annotate', outcome: 'failed' }), before + 2);
    assert.equal(sink.outcomes().failed, 2);
    assert.deepEqual(runner.run(verdict({ mode: 'Audit' }), TRUSTED), [], 'Audit runs nothing');
  });
});
