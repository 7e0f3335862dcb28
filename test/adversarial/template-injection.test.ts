/**
 * Event values are data: a process name, argument or path that looks like a `{{ }}` template, a JMESPath
 * fragment or a pattern reference is substituted once and never evaluated. Each case replays what a
 * workload can do (name its binary, pass arguments) through the real engine and the action handlers.
 */
import { WebhookDestinations } from '../../src/actions/webhook-destination.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import type { CoreV1Api } from '@kubernetes/client-node';
import { createRuntimeEngine } from '../../src/engine/runtime/index.js';
import { loadPolicies, loadPolicyText, formatPolicyError } from '../../src/policy/index.js';
import type { RuntimeEvent } from '../../src/events/types.js';
import type { Verdict } from '../../src/contracts/verdict.js';
import { compileTemplate, MAX_MESSAGE_LENGTH, renderTruncations } from '../../src/engine/variables/index.js';
import { annotate } from '../../src/actions/annotate.js';
import { label } from '../../src/actions/label.js';
import { patch } from '../../src/actions/patch.js';
import { webhook } from '../../src/actions/webhook.js';
import type { ActionContext } from '../../src/actions/context.js';
import { registry } from '../../src/observability/metrics.js';

const root = new URL('../../', import.meta.url).pathname;

function policy(restrict: string): string {
  return `apiVersion: runtime.kyverno.io/v1alpha1
kind: ClusterRuntimePolicy
metadata:
  name: p
spec:
  failureAction: Audit
  rules:
    - name: r
      match:
        any:
          - resources:
              kinds: [Pod]
      restrict:
${restrict
  .split('\n')
  .map((l) => `        ${l}`)
  .join('\n')}
`;
}

function engineFor(yaml: string) {
  const loaded = loadPolicyText(yaml, 'hostile.yaml');
  assert.deepEqual(loaded.errors.map(formatPolicyError), []);
  return createRuntimeEngine(loaded.policies, { nodeName: 'node-a' });
}

const exec = (binary: string, args: string[] = []): RuntimeEvent => ({
  id: `ev-${Math.random()}`,
  time: '2026-11-26T12:00:00Z',
  source: 'test',
  behavior: 'process-exec',
  process: { pid: 77, uid: 0, binary, args, cwd: '/bin/x' },
  container: { name: 'app', image: 'registry.example.com/app:1' },
  pod: { namespace: 'prod', name: 'web-1', labels: { secret: 'pod-label-value' } },
});

const messageRule = (message: string) =>
  policy(`message: ${JSON.stringify(message)}
behaviors: [process-exec]
pattern:
  event:
    process:
      binary: "*"`);

test('a process named like a doubling template renders as its own name, not as the event twice over', () => {
  const name = '/tmp/{{ to_string(event) }}{{ to_string(event) }}';
  const [verdict] = engineFor(messageRule('ran {{ event.process.binary }}')).evaluate(exec(name));
  assert.equal(verdict?.message, `ran ${name}`);
});

test('a binary path holding a variable is not substituted: /bin/{{ event.process.pid }} stays as written', () => {
  const [verdict] = engineFor(messageRule('{{ event.process.binary }}')).evaluate(
    exec('/bin/{{ event.process.pid }}'),
  );
  assert.equal(verdict?.message, '/bin/{{ event.process.pid }}');
});

test('an argument {{ request.object }} does not dump the resource into the message', () => {
  const [verdict] = engineFor(messageRule('args: {{ event.process.args[0] }}')).evaluate(
    exec('/bin/sh', ['{{ request.object }}']),
  );
  assert.equal(verdict?.message, 'args: {{ request.object }}');
  assert.doesNotMatch(verdict.message, /pod-label-value/);
});

// The nested style docs/expressions.md shows: the binary sits inside a quoted literal of the outer expression.
const outsideBinRule = policy(`message: "binary outside /bin: {{ event.process.binary }}"
behaviors: [process-exec]
conditions:
  all:
    - key: "{{ regex_match('^/(usr/)?bin/', '{{ event.process.binary }}') }}"
      operator: Equals
      value: false`);

