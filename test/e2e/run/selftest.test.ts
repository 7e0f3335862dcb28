/**
 * `kyverno-runtime selftest` as a newcomer runs it: the CLI in its own process with the real sensor.
 * With the shipped policies every behavior they watch that has a probe on this kernel must be seen
 * and fire; with policies watching every behavior, every probe must come through. Afterwards nothing
 * is left: no file below the real /etc, no mount, no cgroup, no scratch directory.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { BEHAVIORS } from '../../../src/events/types.js';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { cgroup2Root } from '../../../src/app/selftest-probes.js';
import { ATTACH_DEADLINE_MS, sensorSkipReason, whileCompilingBpftrace } from '../sensor/helpers.js';

const repoRoot = resolve(import.meta.dirname, '../../..');
const skip =
  sensorSkipReason() ??
  (process.arch === 'x64' || process.arch === 'arm64' ? undefined : `no syscall table for ${process.arch}`);

interface Row {
  behavior: string;
  probe: string;
  seen: string;
  attributedTo: string;
  fired: string;
}

function selftest(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return whileCompilingBpftrace(
    () =>
      new Promise((resolveRun) => {
        execFile(
          process.execPath,
          [
            '--import',
            'tsx',
            'src/cli/main.ts',
            'selftest',
            '--no-install',
            '--sensor-attach-timeout',
            `${ATTACH_DEADLINE_MS / 1000}s`,
            '--timeout',
            '60s',
            ...args,
          ],
          { cwd: repoRoot, timeout: ATTACH_DEADLINE_MS + 120_000 },
          (err, stdout, stderr) => {
            const code = err ? Number((err as { code?: unknown }).code ?? 1) : 0;
            resolveRun({ code, stdout, stderr });
          },
        );
      }),
  );
}

/** Rows of the printed table (columns are separated by two or more spaces). */
function rows(stdout: string): Row[] {
  const lines = stdout.split('\n');
  const out: Row[] = [];
  for (const line of lines.slice(2)) {
    if (line.trim() === '') break;
    const [behavior = '', probe = '', seen = '', attributedTo = '', fired = ''] = line.split(/ {2,}/);
    out.push({ behavior, probe, seen, attributedTo, fired });
  }
  return out;
}

function assertNothingLeft(): void {
  assert.ok(
    !readdirSync('/etc').some((n) => n.startsWith('kyverno-runtime-selftest')),
    'nothing was written below the real /etc',
  );
  assert.doesNotMatch(readFileSync('/proc/self/mountinfo', 'utf8'), /kyverno-runtime-selftest/);
  const root = cgroup2Root();
  if (root) {
    assert.ok(
      !readdirSync(root).some((n) => n.startsWith('kyverno-runtime-selftest-')),
      'the throwaway cgroup is removed',
    );
  }
  assert.ok(
    !readdirSync(tmpdir()).some((n) => n.startsWith('kyverno-runtime-selftest-')),
    'the scratch directories are removed',
  );
}

describe('kyverno-runtime selftest', { skip }, () => {
  test('with the shipped policies, every watched behavior with a probe on this kernel is seen and fires', async () => {
    const { code, stdout, stderr } = await selftest([]);
    const table = rows(stdout);
    assert.equal(code, 0, `selftest failed:\n${stdout}\n${stderr}`);
    const attached = table.filter((r) => r.probe === 'attached');
    // What the shipped policies watch and every kernel with syscall tracepoints can see.
    for (const b of ['process-exec', 'volume-mount', 'file-write', 'network-connect', 'privilege-escalation'])
      assert.ok(
        attached.some((r) => r.behavior === b),
        `${b} is exercised:\n${stdout}`,
      );
    for (const r of attached) {
      assert.equal(r.seen, 'yes', `${r.behavior} seen:\n${stdout}`);
      assert.notEqual(r.fired, 'none', `${r.behavior} fired:\n${stdout}`);
    }
    // A process in a kubepods-like cgroup without a cluster: what really happens is printed.
    const shell = table.find((r) => r.behavior === 'process-exec');
    assert.match(shell?.attributedTo ?? '', /cgroup of container [0-9a-f]{12}/);
    assert.match(shell?.fired ?? '', /shell-in-container\//);
    assert.match(stdout, /\d+\/\d+ exercised behaviors seen and fired/);
    assertNothingLeft();
  });

  test('with policies watching every behavior, every attached probe comes through', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kr-selftest-policies-'));
    try {
      const behaviors = [
        'process-exec',
        'volume-mount',
        'network-connect',
        'network-listen',
        'network-accept',
        'privilege-escalation',
        'ptrace',
        'namespace-change',
        'bpf-load',
        'module-load',
      ];
      // The selftest's processes run in a kubepods-like cgroup: without a cluster they are a Pod.
      const rules = behaviors.map((b) => ({
        name: b,
        match: { any: [{ resources: { kinds: ['Node', 'Pod'] } }] },
        restrict: { message: b, behaviors: [b] },
      }));
      // A prefix below a directory that does not exist: the selftest creates it inside its tmpfs only.
      rules.push({
        name: 'files',
        match: { any: [{ resources: { kinds: ['Node', 'Pod'] } }] },
        restrict: {
          message: 'file',
          behaviors: ['file-read', 'file-write'],
          pattern: { event: { file: { path: '/var/lib/kyverno-runtime-selftest-missing/*' } } },
        } as never,
      });
      writeFileSync(
        join(dir, 'all.yaml'),
        JSON.stringify({
          apiVersion: 'runtime.kyverno.io/v1alpha1',
          kind: 'ClusterRuntimePolicy',
          metadata: { name: 'all' },
          spec: { failureAction: 'Audit', rules },
        }),
      );
      const { code, stdout, stderr } = await selftest(['-p', dir]);
      const table = rows(stdout);
      assert.equal(code, 0, `selftest failed:\n${stdout}\n${stderr}`);
      // One row per behavior but `alert` (other tools' own rules).
      assert.equal(table.length, BEHAVIORS.length - 1, stdout);
      for (const r of table) {
        if (r.probe !== 'attached') {
          // Only a missing tracepoint may excuse a behavior.
          assert.match(r.probe, /^not attached: no tracepoint/, `${r.behavior}:\n${stdout}`);
          continue;
        }
        assert.equal(r.seen, 'yes', `${r.behavior} seen:\n${stdout}`);
        assert.match(r.fired, /^all\//, `${r.behavior} fired:\n${stdout}`);
      }
      for (const b of ['ptrace', 'namespace-change', 'bpf-load', 'network-listen', 'file-read'])
        assert.equal(table.find((r) => r.behavior === b)?.probe, 'attached', stdout);
      assert.equal(
        existsSync('/var/lib/kyverno-runtime-selftest-missing'),
        false,
        'created only in the tmpfs',
      );
      assertNothingLeft();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
