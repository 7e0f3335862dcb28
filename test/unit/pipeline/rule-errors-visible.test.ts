/**
 * Rule errors are visible: a real policy whose condition (JMESPath `{{ event.network.dport }}`) and
 * CEL expression cannot be evaluated on a real Tetragon process_exec sample (it has no `network`
 * block) make kyverno_runtime_rule_errors_total grow, log one warn line per rule (then at most one a
 * minute, with the count), and the run keeps going: a working rule on the same events still reports.
 * Checked on the pipeline with the real engine, and end to end through `kyverno-runtime run`'s local
 * mode (file source, /metrics, /api/policies, the JSON log file).
 */
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startLocalMode } from '../../../src/app/local.js';
import { TerminalSink } from '../../../src/cli/run/terminal.js';
import { createRuntimeEngine } from '../../../src/engine/runtime/index.js';
import type { Verdict } from '../../../src/contracts/verdict.js';
import { adaptLine } from '../../../src/events/adapters/index.js';
import type { RuntimeEvent } from '../../../src/events/types.js';
import { createLogger } from '../../../src/observability/logger.js';
import { registry } from '../../../src/observability/metrics.js';
import { createPipeline, RuleErrorReporter } from '../../../src/pipeline/index.js';
import { loadPolicyText } from '../../../src/policy/index.js';
import type { PoliciesResponse } from '../../../src/server/wire.js';

const sampleLine = readFileSync(
  fileURLToPath(new URL('../../../../shared/samples/tetragon/testdata-events.jsonl', import.meta.url)),
  'utf8',
).split('\n')[0]!;

/** The sample (a netserver exec in pod default/tiefighter) with its own exec_id. */
function sampleWithId(id: string): string {
  const record = JSON.parse(sampleLine) as { process_exec: { process: { exec_id: string } } };
  record.process_exec.process.exec_id = id;
  return JSON.stringify(record);
}

function sampleEvent(id: string): RuntimeEvent {
  const out = adaptLine(sampleWithId(id), 'tetragon');
  assert.equal(out.kind, 'events');
  assert.equal(out.events.length, 1);
  return out.events[0]!;
}

const POLICIES = `apiVersion: runtime.kyverno.io/v1alpha1
kind: ClusterRuntimePolicy
metadata:
  name: ssh-exec
spec:
  rules:
    - name: port-condition
      match: {any: [{resources: {kinds: [Pod]}}]}
      restrict:
        behaviors: [process-exec]
        conditions:
          all:
            - key: "{{ event.network.dport }}"
              operator: Equals
              value: 22
    - name: port-cel
      match: {any: [{resources: {kinds: [Pod]}}]}
      restrict:
        behaviors: [process-exec]
        cel:
          expressions:
            - expression: "event.network.dport == 22"
---
apiVersion: runtime.kyverno.io/v1alpha1
kind: ClusterRuntimePolicy
metadata:
  name: netserver-exec
spec:
  rules:
    - name: no-netserver
      match: {any: [{resources: {kinds: [Pod]}}]}
      restrict:
        message: netserver started
        behaviors: [process-exec]
        pattern: {event: {process: {binary: "*/netserver"}}}
`;

async function ruleErrorCount(policy: string, rule: string, reason: string): Promise<number> {
  const metric = await registry.getSingleMetric('kyverno_runtime_rule_errors_total')!.get();
  const hit = metric.values.find(
    (v) => v.labels.policy === policy && v.labels.rule === rule && v.labels.reason === reason,
  );
  return hit?.value ?? 0;
}

interface LogLine {
  level: string;
  msg: string;
  policy?: string;
  rule?: string;
  reason?: string;
  count?: number;
  first?: boolean;
  error?: string;
}

function memoryLogger(): { logger: ReturnType<typeof createLogger>; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString('utf8').split('\n')) if (l) lines.push(JSON.parse(l) as LogLine);
      done();
    },
  });
  return { logger: createLogger({ level: 'info', destination }), lines };
}

const ruleErrorLines = (lines: LogLine[]): LogLine[] => lines.filter((l) => l.msg.startsWith('rule error'));

