/**
 * `block` in the real kernel: processes placed in a test cgroup v2 connect to real listening servers;
 * the cgroup connect program must deny exactly what the policy says (EPERM before any packet), change
 * its mind on a policy reload without detaching, report every denial as an `enforced: true` event the
 * engine turns into a verdict, stay bounded under a hostile rule list and a denial flood, and detach
 * when the agent goes away.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { startLocalMode } from '../../src/app/local.js';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createRuntimeEngine } from '../../src/engine/runtime/index.js';
import type { RuntimeEvent } from '../../src/events/types.js';
import { kernelBlockDenials, kernelBlockLost, kernelBlockOverflow } from '../../src/observability/metrics.js';
import { loadPolicyText } from '../../src/policy/index.js';
import {
  ensureKernelBlockLoader,
  findCgroup2Root,
  KernelBlocker,
} from '../../src/sources/kernel-block/index.js';
import type { KernelBlockRule } from '../../src/contracts/kernel-block.js';
import { waitFor } from '../support/wait.js';

const run = promisify(execFile);
const root = process.platform === 'linux' ? findCgroup2Root() : undefined;
const skip =
  process.getuid?.() !== 0 ? 'needs root' : root === undefined ? 'needs a cgroup v2 hierarchy' : undefined;

const CGROUP = `/kblock-test-${process.pid}`;

function policyText(conditions: string, name = 'no-egress'): string {
  return `apiVersion: runtime.kyverno.io/v1alpha1
kind: ClusterRuntimePolicy
metadata:
  name: ${name}
spec:
  failureAction: Enforce
  rules:
    - name: deny
      match:
        any:
          - resources:
              kinds: [Pod, Node]
      restrict:
        behaviors: [network-connect]
        conditions:
${conditions}
        actions:
          - block: {}
`;
}

/** The test cgroup plus one destination condition. */
function scoped(extra: string): string {
  return `          all:
            - key: '{{ event.cgroup.path }}'
              operator: Equals
              value: ${CGROUP}
${extra}`;
}

function compile(text: string): { rules: KernelBlockRule[]; engine: ReturnType<typeof createRuntimeEngine> } {
  const r = loadPolicyText(text, 'policy.yaml');
  assert.deepEqual(r.errors, []);
  const engine = createRuntimeEngine(r.policies);
  return { rules: [...engine.kernelBlockRules], engine };
}

const portIs = (p: number): string => `            - key: '{{ event.network.dport }}'
              operator: Equals
              value: ${p}`;

/**
 * Connects from a fresh process placed in the test cgroup (or not); answers errno per target
 * (0 = connected). Python: a second runtime, and it starts in milliseconds.
 */
async function connectFrom(
  inCgroup: boolean,
  targets: [string, number, ('inet' | 'inet6')?][],
  repeat = 1,
): Promise<number[]> {
  const script = `
import socket, sys, json, os
if sys.argv[1] == '1':
    open(sys.argv[2] + '/cgroup.procs', 'w').write(str(os.getpid()))
out = []
for host, port, fam in json.loads(sys.argv[3]):
    for _ in range(int(sys.argv[4])):
        s = socket.socket(socket.AF_INET6 if fam == 'inet6' else socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.connect((host, port)); r = 0
        except OSError as e:
            r = e.errno
        s.close()
    out.append(r)
print(json.dumps(out))
`;
  const { stdout } = await run('python3', [
    '-c',
    script,
    inCgroup ? '1' : '0',
    join(root!, CGROUP),
    JSON.stringify(targets.map(([h, p, f]) => [h, p, f ?? (h.includes(':') ? 'inet6' : 'inet')])),
    String(repeat),
  ]);
  return JSON.parse(stdout) as number[];
}

const EPERM = 1;

async function listen(host: string): Promise<Server> {
  const server = createServer((s) => s.destroy());
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return server;
}
const portOf = (s: Server): number => (s.address() as { port: number }).port;

