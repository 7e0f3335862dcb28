import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseListenAddress, parseSocketMode, parseSourceAddress } from '../../../src/cli/listen-address.js';

const local = { defaultHost: '127.0.0.1', allowBarePort: true };
const cluster = { defaultHost: '0.0.0.0', allowBarePort: false };

describe('listen-address flags', () => {
  it('read host:port, [v6]:port and :port, an empty host taking the command default', () => {
    assert.deepEqual(parseListenAddress('10.0.0.1:8080', local), { host: '10.0.0.1', port: 8080 });
    assert.deepEqual(parseListenAddress('[::1]:9090', cluster), { host: '::1', port: 9090 });
    assert.deepEqual(parseListenAddress(':8081', cluster), { host: '0.0.0.0', port: 8081 });
    assert.deepEqual(parseListenAddress(':8080', local), { host: '127.0.0.1', port: 8080 });
  });

  it('accept a bare port only where the flag allows it (run), on loopback', () => {
    assert.deepEqual(parseListenAddress('8080', local), { host: '127.0.0.1', port: 8080 });
    assert.throws(
      () => parseListenAddress('8081', cluster),
      /invalid address "8081" \(want host:port or :port\)/,
    );
  });

  it('ignore blanks around the value: " :8080" is :8080, never a blank host', () => {
    assert.deepEqual(parseListenAddress(' :8080', local), { host: '127.0.0.1', port: 8080 });
    assert.deepEqual(parseListenAddress(' :8081 ', cluster), { host: '0.0.0.0', port: 8081 });
    assert.deepEqual(parseListenAddress(' 9090', local), { host: '127.0.0.1', port: 9090 });
  });

  it('refuse ports out of range and anything that is not an address', () => {
    assert.throws(() => parseListenAddress(':65536', cluster), /port out of range/);
    assert.throws(() => parseListenAddress('99999', local), /port out of range/);
    for (const bad of ['', 'localhost', 'host:', 'host:http', '[::1]', 'my host:80', '[::1 ]:80'])
      assert.throws(() => parseListenAddress(bad, local), /invalid address/, bad);
  });

  it('--source-listen reads unix:/path (and gRPC-style unix:///path) as a socket, anything else as TCP', () => {
    assert.deepEqual(parseSourceAddress('unix:/run/kr.sock', local), { kind: 'unix', path: '/run/kr.sock' });
    assert.deepEqual(parseSourceAddress('unix:///run/kr.sock', local), {
      kind: 'unix',
      path: '/run/kr.sock',
    });
    assert.deepEqual(parseSourceAddress('2801', local), { kind: 'tcp', host: '127.0.0.1', port: 2801 });
    for (const bad of ['unix:', 'unix:relative.sock'])
      assert.throws(() => parseSourceAddress(bad, local), /unix:\/absolute\/path/, bad);
  });

  it('--source-socket-mode takes octal permission bits only', () => {
    assert.equal(parseSocketMode('0600'), 0o600);
    assert.equal(parseSocketMode('660'), 0o660);
    assert.equal(parseSocketMode('0o640'), 0o640);
    for (const bad of ['4755', '0800', 'rw', '06000', ''])
      assert.throws(() => parseSocketMode(bad), /invalid socket mode/, bad);
  });
});