describe('rule errors', () => {
  it('are counted, logged once per rule then once a minute, and the run keeps going', async () => {
    const loaded = loadPolicyText(POLICIES, 'policies.yaml');
    assert.deepEqual(loaded.errors, []);
    const { logger, lines } = memoryLogger();
    let now = 1_000_000;
    const reporter = new RuleErrorReporter({ logger, now: () => now });
    const verdicts: Verdict[] = [];
    const pipeline = createPipeline({
      engine: createRuntimeEngine(loaded.policies),
      sinks: [{ name: 'collect', write: (v) => void verdicts.push(...v) }],
      logger,
      ruleErrors: reporter,
    });
    const before = {
      condition: await ruleErrorCount('ssh-exec', 'port-condition', 'missing-key'),
      cel: await ruleErrorCount('ssh-exec', 'port-cel', 'cel'),
    };

    for (let i = 0; i < 5; i++) void pipeline.submit(sampleEvent(`a-${i}`), { canWait: false });
    await pipeline.drain();

    assert.equal(verdicts.length, 5, 'the working policy still reports every event');
    assert.ok(verdicts.every((v) => v.policy === 'netserver-exec'));
    assert.equal(await ruleErrorCount('ssh-exec', 'port-condition', 'missing-key'), before.condition + 5);
    assert.equal(await ruleErrorCount('ssh-exec', 'port-cel', 'cel'), before.cel + 5);
    assert.equal(pipeline.stats().ruleErrors, 10);
    assert.equal(pipeline.stats().evaluated, 5);
    assert.deepEqual(pipeline.stats().dropped, {}, 'an erroring rule drops no event');
    assert.equal(reporter.countsByPolicy().get('ssh-exec'), 10);

    const first = ruleErrorLines(lines);
    assert.equal(first.length, 2, 'one line per rule for the first occurrence');
    const condition = first.find((l) => l.rule === 'port-condition')!;
    assert.equal(condition.level, 'warn');
    assert.equal(condition.policy, 'ssh-exec');
    assert.equal(condition.reason, 'missing-key');
    assert.equal(condition.first, true);
    assert.match(condition.error ?? '', /Unknown key "network"/);

    // Within the minute: counted, not logged. After it: one line per rule with the count since the last.
    now += 30_000;
    void pipeline.submit(sampleEvent('b-0'), { canWait: false });
    await pipeline.drain();
    assert.equal(ruleErrorLines(lines).length, 2);
    now += 31_000;
    void pipeline.submit(sampleEvent('b-1'), { canWait: false });
    await pipeline.drain();
    const later = ruleErrorLines(lines).slice(2);
    assert.equal(later.length, 2);
    // a-1..a-4, b-0 were suppressed; b-1 is logged: 6 since the first line.
    assert.deepEqual(later.map((l) => [l.rule, l.count, l.first]).sort(), [
      ['port-cel', 6, false],
      ['port-condition', 6, false],
    ]);

    // Suppressed errors at shutdown are logged, so the log accounts for every error.
    now += 1_000;
    void pipeline.submit(sampleEvent('c-0'), { canWait: false });
    await pipeline.stop();
    const all = ruleErrorLines(lines);
    assert.equal(all.length, 6);
    assert.equal(
      all.filter((l) => l.rule === 'port-condition').reduce((n, l) => n + (l.count ?? 0), 0),
      8,
    );
    assert.equal(verdicts.length, 8);
  });

  it('show up in `run`: /metrics, /api/policies and the JSON log', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kr-rule-errors-'));
    const policyFile = join(dir, 'policies.yaml');
    const input = join(dir, 'tetragon.log');
    const logFile = join(dir, 'run.log');
    writeFileSync(policyFile, POLICIES);
    writeFileSync(input, '');
    const said: string[] = [];
    const handle = await startLocalMode({
      policies: [policyFile],
      source: 'file',
      format: 'tetragon',
      file: input,
      nodeName: 'node-test',
      db: join(dir, 'state.db'),
      listen: { host: '127.0.0.1', port: 0 },
      install: false,
      logLevel: 'info',
      logFile,
      actionMode: 'audit',
      say: (m) => void said.push(m),
      terminal: new TerminalSink({ out: new Writable({ write: (_c, _e, done) => done() }) }),
    });
    try {
      const before = await ruleErrorCount('ssh-exec', 'port-condition', 'missing-key');
      appendFileSync(input, [1, 2, 3].map((i) => sampleWithId(`run-${i}`) + '\n').join(''));
      const deadline = Date.now() + 15_000;
      while (handle.pipeline.stats().evaluated < 3) {
        if (Date.now() > deadline) throw new Error('events not evaluated');
        await new Promise((r) => setTimeout(r, 20));
      }
      await handle.pipeline.drain();
      const base = handle.server!.url;
      const metrics = await (await fetch(new URL('metrics', base))).text();
      const line = metrics
        .split('\n')
        .find(
          (l) =>
            l.startsWith('kyverno_runtime_rule_errors_total{') &&
            l.includes('policy="ssh-exec"') &&
            l.includes('rule="port-condition"') &&
            l.includes('reason="missing-key"'),
        );
      assert.ok(line, 'the counter is exported');
      assert.equal(Number(line.split(' ').at(-1)), before + 3);
      const api = (await (await fetch(new URL('api/policies', base))).json()) as PoliciesResponse;
      const byName = new Map(api.policies.map((p) => [p.name, p.ruleErrors]));
      assert.equal(byName.get('ssh-exec'), 6);
      assert.equal(byName.get('netserver-exec'), 0);
      assert.equal(handle.store.stats().violations, 1, 'the working rule still reports');
    } finally {
      await handle.stop();
    }
    // The JSON log is written asynchronously (sonic-boom): wait for the shutdown lines to land.
    const readLog = (): LogLine[] =>
      ruleErrorLines(
        readFileSync(logFile, 'utf8')
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as LogLine),
      );
    const logDeadline = Date.now() + 5_000;
    while (readLog().length < 4 && Date.now() < logDeadline) await new Promise((r) => setTimeout(r, 20));
    const errors = readLog();
    assert.deepEqual(errors.map((l) => [l.rule, l.first]).sort(), [
      ['port-cel', false],
      ['port-cel', true],
      ['port-condition', false],
      ['port-condition', true],
    ]);
    assert.equal(
      errors.reduce((n, l) => n + (l.count ?? 0), 0),
      6,
      'the log accounts for every error',
    );
    rmSync(dir, { recursive: true, force: true });
  });
});