async function counterValue(
  metric: { get(): Promise<{ values: { value: number; labels: object }[] }> },
  labels: Record<string, string> = {},
): Promise<number> {
  const { values } = await metric.get();
  return values
    .filter((v) => Object.entries(labels).every(([k, x]) => (v.labels as Record<string, string>)[k] === x))
    .reduce((n, v) => n + v.value, 0);
}

describe('block: the cgroup connect program in the real kernel', { skip }, () => {
  let loader = '';
  let servers: Server[] = [];
  let a = 0; // 127.0.0.1
  let b = 0; // 127.0.0.1
  let c = 0; // ::1
  let blocker: KernelBlocker | undefined;
  const events: RuntimeEvent[] = [];

  before(async () => {
    loader = await ensureKernelBlockLoader({ install: false });
    mkdirSync(join(root!, CGROUP), { recursive: true });
    servers = [await listen('127.0.0.1'), await listen('127.0.0.1'), await listen('::1')];
    [a, b, c] = servers.map(portOf) as [number, number, number];
  });

  after(async () => {
    await blocker?.stop();
    for (const s of servers) s.close();
    try {
      rmdirSync(join(root!, CGROUP));
    } catch {
      // a straggler still in it; the next run uses another name
    }
  });

  test('a process in the scoped cgroup gets EPERM on the denied port; other ports and other cgroups connect', async () => {
    const { rules } = compile(policyText(scoped(portIs(a))));
    blocker = new KernelBlocker({ loader, rules });
    await blocker.start((e) => void events.push(e));
    assert.equal(blocker.load.loaded, 1);
    assert.deepEqual(
      await connectFrom(true, [
        ['127.0.0.1', a],
        ['127.0.0.1', b],
      ]),
      [EPERM, 0],
    );
    // The same port from outside the scoped cgroup is not this rule's business.
    assert.deepEqual(await connectFrom(false, [['127.0.0.1', a]]), [0]);
  });

  test('the agent itself is never denied, even by a rule that covers every cgroup', async () => {
    await blocker!.update(compile(policyText(`          all:\n${portIs(b)}`)).rules);
    assert.deepEqual(await connectFrom(false, [['127.0.0.1', b]]), [EPERM], 'another process is denied');
    const { createConnection } = await import('node:net');
    const own = createConnection({ host: '127.0.0.1', port: b });
    const err = await new Promise<Error | undefined>((resolve) => {
      own.once('connect', () => resolve(undefined));
      own.once('error', resolve);
    });
    own.destroy();
    assert.equal(err, undefined, "the agent (the loader's parent) connects");
    await blocker!.update(compile(policyText(scoped(portIs(a)))).rules);
  });

  test('an IPv4-mapped IPv6 destination does not slip past an IPv4 rule', async () => {
    assert.deepEqual(await connectFrom(true, [['::ffff:127.0.0.1', a, 'inet6']]), [EPERM]);
  });

  test('each denial is an enforced network-connect event naming the policy and rule, and the engine reports it', async () => {
    const { engine } = compile(policyText(scoped(portIs(a))));
    await waitFor(() => events.filter((e) => e.network?.dport === a).length >= 2);
    const denial = events.find((e) => e.network?.dport === a)!;
    assert.equal(denial.enforced, true);
    assert.equal(denial.behavior, 'network-connect');
    assert.equal(denial.source, 'kernel-block');
    assert.equal(denial.network?.daddr, '127.0.0.1');
    assert.equal(denial.network?.protocol, 'tcp');
    assert.equal(denial.cgroup?.path, CGROUP);
    assert.deepEqual((denial.raw as { decidedBy: unknown }).decidedBy, { policy: 'no-egress', rule: 'deny' });
    const verdicts = engine.evaluate(denial);
    assert.equal(verdicts.length, 1);
    assert.equal(verdicts[0]?.policy, 'no-egress');
    assert.equal(verdicts[0]?.event.enforced, true);
    // The mapped address is reported as the IPv4 address the engine's rule names.
    assert.ok(events.some((e) => e.network?.family === 'ipv4' && e.sourceEvent === 'cgroup/connect6'));
  });

  test('a policy reload changes the denied port without restarting or detaching the program', async () => {
    const pid = blocker!.pid;
    await blocker!.update(compile(policyText(scoped(portIs(b)))).rules);
    assert.equal(blocker!.pid, pid, 'same loader process');
    assert.deepEqual(
      await connectFrom(true, [
        ['127.0.0.1', a],
        ['127.0.0.1', b],
      ]),
      [0, EPERM],
    );
  });

  test('IPv6: ::1 on the denied port gets EPERM while 127.0.0.1 on another port connects', async () => {
    await blocker!.update(
      compile(
        policyText(
          scoped(`            - key: '{{ event.network.daddr }}'
              operator: Equals
              value: '::1'
${portIs(c)}`),
        ),
      ).rules,
    );
    assert.deepEqual(
      await connectFrom(true, [
        ['::1', c],
        ['127.0.0.1', a],
      ]),
      [EPERM, 0],
    );
    await waitFor(() => events.some((e) => e.network?.daddr === '::1' && e.network.family === 'ipv6'));
  });

  test('a hostile rule list is bounded: rules past the map sizes are left out whole and counted', async () => {
    const before = {
      ports: await counterValue(kernelBlockOverflow, { map: 'ports' }),
      rules: await counterValue(kernelBlockOverflow, { map: 'rules' }),
    };
    // 10000 ports in one rule: more than the port map holds.
    const many = Array.from({ length: 10_000 }, (_, i) => 10_000 + i);
    const huge = compile(
      policyText(
        scoped(`            - key: '{{ event.network.dport }}'
              operator: AnyIn
              value: [${many.join(', ')}]`),
      ),
    ).rules;
    // 300 alternatives: more kernel rules than the program walks.
    const alternatives = Array.from(
      { length: 300 },
      (_, i) => `            - key: '{{ event.network.dport }}'
              operator: Equals
              value: ${20_000 + i}`,
    ).join('\n');
    const wide = compile(policyText(`          any:\n${alternatives}`, 'wide')).rules.map((r) => ({
      ...r,
      scope: { kind: 'cgroup-path' as const, path: CGROUP, below: false },
    }));
    const load = await blocker!.update([...huge, ...wide]);
    assert.equal(load.loaded, 256);
    assert.equal(load.skipped.length, 1 + 300 - 256);
    assert.match(load.skipped[0]!.reason, /port map holds 8192/);
    assert.equal((await counterValue(kernelBlockOverflow, { map: 'ports' })) - before.ports, 1);
    assert.equal((await counterValue(kernelBlockOverflow, { map: 'rules' })) - before.rules, 300 - 256);
    // What was loaded still works: the first alternative's port is denied.
    assert.deepEqual(await connectFrom(true, [['127.0.0.1', 20_000]]), [EPERM]);
  });

  test('a denial flood is bounded: every connect is denied, and each denial is reported or counted lost', async () => {
    await blocker!.update(compile(policyText(scoped(portIs(a)))).rules);
    const seen0 = await counterValue(kernelBlockDenials);
    const lost0 = await counterValue(kernelBlockLost, { reason: 'ring-buffer' });
    const n = 20_000;
    assert.deepEqual(await connectFrom(true, [['127.0.0.1', a]], n), [EPERM]);
    await waitFor(
      async () =>
        (await counterValue(kernelBlockDenials)) -
          seen0 +
          (await counterValue(kernelBlockLost, { reason: 'ring-buffer' })) -
          lost0 >=
        n,
    );
    const total =
      (await counterValue(kernelBlockDenials)) -
      seen0 +
      (await counterValue(kernelBlockLost, { reason: 'ring-buffer' })) -
      lost0;
    assert.equal(total, n);
  });

  test('the program detaches when the loader sees stdin EOF (the agent stopped or died)', async () => {
    const pid = blocker!.pid!;
    await blocker!.stop();
    blocker = undefined;
    assert.throws(() => process.kill(pid, 0), /ESRCH/);
    assert.deepEqual(await connectFrom(true, [['127.0.0.1', a]]), [0]);
  });

  test('SIGKILL of the agent detaches the program too', async () => {
    // A separate Node process owns the loader; it is killed without any chance to clean up.
    const agent = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        '-e',
        `import { KernelBlocker } from ${JSON.stringify(join(process.cwd(), 'src/sources/kernel-block/index.ts'))};
         const b = new KernelBlocker({ loader: ${JSON.stringify(loader)}, rules: ${JSON.stringify(compile(policyText(scoped(portIs(a)))).rules)} });
         await b.start(() => undefined);
         console.log(b.pid);`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const loaderPid = await new Promise<number>((resolve) =>
      agent.stdout.once('data', (d: Buffer) => resolve(Number(String(d).trim()))),
    );
    assert.deepEqual(await connectFrom(true, [['127.0.0.1', a]]), [EPERM]);
    agent.kill('SIGKILL');
    await waitFor(() => {
      try {
        process.kill(loaderPid, 0);
        return false;
      } catch {
        return true;
      }
    });
    assert.deepEqual(await connectFrom(true, [['127.0.0.1', a]]), [0]);
  });
});