test('a path that closes the quoted literal cannot turn a violation off under a nested template', () => {
  const engine = engineFor(outsideBinRule);
  for (const binary of [
    "/tmp/evil') || `true` || ('",
    "/tmp/evil\\') || `true` || (\\'",
    '/tmp/evil" || `true` || "',
    '/tmp/evil` || `true',
    "/tmp/x', '^/tmp/') && `false` && regex_match('",
  ]) {
    const verdicts = engine.evaluate(exec(binary));
    assert.equal(verdicts.length, 1, `no violation for ${binary}`);
    assert.equal(verdicts[0]!.message, `binary outside /bin: ${binary}`);
  }
  assert.equal(engine.evaluate(exec('/usr/bin/ls')).length, 0, 'a /usr/bin binary is allowed');
});

test('a nested variable outside a quoted literal is refused at load with file:line:col', () => {
  const loaded = loadPolicyText(
    policy(`behaviors: [process-exec]
conditions:
  all:
    - key: "{{ event.process.{{ event.pod.name }} }}"
      operator: Equals
      value: x`),
    'bare.yaml',
  );
  assert.equal(loaded.policies.length, 0);
  const [error] = loaded.errors.map(formatPolicyError);
  assert.match(error ?? '', /^bare\.yaml:\d+:\d+: .*nested variable must sit inside a quoted literal/);
});

test('a $( reference arriving in a value is not resolved against the pattern', () => {
  // Before: the rendered pattern's "$(./cwd)" was resolved to the pattern's own cwd "/bin/x" and matched.
  const engine = engineFor(
    policy(`behaviors: [process-exec]
pattern:
  event:
    process:
      cwd: "/bin/x"
      binary: "{{ event.process.args[0] }}"`),
  );
  assert.equal(engine.evaluate(exec('/bin/x', ['$(./cwd)'])).length, 0);
  assert.equal(engine.evaluate(exec('/bin/x', ['/bin/x'])).length, 1, 'the equal value still matches');
});

test('a message grown by event data is cut at the cap with a marker, and the cut is counted', async () => {
  const before = renderTruncations().message;
  const [verdict] = engineFor(messageRule('{{ to_string(event) }} / {{ to_string(event) }}')).evaluate(
    exec('/bin/sh', ['A'.repeat(50_000)]),
  );
  assert.ok(verdict);
  assert.ok(verdict.message.length <= MAX_MESSAGE_LENGTH, `${verdict.message.length} characters`);
  assert.match(verdict.message, /…\[truncated from \d+ chars\]$/);
  assert.equal(renderTruncations().message, before + 1);
  const scraped = await registry.getSingleMetricAsString('kyverno_runtime_render_truncated_total');
  assert.match(scraped, new RegExp(`kind="message"} ${before + 1}\\b`));
});

test('rendering is linear: doubling templates in data cost nothing extra', () => {
  const template = compileTemplate('{{ event.process.binary }}');
  const hostile = '{{ to_string(event) }}'.repeat(2000);
  const started = process.hrtime.bigint();
  const out = template.render({ event: { process: { binary: hostile } } });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  assert.equal(out, hostile);
  assert.ok(ms < 200, `${ms} ms`);
});

// ---- actions -------------------------------------------------------------------------------------------

interface Recorded {
  body: unknown;
}

function actionContext(event: RuntimeEvent, recorded: Recorded[], verdict?: Partial<Verdict>): ActionContext {
  const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web-1', namespace: 'prod', uid: 'uid-1' } };
  const core = {
    patchNamespacedPod: (req: { body: unknown }) => {
      recorded.push({ body: req.body });
      return Promise.resolve({});
    },
  } as unknown as CoreV1Api;
  return {
    clients: { core, apps: undefined as never, networking: undefined as never },
    verdict: {
      policy: 'p',
      rule: 'r',
      mode: 'Audit',
      resource: { kind: 'Pod', name: 'web-1', namespace: 'prod' },
      behavior: event.behavior,
      message: 'm',
      eventId: event.id,
      time: event.time,
      actions: [],
      event,
      ...verdict,
    } as Verdict,
    target: { object: pod, kind: 'Pod', name: 'web-1', namespace: 'prod', uid: 'uid-1' },
    dryRun: false,
    budget: () => Promise.resolve(true),
    workloadOf: () => Promise.resolve(undefined),
    events: undefined,
    logger: undefined,
    variables: { request: { object: pod }, object: pod, event },
    // The receiver below listens on loopback, which webhooks refuse unless it is allowed.
    webhook: {
      allowInsecureHttp: true,
      namespace: 'kr',
      destinations: new WebhookDestinations(['127.0.0.1']),
    },
  };
}

