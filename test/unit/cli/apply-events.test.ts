import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from '@commander-js/extra-typings';
import { register as registerApply } from '../../../src/cli/commands/apply.js';
import { register as registerTest } from '../../../src/cli/commands/test.js';

async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io = { out: (t: string) => void (out += t), err: (t: string) => void (err += t) };
  const program = new Command().exitOverride();
  for (const register of [registerTest, registerApply]) register(program, io);
  const before = process.exitCode;
  process.exitCode = 0;
  await program.parseAsync(['node', 'kyverno-runtime', ...args]);
  const code = typeof process.exitCode === 'number' ? process.exitCode : Number(process.exitCode ?? 0);
  process.exitCode = before;
  return { code, out, err };
}

const examples = new URL('../../../docs/examples/', import.meta.url).pathname;
const falcoText = new URL('../../../../shared/samples/falco/falco-text-alerts.txt', import.meta.url).pathname;

test('apply -e evaluates events, counts malformed lines with their line numbers and still reports the rest', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kr-apply-'));
  const events = join(dir, 'mixed.jsonl');
  const textAlert = readFileSync(falcoText, 'utf8').split('\n')[0]!;
  const realAlerts = readFileSync(join(examples, 'falco-rule-by-name/events.jsonl'), 'utf8');
  writeFileSync(events, `${textAlert}\n{"broken\n\n${realAlerts}`);
  const r = await cli(
    'apply',
    '-p',
    join(examples, 'falco-rule-by-name/policy.yaml'),
    '-e',
    events,
    '-o',
    'json',
  );
  assert.equal(r.code, 1, 'a violation makes the exit code 1');
  const rows = JSON.parse(r.out) as {
    resource: { name: string };
    result: { status: string; rule: string };
  }[];
  assert.equal(rows.length, 1);
  assert.equal(rows[0]!.resource.name, 'kubecon');
  assert.equal(rows[0]!.result.status, 'fail');
  assert.match(r.err, /mixed\.jsonl:1: skipped \(text-format\)/);
  assert.match(r.err, /mixed\.jsonl:2: skipped \(malformed-json\)/);
  assert.match(
    r.err,
    /events: 4 read, 2 skipped \(text-format=1, malformed-json=1\), 2 evaluated, 1 violations/,
  );
});

test('apply -e aggregates repeated violations per (policy, rule, resource) with -r pods standing in for the cluster', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kr-apply-'));
  const events = join(dir, 'repeat.jsonl');
  const line = readFileSync(join(examples, 'restrict-volume-mount/events.jsonl'), 'utf8').split('\n')[0]!;
  writeFileSync(events, Array.from({ length: 5 }, () => line).join('\n'));
  const r = await cli(
    'apply',
    '-p',
    join(examples, 'restrict-volume-mount/policy.yaml'),
    '-r',
    join(examples, 'restrict-volume-mount/pods.yaml'),
    '-e',
    events,
  );
  assert.match(
    r.out,
    /Pod\/shop\/app\s+fail\s+Volume mount of tmpfs on \/mnt\/x inside container A \(5 events\)/,
  );
  assert.match(r.out, /0 pass, 1 fail/);
});

test('kyverno-runtime test runs runtime test files beside Kyverno tests', async () => {
  const r = await cli('test', examples);
  assert.equal(r.code, 0, r.out + r.err);
  // Every example's cases pass (the count grows as examples are added).
  const passed = Number(/^(\d+) passed, 0 failed$/m.exec(r.out)?.[1] ?? 0);
  assert.ok(passed >= 25, r.out);
});

test('apply -e with a directory or a missing file fails with one clear line, not a stack trace', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kr-apply-dir-'));
  const policy = join(examples, 'no-shell-in-prod/policy.yaml');
  const r = await cli('apply', '-p', policy, '-e', dir);
  assert.equal(r.code, 1);
  assert.equal(
    r.err,
    `error: --events ${dir}: is a directory; give a file of events, one JSON object per line (or - for stdin)\n`,
  );
  assert.equal(r.out, '');
  const missing = await cli('apply', '-p', policy, '-e', join(dir, 'absent.jsonl'));
  assert.equal(missing.code, 1);
  assert.match(missing.err, /^error: --events .*absent\.jsonl: no such file\n$/);
});