describe('block in local mode (`run`): denials go through the pipeline into the store', { skip }, () => {
  test('the denial is stored as a violation with enforced: true and block succeeded; /api/policies says kernel', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kblock-run-'));
    const cgroup = `${CGROUP}-run`;
    mkdirSync(join(root!, cgroup), { recursive: true });
    const server = await listen('127.0.0.1');
    const port = portOf(server);
    const policies = join(dir, 'block.yaml');
    writeFileSync(
      policies,
      policyText(`          all:
            - key: '{{ event.cgroup.path }}'
              operator: Equals
              value: ${cgroup}
${portIs(port)}`),
    );
    const said: string[] = [];
    const handle = await startLocalMode({
      policies: [policies],
      source: 'http',
      sourceListen: { kind: 'tcp', host: '127.0.0.1', port: 0 },
      listen: { host: '127.0.0.1', port: 0 },
      nodeName: 'n',
      db: join(dir, 'store.db'),
      install: false,
      logLevel: 'silent',
      logFile: join(dir, 'log.json'),
      actionMode: 'policy',
      say: (m) => said.push(m),
    });
    try {
      assert.ok(
        said.some((l) => /block: cgroup connect4\/connect6 program attached/.test(l)),
        said.join('\n'),
      );
      const { stdout } = await run('python3', [
        '-c',
        `import os, socket, sys
open(sys.argv[1] + '/cgroup.procs', 'w').write(str(os.getpid()))
s = socket.socket()
try:
    s.connect(('127.0.0.1', int(sys.argv[2]))); print(0)
except OSError as e:
    print(e.errno)`,
        join(root!, cgroup),
        String(port),
      ]);
      assert.equal(stdout.trim(), String(EPERM));
      let id: number | undefined;
      await waitFor(() => {
        id = handle.store.listViolations({ policy: 'no-egress' }).items[0]?.id;
        return id !== undefined && (handle.store.getViolation(id)?.actions.length ?? 0) > 0;
      });
      const detail = handle.store.getViolation(id!)!;
      assert.equal(detail.lastEvent.enforced, true);
      assert.equal(detail.lastEvent.network?.dport, port);
      assert.deepEqual(
        detail.actions.map((x) => [x.action, x.outcome]),
        [['block', 'succeeded']],
      );
      const res = await fetch(new URL('/api/policies', handle.server!.url));
      assert.equal(res.status, 200, await res.clone().text());
      const body = (await res.json()) as { policies: { rules: { block?: { enforcement: string } }[] }[] };
      assert.equal(body.policies[0]?.rules[0]?.block?.enforcement, 'kernel');
    } finally {
      await handle.stop();
      server.close();
      rmSync(dir, { recursive: true, force: true });
      try {
        rmdirSync(join(root!, cgroup));
      } catch {
        // a straggler still in it
      }
    }
  });
});
