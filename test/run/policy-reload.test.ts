/**
 * Policy reload in `run`: a file change is picked up, compiled aside and swapped in; a bad edit keeps
 * the previous set and reports the error with its place.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PolicySet, type PolicySwap } from '../../src/cli/run/policy-set.js';
import type { PolicyError } from '../../src/policy/index.js';

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
    const engine = await set.load();
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
