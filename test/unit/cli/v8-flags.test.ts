/**
 * KYVERNO_RUNTIME_V8_FLAGS: the V8 sizing flags Node refuses in NODE_OPTIONS, set by the CLI itself;
 * anything else is refused with a clear message before any command runs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseV8Flags } from '../../../src/cli/v8-flags.js';

const CLI = fileURLToPath(new URL('../../../src/cli/main.ts', import.meta.url));
const cli = (flags: string) =>
  spawnSync(process.execPath, ['--import', 'tsx', CLI, '--version'], {
    env: { ...process.env, KYVERNO_RUNTIME_V8_FLAGS: flags },
    encoding: 'utf8',
  });

test('the sizing flags are accepted, alone or together', () => {
  assert.deepEqual(parseV8Flags('  --optimize-for-size   --max-semi-space-size=1 '), [
    '--optimize-for-size',
    '--max-semi-space-size=1',
  ]);
  assert.deepEqual(parseV8Flags('--no-optimize-for-size --max-old-space-size=256'), [
    '--no-optimize-for-size',
    '--max-old-space-size=256',
  ]);
  assert.deepEqual(parseV8Flags(''), []);
  const ok = cli('--optimize-for-size');
  assert.equal(ok.status, 0, ok.stderr);
});

test('any other V8 switch is refused, and the CLI exits 2 naming it', () => {
  for (const bad of [
    '--allow-natives-syntax',
    '--optimize-for-size --expose-gc',
    '--max-old-space-size=1e9',
    '--max-semi-space-size=',
    '--optimize-for-size=false',
  ])
    assert.throws(() => parseV8Flags(bad), /is not accepted/, bad);
  const refused = cli('--optimize-for-size --allow-natives-syntax');
  assert.equal(refused.status, 2);
  assert.match(refused.stderr, /KYVERNO_RUNTIME_V8_FLAGS: "--allow-natives-syntax" is not accepted/);
  assert.equal(refused.stdout, '', 'no command ran');
});
