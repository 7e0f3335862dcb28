/** `validate` says how each `block` rule is enforced: in the kernel, or by the kill it falls back to. */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Command } from '@commander-js/extra-typings';
import { register } from '../../../src/cli/commands/validate.js';

async function validate(...args: string[]): Promise<{ code: number; out: string }> {
  let out = '';
  const program = new Command().exitOverride();
  register(program, { out: (t: string) => void (out += t), err: () => undefined });
  const before = process.exitCode;
  process.exitCode = 0;
  await program.parseAsync(['node', 'kyverno-runtime', 'validate', ...args]);
  const code = typeof process.exitCode === 'number' ? process.exitCode : 0;
  process.exitCode = before;
  return { code, out };
}

const policy = (
  name: string,
  kinds: string,
  actions: string,
): string => `apiVersion: runtime.kyverno.io/v1alpha1
kind: ClusterRuntimePolicy
metadata: {name: ${name}}
spec:
  failureAction: Enforce
  rules:
    - name: r
      match: {any: [{resources: {kinds: ${kinds}}}]}
      restrict:
        behaviors: [network-connect]
        conditions:
          all:
            - {key: '{{ event.network.dport }}', operator: Equals, value: 9}
        actions: ${actions}
`;

describe('validate and block rules', () => {
  it('names the rule enforced in the kernel, and warns (exit 0) about the one falling back to kill', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kr-block-'));
    writeFileSync(join(dir, 'a.yaml'), policy('kernel', '[Pod, Node]', '[{block: {}}]'));
    writeFileSync(join(dir, 'b.yaml'), policy('fallback', '[Pod]', '[{block: {}}, {kill: {}}]'));
    const { code, out } = await validate(dir);
    assert.equal(code, 0, out);
    assert.match(out, /r: block enforced in the kernel \(cgroup connect4\/connect6, 1 kernel rules\)/);
    assert.match(out, /warning: .*b\.yaml:8:\d+: block cannot be decided in the kernel: match must cover/);
    assert.match(out, /r: block falls back to the user-space kill: match must cover/);
    const json = JSON.parse((await validate(dir, '-o', 'json')).out) as {
      policies: { name: string; block?: Record<string, { enforcement: string }> }[];
      warnings: unknown[];
    };
    assert.deepEqual(
      json.policies.map((p) => [p.name, p.block?.r?.enforcement]),
      [
        ['kernel', 'kernel'],
        ['fallback', 'user-space-kill'],
      ],
    );
    assert.equal(json.warnings.length, 1);
  });

  it('a block rule that cannot compile and has no kill is an error (exit 1)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kr-block-'));
    writeFileSync(join(dir, 'c.yaml'), policy('bad', '[Pod]', '[{block: {}}]'));
    const { code, out } = await validate(dir);
    assert.equal(code, 1);
    assert.match(out, /c\.yaml:8:\d+: block cannot be decided in the kernel/);
  });
});
