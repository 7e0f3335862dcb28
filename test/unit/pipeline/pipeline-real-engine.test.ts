/**
 * End to end with the real pieces: a Tetragon export file is tailed, adapted, queued and evaluated
 * by the RuntimeEngine with the docs/examples policies; the sink receives the verdicts.
 */
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Verdict } from '../../../src/contracts/verdict.js';
import { createRuntimeEngine } from '../../../src/engine/runtime/index.js';
import { createPipeline } from '../../../src/pipeline/index.js';
import { loadPolicies } from '../../../src/policy/index.js';
import { createFileTailSource } from '../../../src/sources/file-tail/index.js';

const examples = fileURLToPath(new URL('../../../docs/examples/', import.meta.url));
const tetragonExec = JSON.parse(
  readFileSync(
    fileURLToPath(new URL('../../../../shared/samples/tetragon/testdata-events.jsonl', import.meta.url)),
    'utf8',
  ).split('\n')[0]!,
) as { process_exec: { process: Record<string, unknown> & { pod: Record<string, unknown> } } };

function execLine(id: string, binary: string, namespace: string): string {
  const ev = structuredClone(tetragonExec);
  ev.process_exec.process.exec_id = id;
  ev.process_exec.process.binary = binary;
  ev.process_exec.process.pod.namespace = namespace;
  return JSON.stringify(ev) + '\n';
}

describe('pipeline with the real engine', () => {
  it('turns a shell exec tailed from a Tetragon export file into a verdict, and ignores allowed ones', async () => {
    const { policies, errors } = await loadPolicies([examples]);
    assert.deepEqual(errors, []);
    const dir = mkdtempSync(join(tmpdir(), 'kr-e2e-'));
    const file = join(dir, 'tetragon.log');
    writeFileSync(file, '');
    const verdicts: Verdict[] = [];
    const pipeline = createPipeline({
      engine: createRuntimeEngine(policies),
      sinks: [{ name: 'collect', write: (v) => void verdicts.push(...v) }],
    });
    const src = createFileTailSource({ path: file, startAt: 'beginning' });
    await pipeline.attach(src);
    try {
      appendFileSync(
        file,
        execLine('e-1', '/bin/sh', 'prod-shop') + execLine('e-2', '/usr/bin/curl', 'prod-shop'),
      );
      appendFileSync(file, execLine('e-3', '/bin/bash', 'staging'));
      await src.settle();
      await pipeline.drain();
      assert.deepEqual(src.stats().dropped, {});
      assert.equal(pipeline.stats().evaluated, 3);
      const shell = verdicts.filter((v) => v.policy === 'shell-in-production');
      assert.equal(shell.length, 1);
      assert.equal(shell[0]!.event.process?.execId, 'e-1');
      assert.equal(shell[0]!.resource.namespace, 'prod-shop');
    } finally {
      await src.stop();
      await pipeline.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
