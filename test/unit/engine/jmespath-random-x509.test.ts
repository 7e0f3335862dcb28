// Kyverno's JMESPath `random` (goregen semantics) and `x509_decode` (Go's x509.Certificate JSON, RSA keys).
// The certificate fixtures were made with openssl; the expected modulus comes from `openssl x509 -modulus`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { compileJmesPath, JmesPathError } from '../../../src/engine/jmespath/index.js';

const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');
const q = (expr: string, data: unknown = {}) => compileJmesPath(expr)(data);

test('random() generates strings the pattern matches', () => {
  const cases: [string, RegExp][] = [
    ['[0-9a-z]{5}', /^[0-9a-z]{5}$/],
    ['(foo|bar)-[A-Z]{3}\\d+', /^(foo|bar)-[A-Z]{3}\d+$/],
    ['[^a-z]{4}', /^[^a-z]{4}$/],
    ['x\\w{2,3}y?', /^x\w{2,3}y?$/],
    ['^[[:alpha:]]{6}$', /^[A-Za-z]{6}$/],
    ['(?:ab){2}', /^abab$/],
  ];
  for (const [pattern, shape] of cases) {
    for (let i = 0; i < 20; i++) {
      const out = q(`random('${pattern.replaceAll('\\', '\\\\')}')`);
      assert.equal(typeof out, 'string');
      assert.match(out as string, shape, `${pattern} gave ${String(out)}`);
    }
  }
  // Unbounded repeats stop at goregen's ten extra copies.
  for (let i = 0; i < 20; i++) assert.ok((q("random('a*')") as string).length <= 10);
  // Two draws of a wide pattern differ (a constant would not be random).
  assert.notEqual(q("random('[a-z]{32}')"), q("random('[a-z]{32}')"));
});

test('random() refuses an empty or invalid pattern', () => {
  assert.throws(() => q("random('')"), /no pattern provided/);
  assert.throws(() => q("random('(a')"), JmesPathError);
  assert.throws(() => q("random('(a)\\\\1')"), /invalid escape sequence/);
});

test('x509_decode() returns the certificate fields as Go encodes them', () => {
  const pem = fixture('x509-rsa-webhook.pem');
  const cert = q('x509_decode(@)', pem) as Record<string, unknown>;
  const subject = cert['Subject'] as Record<string, unknown>;
  assert.equal(subject['CommonName'], 'webhook.acme.svc');
  assert.deepEqual(subject['Organization'], ['Acme']);
  assert.deepEqual(subject['OrganizationalUnit'], ['Platform']);
  assert.deepEqual(subject['Country'], ['US']);
  assert.equal(subject['Locality'], null);
  assert.deepEqual((subject['Names'] as unknown[])[0], { Type: [2, 5, 4, 6], Value: 'US' });
  assert.equal((cert['Issuer'] as Record<string, unknown>)['CommonName'], 'webhook.acme.svc');
  assert.equal(cert['SerialNumber'], 4660);
  assert.equal(cert['NotAfter'], '2126-11-11T12:39:41Z');
  assert.equal(cert['IsCA'], false);
  assert.deepEqual(cert['DNSNames'], ['webhook.acme.svc', 'webhook']);
  assert.deepEqual(cert['IPAddresses'], ['10.0.0.1']);
  assert.deepEqual(cert['ExtKeyUsage'], [1, 2]);
  assert.equal(cert['PublicKeyAlgorithm'], 1);
  const modulus = fixture('x509-rsa-webhook.modulus').trim();
  assert.deepEqual(cert['PublicKey'], { N: BigInt(`0x${modulus}`).toString(10), E: 65537 });
  // Kyverno's documented use: base64-encoded certificates decoded first.
  const b64 = Buffer.from(pem).toString('base64');
  assert.equal(q('x509_decode(base64_decode(@)).Subject.CommonName', b64), 'webhook.acme.svc');
});

test('x509_decode() refuses what Kyverno refuses, and says what it does not support', () => {
  assert.throws(() => q('x509_decode(@)', 'not a pem'), /failed to decode PEM block/);
  assert.throws(() => q('x509_decode(@)', fixture('x509-ec.pem')), /certificate should use rsa algorithm/);
  assert.throws(
    () => q('x509_decode(@)', fixture('x509-rsa.csr.pem')),
    /CERTIFICATE REQUEST is not supported by kyverno-runtime/,
  );
  assert.throws(
    () => q('x509_decode(@)', '-----BEGIN PRIVATE KEY-----\nAA==\n-----END PRIVATE KEY-----\n'),
    /neither contains a CERTIFICATE or CERTIFICATE REQUEST/,
  );
});