const HOSTILE_BINARY = "/tmp/{{ request.object }}') || `true` || ('{{ to_string(event) }}";

test('annotate, label and patch payloads carry the hostile value verbatim and never evaluate it', async () => {
  const recorded: Recorded[] = [];
  const ctx = actionContext(exec(HOSTILE_BINARY), recorded);
  await annotate({ annotations: { 'kr/binary': 'ran {{ event.process.binary }}' } }, ctx);
  await patch({ patch: { metadata: { annotations: { 'kr/p': '{{ event.process.binary }}' } } } }, ctx);
  // Every patch names the pod's UID (the precondition); the hostile value is carried verbatim.
  assert.deepEqual(recorded[0]!.body, {
    metadata: { annotations: { 'kr/binary': `ran ${HOSTILE_BINARY}` }, uid: 'uid-1' },
  });
  assert.deepEqual(recorded[1]!.body, {
    metadata: { annotations: { 'kr/p': HOSTILE_BINARY }, uid: 'uid-1' },
  });
  // A label value with template text is refused as an invalid label, not rendered into something valid.
  const r = await label(
    { labels: { binary: '{{ event.process.args[0] }}' } },
    {
      ...ctx,
      variables: { ...ctx.variables, event: exec('/bin/sh', ['{{ event.pod.name }}']) },
    },
  );
  assert.equal(r.outcome, 'failed');
  assert.match(r.detail ?? '', /invalid label value "\{\{ event\.pod\.name \}\}"/);
});

test('a patch key from data named __proto__ is an own key, and long payload strings are capped', async () => {
  const recorded: Recorded[] = [];
  const ctx = actionContext(exec('__proto__', ['B'.repeat(20_000)]), recorded);
  const before = renderTruncations().action;
  await patch(
    { patch: { metadata: { annotations: { '{{ event.process.binary }}': '{{ event.process.args[0] }}' } } } },
    ctx,
  );
  const annotations = (recorded[0]!.body as { metadata: { annotations: Record<string, string> } }).metadata
    .annotations;
  assert.ok(Object.hasOwn(annotations, '__proto__'));
  assert.equal(Object.getPrototypeOf(annotations), Object.prototype);
  const value = annotations['__proto__']!;
  assert.ok(value.length <= 4096 && value.endsWith('…[truncated from 20000 chars]'));
  assert.equal(renderTruncations().action, before + 1);
});

test('the webhook body carries the verdict message as sent, over a real socket', async () => {
  const bodies: string[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      bodies.push(body);
      res.end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = server.address() as AddressInfo;
    const event = exec(HOSTILE_BINARY);
    const [verdict] = engineFor(messageRule('ran {{ event.process.binary }}')).evaluate(event);
    const r = await webhook({ url: `http://127.0.0.1:${port}/hook` }, actionContext(event, [], verdict));
    assert.equal(r.outcome, 'succeeded');
    const sent = JSON.parse(bodies[0]!) as { message: string; event: { process: { binary: string } } };
    assert.equal(sent.message, `ran ${HOSTILE_BINARY}`);
    assert.equal(sent.event.process.binary, HOSTILE_BINARY);
  } finally {
    server.close();
  }
});

// ---- properties ------------------------------------------------------------------------------------------

const hostileString = fc
  .array(
    fc.oneof(
      fc.constantFrom(
        '{{',
        '}}',
        '{{ to_string(event) }}',
        '{{ request.object }}',
        '\\{{',
        '{{-',
        '`',
        "'",
        '"',
        '\\',
        '$(',
        '$(./../cwd)',
        ')',
        '||',
        '&&',
        '@',
        '[?',
        ']',
        '{',
        '}',
        'has(object.x)',
        'object.?a.orValue(1)',
        '${',
        '\uE000',
        '\uE0010\uE001',
      ),
      fc.string({ maxLength: 4 }),
    ),
    { maxLength: 12 },
  )
  .map((parts) => parts.join(''));

