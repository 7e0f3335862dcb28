import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { killedInKernel } from '../../../src/actions/kill.js';
import type { SensorRuleView } from '../../../src/engine/api/runtime.js';
import type { RuntimeEvent } from '../../../src/events/types.js';
import { planEnforcement, protectionGuard } from '../../../src/sources/sensor/kernel-kill.js';
import { generateProgram } from '../../../src/sources/sensor/program.js';
import {
  KILL_MARK_MAX_AGE_MS,
  RecordParser,
  type ParserSignal,
} from '../../../src/sources/sensor/records.js';

const EVERY = { any: [{ resources: { kinds: ['Pod', 'Node'] } }] };

function view(over: Partial<SensorRuleView>): SensorRuleView {
  return {
    policy: 'p',
    rule: 'r',
    mode: 'Enforce',
    behaviors: ['file-write'],
    actions: [{ kill: {} }],
    pattern: { event: { file: { path: '/etc/*' } } },
    match: EVERY,
    exclude: undefined,
    needsEngine: [],
    ...over,
  };
}

const planOf = (over: Partial<SensorRuleView>): { path: string; reason: string; warning?: string } => {
  const [r] = planEnforcement([view(over)]).rules;
  assert.ok(r);
  return r;
};

describe('the in-kernel kill compiler', () => {
  it('compiles the behaviors decided at the syscall', () => {
    for (const over of [
      {},
      { pattern: { event: { file: { path: '/etc/passwd | /etc/shadow', operation: 'create|write' } } } },
      { behaviors: ['process-exec'], pattern: { event: { process: { binary: '/usr/bin/nc*' } } } },
      { behaviors: ['volume-mount'], pattern: { event: { mount: { target: '/host/*' } } } },
      {
        behaviors: ['privilege-escalation'],
        pattern: { event: { privilege: { fromUid: '>0', toUid: 0 } } },
      },
      { behaviors: ['namespace-change', 'ptrace', 'bpf-load'], pattern: undefined },
      { match: { any: [{ resources: { kinds: ['Node'] } }, { resources: { kinds: ['*'] } }] } },
    ] as Partial<SensorRuleView>[]) {
      assert.equal(planOf(over).path, 'kernel-kill', JSON.stringify(over));
    }
  });

  it('leaves rules the kernel cannot decide exactly to the user-space kill, saying why', () => {
    const cases: [Partial<SensorRuleView>, RegExp][] = [
      [{ needsEngine: ['conditions (JMESPath variables)'] }, /needs the full engine: conditions/],
      [{ needsEngine: ['CEL preconditions'] }, /CEL preconditions/],
      [{ match: { any: [{ resources: { kinds: ['Pod'] } }] } }, /more than kinds \[Pod, Node\]/],
      [{ match: { any: [{ resources: { kinds: ['Pod', 'Node'], namespaces: ['prod'] } }] } }, /namespaces/],
      [{ exclude: { any: [{ resources: { namespaces: ['kube-system'] } }] } }, /exclude/],
      [{ namespace: 'shop' }, /namespaced policy/],
      [{ pattern: { event: { file: { path: '*/passwd' } } } }, /not an absolute path/],
      [{ pattern: { event: { file: { path: '/etc/*.conf' } } } }, /wildcards or operators/],
      [{ pattern: { event: { file: { path: '!/etc/*' } } } }, /not an absolute path/],
      [{ pattern: { event: { file: { path: '/etc/*' }, process: { binary: '/bin/sh' } } } }, /event.process/],
      [{ pattern: { metadata: { labels: { app: 'x' } } } }, /more than event fields/],
      [{ behaviors: ['process-exec'], pattern: { event: { process: { args: ['-c'] } } } }, /process.args/],
      [{ behaviors: ['privilege-escalation'], pattern: { event: { privilege: { toUid: 1000 } } } }, /uid 0/],
      [{ behaviors: ['network-connect'], pattern: undefined }, /network-connect: no in-kernel kill/],
      [{ actions: [{ kill: { signal: 'SIGTERM' } }] }, /SIGTERM/],
      [{ actions: [{ kill: { dryRun: true } }] }, /dryRun/],
      [{ pattern: { event: { file: { path: `/${'a'.repeat(120)}*` } } } }, /longer than/],
    ];
    for (const [over, why] of cases) {
      const r = planOf(over);
      assert.equal(r.path, 'user-space-kill', JSON.stringify(over));
      assert.match(r.reason, why);
    }
  });

  it('reports Audit rules and rules without kill as report-only', () => {
    assert.deepEqual(planOf({ mode: 'Audit' }).path, 'report-only');
    assert.deepEqual(planOf({ actions: [{ label: { labels: { a: 'b' } } }] }).path, 'report-only');
  });

  it('keeps every rule in user space when the in-kernel kill is off', () => {
    const [r] = planEnforcement([view({})], { kernelKillOff: '--mode dry-run' }).rules;
    assert.equal(r?.path, 'user-space-kill');
    assert.equal(r?.reason, '--mode dry-run');
  });

  it('warns on block for a behavior this kernel cannot block and falls back to the in-kernel kill', () => {
    const r = planOf({ actions: [{ block: {} }] });
    assert.equal(r.path, 'kernel-kill');
    assert.match(r.warning ?? '', /block on file-write cannot be done by this kernel \(no BPF LSM\)/);
    const noFallback = planOf({ actions: [{ block: {} }], needsEngine: ['preconditions'] });
    assert.equal(noFallback.path, 'report-only');
    assert.match(noFallback.warning ?? '', /reported only/);
    assert.equal(planOf({ behaviors: ['network-connect'], actions: [{ block: {} }] }).warning, undefined);
  });
});

