/**
 * Policy reload in `run`: a file change is picked up, compiled aside and swapped in; a bad edit keeps
 * the previous set and reports the error with its place.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PolicySet, type PolicySwap } from '../../../src/app/policy-set.js';
import type { PolicyError } from '../../../src/policy/index.js';
import { policyReloads } from '../../../src/observability/metrics.js';

function policy(name: string, behavior: string): string {
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
              kinds: [Node]
      restrict:
        message: m
        behaviors: [${behavior}]
`;
}

/** The next value the watcher reports; the deadline is generous because a loaded CI machine is slow. */
function next<T>(register: (cb: (v: T) => void) => void, timeoutMs = 20_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('timed out waiting for the policy watcher')), timeoutMs);
    register((v) => {
      clearTimeout(timer);
      resolve(v);
    });
  });
}

test('edits are swapped in; a bad edit keeps the old set and reports file:line', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kr-reload-'));
  const file = join(dir, 'p.yaml');
  writeFileSync(file, policy('first', 'volume-mount'));
  const set = new PolicySet({ paths: [dir], nodeName: 'n', debounceMs: 50 });
  try {
    await set.load();
    const engine = set.engine;
    assert.deepEqual([...engine.sensorHints.behaviors], ['volume-mount']);
    const swaps: PolicySwap[] = [];
    const rejections: PolicyError[][] = [];
    let onSwap: ((s: PolicySwap) => void) | undefined;
    let onReject: ((e: PolicyError[]) => void) | undefined;
    set.onSwap((s) => {
      swaps.push(s);
      onSwap?.(s);
    });
    set.onRejected((e) => {
      rejections.push(e);
      onReject?.(e);
    });
    set.watch();

    const swapped = next<PolicySwap>((cb) => (onSwap = cb));
    writeFileSync(file, policy('second', 'process-exec'));
    const s = await swapped;
    assert.equal(s.previous, engine);
    assert.deepEqual(
      s.engine.policies.map((p) => p.name),
      ['second'],
    );
    assert.deepEqual([...set.engine.sensorHints.behaviors], ['process-exec']);

    const rejected = next<PolicyError[]>((cb) => (onReject = cb));
    writeFileSync(file, policy('third', 'not-a-behavior').replace('rules:', 'rules: [oops'));
    const errors = await rejected;
    assert.ok(errors.length > 0);
    assert.equal(errors[0]?.file, file);
    assert.ok((errors[0]?.line ?? 0) > 0);
    // The previous set is still the active one.
    assert.deepEqual(
      set.engine.policies.map((p) => p.name),
      ['second'],
    );
    assert.equal(swaps.length, 1);
  } finally {
    set.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

/** The reload counter's value for a result. */
async function reloads(result: 'applied' | 'rejected' | 'unchanged'): Promise<number> {
  const m = await policyReloads.get();
  return m.values.find((v) => v.labels.result === result)?.value ?? 0;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

test('store, log, WAL and editor swap files written in the policy folder never trigger a reload', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kr-reload-noise-'));
  const file = join(dir, 'p.yaml');
  writeFileSync(file, policy('first', 'volume-mount'));
  const db = join(dir, 'state.db');
  const log = join(dir, 'kyverno-runtime.log.json');
  const set = new PolicySet({
    paths: [dir],
    nodeName: 'n',
    debounceMs: 50,
    ignore: [db, `${db}-wal`, `${db}-shm`, log],
  });
  try {
    await set.load();
    let swaps = 0;
    let rejections = 0;
    set.onSwap(() => {
      swaps++;
    });
    set.onRejected(() => {
      rejections++;
    });
    const before = [await reloads('applied'), await reloads('rejected'), await reloads('unchanged')];
    set.watch();
    // What a run with --db and the log in this folder, and an editor, write — many times over.
    for (let i = 0; i < 20; i++) {
      writeFileSync(db, `sqlite ${i}`);
      appendFileSync(`${db}-wal`, 'wal');
      writeFileSync(`${db}-shm`, 'shm');
      appendFileSync(log, `{"msg":"violation ${i}"}\n`);
      writeFileSync(join(dir, '.p.yaml.swp'), 'swap');
      writeFileSync(join(dir, 'p.yaml~'), 'backup');
      writeFileSync(join(dir, '4913'), '');
      writeFileSync(join(dir, '.#p.yaml'), 'lock');
      await sleep(10);
    }
    await sleep(500);
    await set.settled();
    assert.equal(swaps, 0);
    assert.equal(rejections, 0);
    assert.deepEqual(
      [await reloads('applied'), await reloads('rejected'), await reloads('unchanged')],
      before,
      'no reload was even attempted',
    );
    // The watcher is alive: a real edit still swaps.
    const swapped = next<PolicySwap>((cb) => set.onSwap(cb));
    writeFileSync(file, policy('second', 'process-exec'));
    assert.deepEqual(
      (await swapped).engine.policies.map((p) => p.name),
      ['second'],
    );
  } finally {
    set.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a policy file rewritten with the same content is not reloaded; a burst of edits is one reload', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kr-reload-hash-'));
  const file = join(dir, 'p.yaml');
  const content = policy('first', 'volume-mount');
  writeFileSync(file, content);
  const set = new PolicySet({ paths: [dir], nodeName: 'n', debounceMs: 100 });
  try {
    await set.load();
    let swaps = 0;
    set.onSwap(() => {
      swaps++;
    });
    set.watch();
    const unchangedBefore = await reloads('unchanged');
    writeFileSync(file, content);
    await sleep(600);
    await set.settled();
    assert.equal(swaps, 0);
    assert.ok((await reloads('unchanged')) > unchangedBefore, 'the unchanged content was hashed and skipped');

    // An editor saving several times in quick succession: one swap, with the last content.
    const swapped = next<PolicySwap>((cb) => set.onSwap(cb));
    for (let i = 0; i < 10; i++) writeFileSync(file, policy(`burst-${i}`, 'process-exec'));
    const s = await swapped;
    await sleep(400);
    await set.settled();
    assert.equal(swaps, 1);
    assert.deepEqual(
      s.engine.policies.map((p) => p.name),
      ['burst-9'],
    );
  } finally {
    set.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a single policy file replaced by rename (as editors save) is reloaded; a rejected reload is counted', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kr-reload-file-'));
  const file = join(dir, 'p.yaml');
  writeFileSync(file, policy('first', 'volume-mount'));
  writeFileSync(join(dir, 'other.yaml'), policy('other', 'ptrace'));
  const set = new PolicySet({ paths: [file], nodeName: 'n', debounceMs: 50 });
  try {
    await set.load();
    set.watch();
    const swapped = next<PolicySwap>((cb) => set.onSwap(cb));
    writeFileSync(`${file}.tmp`, policy('renamed-in', 'process-exec'));
    renameSync(`${file}.tmp`, file);
    assert.deepEqual(
      (await swapped).engine.policies.map((p) => p.name),
      ['renamed-in'],
    );

    // A sibling that is not the watched file changes nothing.
    let swaps = 0;
    set.onSwap(() => {
      swaps++;
    });
    writeFileSync(join(dir, 'other.yaml'), policy('other-2', 'ptrace'));
    await sleep(400);
    await set.settled();
    assert.equal(swaps, 0);

    const rejectedBefore = await reloads('rejected');
    const rejected = next<PolicyError[]>((cb) => set.onRejected(cb));
    writeFileSync(file, 'spec: [unclosed');
    const errors = await rejected;
    assert.equal(errors[0]?.file, file);
    assert.equal(await reloads('rejected'), rejectedBefore + 1);
    assert.deepEqual(
      set.engine.policies.map((p) => p.name),
      ['renamed-in'],
    );
  } finally {
    set.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a set whose host builds its own engine keeps none, and still swaps and rejects edits', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kr-reload-noengine-'));
  const file = join(dir, 'p.yaml');
  writeFileSync(file, policy('first', 'volume-mount'));
  // The cluster agent's set: policies are compiled and watched, the engine is the agent's.
  const set = new PolicySet({ paths: [dir], nodeName: 'n', debounceMs: 50, retainEngine: false });
  try {
    assert.equal(await set.load(), undefined);
    assert.deepEqual(
      set.compiled.map((p) => p.name),
      ['first'],
    );
    assert.throws(() => set.engine, /keeps no engine/);
    set.watch();
    const swapped = next<PolicySwap>((cb) => set.onSwap(cb));
    writeFileSync(file, policy('second', 'process-exec'));
    const swap = await swapped;
    assert.deepEqual(
      swap.policies.map((p) => p.name),
      ['second'],
    );
    assert.deepEqual(
      set.compiled.map((p) => p.name),
      ['second'],
    );
    assert.throws(() => set.engine, /keeps no engine/);
    const rejected = next<PolicyError[]>((cb) => set.onRejected(cb));
    writeFileSync(file, 'apiVersion: runtime.kyverno.io/v1alpha1\nkind: ClusterRuntimePolicy\nspec: [\n');
    assert.ok((await rejected).length > 0);
    assert.deepEqual(
      set.compiled.map((p) => p.name),
      ['second'],
    );
  } finally {
    set.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