test('property: any event string renders verbatim in messages and action payloads', async () => {
  const engine = engineFor(messageRule('bin={{ event.process.binary }} arg={{ event.process.args[0] }}'));
  await fc.assert(
    fc.asyncProperty(hostileString, hostileString, async (binary, arg) => {
      const [verdict] = engine.evaluate(exec(binary, [arg]));
      assert.equal(verdict?.message, `bin=${binary} arg=${arg}`);
      const recorded: Recorded[] = [];
      const ctx = actionContext(exec(binary, [arg]), recorded);
      await annotate({ annotations: { a: '{{ event.process.binary }}|{{ event.process.args[0] }}' } }, ctx);
      assert.deepEqual(recorded[0]!.body, {
        metadata: { annotations: { a: `${binary}|${arg}` }, uid: 'uid-1' },
      });
    }),
    { numRuns: 300 },
  );
});

test('property: an event string never changes a verdict, through nested templates or patterns', () => {
  const nested = engineFor(outsideBinRule);
  const pattern = engineFor(
    policy(`behaviors: [process-exec]
pattern:
  event:
    process:
      cwd: "/bin/x"
      binary: "{{ event.process.args[0] }}"`),
  );
  fc.assert(
    fc.property(hostileString, (s) => {
      assert.equal(nested.evaluate(exec(`/tmp/${s}`)).length, 1, 'outside /bin is a violation');
      assert.equal(nested.evaluate(exec(`/bin/${s}`)).length, 0, 'inside /bin is not');
      // A pattern compares the value; with no pattern syntax in it (wildcards, operators, alternatives,
      // ranges: which Kyverno also reads in a substituted value), only an equal binary matches.
      const arg = s.replace(/[*?|&!<>-]/g, '');
      const matches = pattern.evaluate(exec('/bin/x', [arg])).length === 1;
      assert.equal(matches, arg === '/bin/x');
    }),
    { numRuns: 300 },
  );
});

// ---- end to end ------------------------------------------------------------------------------------------

test('kr apply -p policies/ -e <hostile network-connect event> completes with a bounded message', async () => {
  const cli = join(root, 'dist/src/cli/main.js');
  if (!existsSync(cli)) assert.fail('build the CLI first: npm run build');
  const loaded = await loadPolicies([join(root, 'policies')]);
  assert.deepEqual(loaded.errors, []);
  const dir = mkdtempSync(join(tmpdir(), 'kr-template-'));
  const events = join(dir, 'hostile.ndjson');
  const binary = `/tmp/${'{{ to_string(event) }}'.repeat(8)}`;
  const event = {
    id: 'hostile-1',
    time: '2026-11-26T12:00:00Z',
    source: 'test',
    behavior: 'network-connect',
    node: 'node-a',
    process: { pid: 4242, binary, args: ['x'.repeat(10_000)] },
    network: { protocol: 'tcp', daddr: '203.0.113.9', dport: 4444 },
  };
  writeFileSync(events, `${JSON.stringify(event)}\n`);
  const r = spawnSync(
    process.execPath,
    [cli, 'apply', '-p', join(root, 'policies'), '-e', events, '-o', 'json'],
    {
      encoding: 'utf8',
      timeout: 60_000,
      maxBuffer: 16 * 1024 * 1024,
    },
  );
  assert.equal(r.signal, null, r.stderr);
  assert.equal(r.status, 1, `a violation exits 1: ${r.stderr}`);
  const rows = JSON.parse(r.stdout) as { result: { message: string; policy: string } }[];
  const row = rows.find((x) => x.result.policy === 'unexpected-outbound-port');
  assert.ok(row, r.stdout.slice(0, 500));
  assert.equal(row.result.message, `${binary} connected to 203.0.113.9:4444`);
  assert.ok(r.stdout.length < 64 * 1024, `${r.stdout.length} bytes of output`);
});
