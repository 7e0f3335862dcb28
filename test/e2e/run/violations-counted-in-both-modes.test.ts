/**
 * kyverno_runtime_violations_total is one counter for both run modes: the same verdicts through local
 * mode's sinks and through cluster mode's sinks raise it by the same amount.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { clusterModeSinks } from '../../../src/app/cluster.js';
import { localModeSinks } from '../../../src/app/local.js';
import type { Verdict } from '../../../src/contracts/verdict.js';
import type { RuntimeEvent } from '../../../src/events/types.js';
import { createLogFile } from '../../../src/observability/logger.js';
import { violations } from '../../../src/observability/metrics.js';
import type { EventOrigin, VerdictSink } from '../../../src/pipeline/index.js';
import { openStore } from '../../../src/reports/store/index.js';

const event: RuntimeEvent = {
  id: 'e-1',
  time: '2026-01-01T00:00:00.000Z',
  source: 'tetragon',
  node: 'node-1',
  behavior: 'process-exec',
  process: { pid: 4242, binary: '/bin/sh', args: ['-c', 'id'] },
  pod: { namespace: 'shop', name: 'web-1' },
  container: { name: 'app' },
};

function verdict(rule: string): Verdict {
  return {
    policy: 'both-modes',
    rule,
    mode: 'Audit',
    resource: { apiVersion: 'v1', kind: 'Pod', name: 'web-1', namespace: 'shop', uid: 'uid-1' },
    container: 'app',
    behavior: 'process-exec',
    message: 'shell',
    eventId: event.id,
    time: event.time,
    actions: [],
    severity: 'high',
    category: 'Runtime',
    event,
  };
}

const origin: EventOrigin = { source: 'test', trustedForKill: false };

async function counted(rule: string): Promise<number> {
  const values = (await violations.get()).values;
  return values.find((v) => v.labels.policy === 'both-modes' && v.labels.rule === rule)?.value ?? 0;
}

async function runThrough(sinks: VerdictSink[], verdicts: Verdict[]): Promise<void> {
  for (const s of sinks) await s.write(verdicts, event, origin);
}

describe('violations metric in both run modes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kr-both-modes-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('local mode sinks count every verdict', async () => {
    const store = openStore(join(dir, 'state.db'));
    const logger = createLogFile({ path: join(dir, 'run.log'), level: 'silent' });
    try {
      await runThrough(localModeSinks({ store, logger }), [verdict('local'), verdict('local')]);
      assert.equal(await counted('local'), 2);
    } finally {
      store.close();
      logger.flush();
    }
  });

  it('cluster mode sinks count every verdict, besides handing them to the agent', async () => {
    const handed: Verdict[] = [];
    const agent: VerdictSink = { name: 'kubernetes', write: (vs) => void handed.push(...vs) };
    await runThrough(clusterModeSinks(agent), [verdict('cluster'), verdict('cluster')]);
    assert.equal(await counted('cluster'), 2);
    assert.equal(handed.length, 2);
  });
});
