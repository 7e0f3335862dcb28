/**
 * Where a policy's webhook may send a verdict (and a Secret's token): loopback, link-local and cloud
 * metadata are refused unless explicitly allowed, on the address connected to — a name served by
 * an attacker's DNS server that answers 169.254.169.254 is refused even when the name is allowed —
 * and redirects are not followed.
 */
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { Resolver } from 'node:dns/promises';
import { createServer, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import type { ActionContext } from '../../src/actions/context.js';
import type { WebhookAction } from '../../src/contracts/actions.js';
import { webhook } from '../../src/actions/webhook.js';
import { WebhookDestinations, type LookupAll } from '../../src/actions/webhook-destination.js';
import { registry } from '../../src/observability/metrics.js';
import { seedPod, verdictFor } from '../integration/k8s/helpers.js';
import type { Obj } from '../integration/k8s/fake-apiserver/server.js';

/** A DNS server answering every A question with `answer` (what an attacker's zone does). */
async function startDns(answer: () => string): Promise<{ socket: Socket; port: number; asked: string[] }> {
  const socket = createSocket('udp4');
  const asked: string[] = [];
  socket.on('message', (msg, from) => {
    let i = 12;
    const labels: string[] = [];
    while (msg[i]! > 0) {
      labels.push(msg.subarray(i + 1, i + 1 + msg[i]!).toString());
      i += msg[i]! + 1;
    }
    const qtype = msg.readUInt16BE(i + 1);
    const question = msg.subarray(12, i + 5);
    asked.push(labels.join('.'));
    const header = Buffer.alloc(12);
    msg.copy(header, 0, 0, 2); // id
    header.writeUInt16BE(0x8180, 2); // response, recursion available, no error
    header.writeUInt16BE(1, 4);
    header.writeUInt16BE(qtype === 1 ? 1 : 0, 6);
    const parts = [header, question];
    if (qtype === 1) {
      const rr = Buffer.alloc(16);
      rr.writeUInt16BE(0xc00c, 0); // name: pointer to the question
      rr.writeUInt16BE(1, 2); // A
      rr.writeUInt16BE(1, 4); // IN
      rr.writeUInt32BE(0, 6); // TTL 0: ask again every time
      rr.writeUInt16BE(4, 10);
      answer()
        .split('.')
        .forEach((o, k) => rr.writeUInt8(Number(o), 12 + k));
      parts.push(rr);
    }
    socket.send(Buffer.concat(parts), from.port, from.address);
  });
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', r));
  return { socket, port: socket.address().port, asked };
}

/** A `lookup` going to that DNS server instead of the system resolver. */
function lookupVia(port: number): LookupAll {
  const resolver = new Resolver({ timeout: 2000, tries: 1 });
  resolver.setServers([`127.0.0.1:${port}`]);
  return (hostname, cb) => {
    resolver.resolve4(hostname).then(
      (addrs) =>
        cb(
          null,
          addrs.map((address) => ({ address, family: 4 })),
        ),
      (err: unknown) => cb(err as NodeJS.ErrnoException, []),
    );
  };
}

async function refused(reason: string): Promise<number> {
  const m = await registry.getSingleMetric('kyverno_runtime_webhook_refused_total')!.get();
  return m.values.find((v) => v.labels.reason === reason)?.value ?? 0;
}

describe('webhook destinations', () => {
  let receiver: Server;
  let port = 0;
  let hits: string[] = [];
  let bystander: Server;
  let bystanderPort = 0;
  let bystanderHits = 0;
  const pod: Obj = seedPod({ seed: (o: Obj) => o } as never, 'web');

  before(async () => {
    receiver = createServer((req, res) => {
      hits.push(req.url ?? '');
      req.resume();
      if (req.url === '/redirect') {
        res.writeHead(307, { location: `http://127.0.0.1:${bystanderPort}/stolen` });
        res.end();
        return;
      }
      res.end('ok');
    });
    bystander = createServer((req, res) => {
      bystanderHits++;
      req.resume();
      res.end('ok');
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    await new Promise<void>((r) => bystander.listen(0, '127.0.0.1', r));
    port = (receiver.address() as { port: number }).port;
    bystanderPort = (bystander.address() as { port: number }).port;
  });
  after(() => {
    receiver.close();
    bystander.close();
  });

  function send(url: string, destinations?: WebhookDestinations): ReturnType<typeof webhook> {
    const spec: WebhookAction = { url, timeoutSeconds: 5 };
    const ctx = {
      verdict: verdictFor(pod, [{ webhook: spec }]),
      dryRun: false,
      webhook: {
        allowInsecureHttp: true,
        namespace: 'kyverno-runtime',
        ...(destinations && { destinations }),
      },
    } as unknown as ActionContext;
    return webhook(spec, ctx);
  }

  it('refuses a real receiver on 127.0.0.1 by default and reaches it once allowed', async () => {
    hits = [];
    const before = await refused('destination-not-allowed');
    const denied = await send(`http://127.0.0.1:${port}/hook`);
    assert.equal(denied.outcome, 'failed');
    assert.match(denied.detail ?? '', /127\.0\.0\.1 \(loopback\)/);
    assert.deepEqual(hits, []);
    assert.equal(await refused('destination-not-allowed'), before + 1);

    const ok = await send(`http://127.0.0.1:${port}/hook`, new WebhookDestinations(['127.0.0.1']));
    assert.equal(ok.outcome, 'succeeded', ok.detail);
    assert.deepEqual(hits, ['/hook']);
  });

  it('refuses loopback spelled as localhost, an IPv4-mapped IPv6 address or 0.0.0.0', async () => {
    hits = [];
    for (const host of ['localhost', '[::ffff:127.0.0.1]', '0.0.0.0', '[::1]']) {
      const r = await send(`http://${host}:${port}/hook`);
      assert.equal(r.outcome, 'failed', host);
      assert.match(r.detail ?? '', /loopback|unspecified/, host);
    }
    assert.deepEqual(hits, []);
  });

  it('refuses the metadata services by name and by address, and any host not in a set allow-list', async () => {
    for (const url of [
      'https://metadata.google.internal/computeMetadata/v1/',
      'http://169.254.169.254/latest/meta-data/',
      'http://[fd00:ec2::254]/latest/meta-data/',
      'http://[fe80::1]/',
    ]) {
      const r = await send(url);
      assert.equal(r.outcome, 'failed', url);
      assert.match(r.detail ?? '', /metadata|link-local/, url);
    }
    const listed = new WebhookDestinations([`http://127.0.0.1:${port}/hooks/`]);
    hits = [];
    assert.equal((await send(`http://127.0.0.1:${port}/other`, listed)).outcome, 'failed');
    assert.equal((await send(`http://127.0.0.1:${port}/hooks/../other`, listed)).outcome, 'failed');
    assert.equal((await send(`http://127.0.0.1:${bystanderPort}/hooks/x`, listed)).outcome, 'failed');
    assert.equal((await send(`http://127.0.0.1:${port}/hooks/ci`, listed)).outcome, 'succeeded');
    assert.deepEqual(hits, ['/hooks/ci']);
  });

  it('refuses a host name whose DNS answers a link-local address, even when the name is allowed', async () => {
    const dns = await startDns(() => '169.254.169.254');
    try {
      const lookup = lookupVia(dns.port);
      for (const d of [
        new WebhookDestinations([], { lookup }),
        new WebhookDestinations(['hooks.attacker.test'], { lookup }),
      ]) {
        const r = await send('http://hooks.attacker.test/collect', d);
        assert.equal(r.outcome, 'failed');
        assert.match(r.detail ?? '', /resolves to 169\.254\.169\.254 \(metadata\)/);
      }
      assert.ok(dns.asked.includes('hooks.attacker.test'), 'the name was resolved at connect time');
    } finally {
      dns.socket.close();
    }
  });

  it('checks the address at connect time: a name that rebinds to loopback is refused', async () => {
    let answers = 0;
    // First answer public (what a pre-check would see), then loopback (what a connect would get).
    const dns = await startDns(() => (answers++ === 0 ? '93.184.216.34' : '127.0.0.1'));
    try {
      const lookup = lookupVia(dns.port);
      await new Promise<void>((r, j) => lookup('rebind.attacker.test', (e) => (e ? j(e) : r())));
      hits = [];
      const r = await send(
        `http://rebind.attacker.test:${port}/collect`,
        new WebhookDestinations([], { lookup }),
      );
      assert.equal(r.outcome, 'failed');
      assert.match(r.detail ?? '', /127\.0\.0\.1 \(loopback\)/);
      assert.deepEqual(hits, []);
    } finally {
      dns.socket.close();
    }
  });

  it('does not follow a redirect from an allowed receiver', async () => {
    hits = [];
    bystanderHits = 0;
    const r = await send(`http://127.0.0.1:${port}/redirect`, new WebhookDestinations(['127.0.0.1']));
    assert.equal(r.outcome, 'failed');
    assert.match(r.detail ?? '', /answered 307/);
    assert.deepEqual(hits, ['/redirect']);
    assert.equal(bystanderHits, 0);
  });

  it('rejects a malformed allow entry with the entry in the message', () => {
    assert.throws(() => new WebhookDestinations(['10.0.0.0/99']), /"10\.0\.0\.0\/99" is not a CIDR/);
    assert.throws(() => new WebhookDestinations(['ftp://x/']), /only http\(s\) URLs/);
    assert.throws(() => new WebhookDestinations(['a b']), /is not a host/);
  });
});