describe('the generated program', () => {
  const program = (rules: SensorRuleView[], prefixes: string[]): string =>
    generateProgram({
      behaviors: new Set(rules.flatMap((r) => r.behaviors)),
      filePathPrefixes: prefixes,
      selfPid: 4242,
      tracepointExists: () => true,
      kernelKill: planEnforcement(rules).kernel,
    }).source;

  it('signals only in probes a kernel rule watches, behind the protection guard', () => {
    const src = program([view({})], ['/etc/']);
    const openat = src.split('tracepoint:').find((p) => p.startsWith('syscalls:sys_enter_openat '));
    assert.match(openat ?? '', /signal\("SIGKILL"\)/);
    assert.ok(openat?.includes(protectionGuard(4242)));
    for (const part of ['pid != 1', 'pid != 4242', 'pid != @bpftrace_pid', 'real_parent->tgid != 4242'])
      assert.ok(protectionGuard(4242).includes(part), part);
    assert.equal(program([view({ mode: 'Audit' })], ['/etc/']).includes('signal('), false);
  });

  it('compares an exact path through the byte after it (bpftrace compares only the literal length)', () => {
    const src = program(
      [view({ behaviors: ['process-exec'], pattern: { event: { process: { binary: '/bin/nc' } } } })],
      [],
    );
    assert.match(
      src,
      /strncmp\(str\(args->filename, 8\), "\/bin\/nc", 7\) == 0 && \*\(uint8 \*\)\(args->filename \+ 7\) == 0/,
    );
  });

  it('asks for --unsafe only when a probe signals', () => {
    const opts = {
      behaviors: new Set(['file-write'] as const),
      filePathPrefixes: ['/etc/'],
      selfPid: 1,
      tracepointExists: () => true,
    };
    assert.equal(generateProgram(opts).unsafe, false);
    assert.equal(generateProgram({ ...opts, kernelKill: planEnforcement([view({})]).kernel }).unsafe, true);
  });
});

describe('kill marks in the sensor output', () => {
  const head = (tid: number): string =>
    JSON.stringify({ type: 'value', data: [22, tid, tid, 1, 0, 5, 1, 9, 1, 'sh', -100, 0] });
  const cont = (tid: number, s: string): string => JSON.stringify({ type: 'value', data: [0, tid, s] });
  const mark = (tid: number, rule: number): string =>
    JSON.stringify({ type: 'printf', data: `K ${tid} ${rule}\n` });
  const parse = (lines: string[]): ParserSignal[] => {
    const out: ParserSignal[] = [];
    const p = new RecordParser((s) => out.push(s));
    for (const l of lines) p.line(l);
    return out;
  };
  const records = (s: ParserSignal[]): { tid: number; kernelKill?: number }[] =>
    s.flatMap((x) =>
      x.type === 'record'
        ? [{ tid: x.record.tid, ...(x.kernelKill !== undefined && { kernelKill: x.kernelKill }) }]
        : [],
    );

  it('marks the next record of the same thread only', () => {
    const out = parse([
      mark(7, 1),
      head(8),
      cont(8, '/etc/a'),
      head(7),
      cont(7, '/etc/b'),
      head(7),
      cont(7, '/etc/c'),
    ]);
    assert.deepEqual(records(out), [{ tid: 8 }, { tid: 7, kernelKill: 1 }, { tid: 7 }]);
  });

  it('drops a mark its record never claimed (the exit filtered it out): a reused thread id cannot inherit it', (t) => {
    t.mock.timers.enable({ apis: ['Date'], now: 1_000_000 });
    const out: ParserSignal[] = [];
    const parser = new RecordParser((x) => out.push(x));
    parser.line(mark(7, 0));
    t.mock.timers.tick(KILL_MARK_MAX_AGE_MS + 1);
    parser.line(head(7));
    parser.line(cont(7, '/x'));
    assert.deepEqual(records(out), [{ tid: 7 }]);
  });

  it('forgets marks when events were lost (a lost head must not mark a later, unrelated record)', () => {
    const lost = JSON.stringify({ type: 'lost_events', data: { events: 3 } });
    assert.deepEqual(records(parse([mark(7, 0), lost, head(7), cont(7, '/x')])), [{ tid: 7 }]);
  });
});

describe('killedInKernel', () => {
  const event: RuntimeEvent = {
    id: 'e',
    time: '2026-01-01T00:00:00Z',
    source: 'bpftrace',
    behavior: 'file-write',
    enforced: true,
    process: { pid: 123 },
    raw: { kernelKill: 'p/r' },
  };

  it('believes only the built-in sensor', () => {
    assert.match(
      killedInKernel(event, { source: 'sensor', trustedForKill: true }) ?? '',
      /^killed in kernel.*rule p\/r/,
    );
    // A forged enforced:true from another input (even one trusted for kill) does not skip the kill.
    assert.equal(killedInKernel(event, { source: 'tcp', trustedForKill: true }), undefined);
    assert.equal(
      killedInKernel({ ...event, source: 'tetragon' }, { source: 'sensor', trustedForKill: true }),
      undefined,
    );
    assert.equal(
      killedInKernel({ ...event, enforced: false }, { source: 'sensor', trustedForKill: true }),
      undefined,
    );
  });
});
