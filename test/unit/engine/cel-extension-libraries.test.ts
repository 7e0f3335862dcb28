// The CEL libraries users reach for at runtime, against the examples Kubernetes (k8s.io/apiserver/pkg/cel/library),
// cel-go's extensions and Kyverno's libraries document; and CEL's commutative error semantics.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CelEvaluationError, compileCel } from '../../../src/engine/cel/index.js';

const run = (expr: string, activation: Record<string, unknown> = {}) => compileCel(expr).evaluate(activation);

function table(
  cases: readonly (readonly [string, unknown])[],
  activation: Record<string, unknown> = {},
): void {
  for (const [expr, want] of cases) assert.deepEqual(run(expr, activation), want, expr);
}

function errors(expr: string, pattern: RegExp, activation: Record<string, unknown> = {}): void {
  assert.throws(
    () => run(expr, activation),
    (e: unknown) => e instanceof CelEvaluationError && pattern.test(e.message),
    expr,
  );
}

test('ip() and cidr() behave as the Kubernetes network library documents', () => {
  table([
    ["ip('127.0.0.1').family()", 4],
    ["ip('::1').family()", 6],
    ["ip('127.0.0.1').isLoopback()", true],
    ["ip('::1').isLoopback()", true],
    ["ip('0.0.0.0').isUnspecified()", true],
    ["ip('::').isUnspecified()", true],
    ["ip('224.0.0.1').isLinkLocalMulticast()", true],
    ["ip('ff02::1').isLinkLocalMulticast()", true],
    ["ip('169.254.169.254').isLinkLocalUnicast()", true],
    ["ip('fe80::1').isLinkLocalUnicast()", true],
    ["ip('192.168.0.1').isGlobalUnicast()", true],
    ["ip('255.255.255.255').isGlobalUnicast()", false],
    ["ip.isCanonical('127.0.0.1')", true],
    ["ip.isCanonical('2001:db8::abcd')", true],
    ["ip.isCanonical('2001:DB8::ABCD')", false],
    ["ip.isCanonical('2001:db8:0:0:0:0:0:abcd')", false],
    ["string(ip('2001:DB8:0:0::1'))", '2001:db8::1'],
    ["ip('10.0.0.1') == ip('10.0.0.1')", true],
    ["isIP('1.2.3.4')", true],
    ["isIP('1.02.3.4')", false],
    ["isIP('::ffff:1.2.3.4')", false],
    ["isIP('fe80::1%eth0')", false],
    ["isIP('not-an-ip')", false],
    ["cidr('192.168.0.0/24').containsIP(ip('192.168.0.1'))", true],
    ["cidr('192.168.0.0/24').containsIP('192.168.1.1')", false],
    ["cidr('192.168.0.0/24').containsIP('::1')", false],
    ["cidr('192.168.0.0/24').containsCIDR(cidr('192.168.0.0/25'))", true],
    ["cidr('192.168.0.0/24').containsCIDR('192.168.0.0/23')", false],
    ["cidr('2001:db8::/32').containsCIDR('2001:db8::/48')", true],
    ["cidr('192.168.0.1/24').masked() == cidr('192.168.0.0/24')", true],
    ["string(cidr('192.168.0.1/24').masked())", '192.168.0.0/24'],
    ["cidr('::1/128').prefixLength()", 128],
    ["cidr('192.168.0.0/24').ip() == ip('192.168.0.0')", true],
    ["cidr('10.0.0.0/8').ip().family()", 4],
    ["isCIDR('10.0.0.0/8')", true],
    ["isCIDR('10.0.0.0/33')", false],
    ["isCIDR('10.0.0.0/08')", false],
    ["isCIDR('10.0.0.0')", false],
  ]);
  errors("ip('1.2.3')", /parse error/);
  errors("ip('::ffff:1.2.3.4')", /IPv4-mapped IPv6 address is not allowed/);
  errors("cidr('10.0.0.0/40')", /bad bits/);
});

test('an event address is checked against an allow-list of CIDRs', () => {
  const allow = "['10.0.0.0/8', '192.168.0.0/16'].exists(c, cidr(c).containsIP(event.network.daddr))";
  table([[allow, true]], { event: { network: { daddr: '10.1.2.3' } } });
  table([[allow, false]], { event: { network: { daddr: '8.8.8.8' } } });
});

test('semver() parses strictly and compares by SemVer 2.0 precedence', () => {
  table([
    ["isSemver('1.2.3')", true],
    ["isSemver('1.2.3-alpha.1+build.5')", true],
    ["isSemver('v1.2.3')", false],
    ["isSemver('1.2')", false],
    ["isSemver('01.2.3')", false],
    ["isSemver('v1.2', true)", true],
    ["isSemver('01.02.03', true)", true],
    ["semver('1.2.3').major()", 1],
    ["semver('1.2.3').minor()", 2],
    ["semver('1.2.3').patch()", 3],
    ["semver('1.2.3').isGreaterThan(semver('1.2.2'))", true],
    ["semver('1.2.3-alpha').isLessThan(semver('1.2.3'))", true],
    ["semver('1.0.0-alpha.1').isLessThan(semver('1.0.0-alpha.beta'))", true],
    ["semver('1.10.0').compareTo(semver('1.9.0'))", 1],
    ["semver('1.0.0').compareTo(semver('1.0.0'))", 0],
    ["semver('1.0.0+a') == semver('1.0.0+b')", true],
    ["semver('v1.2', true) == semver('1.2.0')", true],
  ]);
  errors("semver('v1.0.0')", /Invalid Semver/);
});

test('format, strings.quote, lists, math and base64 follow cel-go', () => {
  table([
    ["'%s is %d and %.2f'.format(['x', 3, 1.234])", 'x is 3 and 1.23'],
    ["'%f'.format([1.5])", '1.500000'],
    ["'%e'.format([1234.5678])", '1.234568e+03'],
    ["'%b %o %x %X'.format([5, 8, 255, 255])", '101 10 ff FF'],
    ["'%x'.format(['hello'])", '68656c6c6f'],
    ["'%s'.format([[1, 'a', true]])", '[1, a, true]'],
    ["'100%%'.format([])", '100%'],
    ["strings.quote('a\"b\\n')", '"a\\"b\\n"'],
    ['[1, 2, 3, 4].slice(1, 3)', [2, 3]],
    ['[[1, [2]], 3].flatten()', [1, [2], 3]],
    ['[[1, [2]], 3].flatten(2)', [1, 2, 3]],
    ["['b', 'a'].sort()", ['a', 'b']],
    ['[1, 2].first().value()', 1],
    ['[1, 2].last().value()', 2],
    ['[].first().hasValue()', false],
    ['math.greatest([1, 5, 3])', 5],
    ['math.least(2, -1)', -1],
    ['math.ceil(1.2)', 2],
    ['math.floor(-1.2)', -2],
    ['math.round(-2.5)', -3],
    ['math.trunc(-1.7)', -1],
    ['math.abs(-3)', 3],
    ['math.sign(-3)', -1],
    ['math.isNaN(0.0 / 0.0)', true],
    ['math.isInf(1.0 / 0.0)', true],
    ['math.bitOr(1, 2)', 3],
    ['math.bitShiftLeft(1, 4)', 16],
    ['math.bitShiftRight(-1, 60)', 15],
    ["base64.encode(b'hello')", 'aGVsbG8='],
    ["string(base64.decode('aGVsbG8='))", 'hello'],
    ["string(base64.decode('aGVsbG8'))", 'hello'],
  ]);
  errors("'%d'.format(['x'])", /integer/);
  errors("'%s %s'.format(['x'])", /out of range/);
  errors("base64.decode('a$b=')", /illegal base64/);
  errors('[1, 2].slice(1, 5)', /list is length 2/);
});

test("Kyverno's image library parses references as go-containerregistry does", () => {
  const digest = 'sha256:6aefddb645ee6963afd681b1845c661d0ea4c3b20ab9db86d9e753b203d385f2';
  table([
    ["parseImageReference('registry.k8s.io/kube-apiserver-arm64').registry()", 'registry.k8s.io'],
    ["parseImageReference('registry.k8s.io/kube-apiserver-arm64').repository()", 'kube-apiserver-arm64'],
    ["parseImageReference('registry.k8s.io/kube-apiserver-arm64:testtag').identifier()", 'testtag'],
    ["parseImageReference('registry.k8s.io/kube-apiserver-arm64').tag()", 'latest'],
    ["parseImageReference('registry.k8s.io/kube-apiserver-arm64').containsDigest()", false],
    [`parseImageReference('registry.k8s.io/kube-apiserver-arm64@${digest}').containsDigest()`, true],
    [`parseImageReference('registry.k8s.io/kube-apiserver-arm64@${digest}').tag()`, ''],
    [`parseImageReference('registry.k8s.io/kube-apiserver-arm64@${digest}').digest()`, digest],
    [`parseImageReference('registry.k8s.io/kube-apiserver-arm64:latest@${digest}').digest()`, digest],
    [`parseImageReference('registry.k8s.io/kube-apiserver-arm64:latest@${digest}').tag()`, 'latest'],
    ["isImage('registry.k8s.io/kube-apiserver-arm64:latest')", true],
    ["isImage('registry.k8s.io/kube-apiserver-arm64:@')", false],
    ["image('nginx').registry()", 'index.docker.io'],
    ["image('nginx').repository()", 'library/nginx'],
    ["image('docker.io/bitnami/redis:7').registry()", 'index.docker.io'],
    ["image('localhost:5000/team/app:1').registry()", 'localhost:5000'],
    ["string(image('busybox'))", 'index.docker.io/library/busybox:latest'],
    ["isImage('UPPER/case')", false],
  ]);
  errors("parseImageReference('registry.k8s.io/kube-apiserver-arm64:@')", /could not parse reference/);
  // image.GetMetadata (the constant `image`) still resolves next to the image() function.
  errors("image.GetMetadata('nginx')", /no data source/);
});

test('parseServiceAccount, hashes, json and yaml', () => {
  table([
    ["parseServiceAccount('system:serviceaccount:kube-system:default').Namespace", 'kube-system'],
    ["parseServiceAccount('system:serviceaccount:kube-system:default').Name", 'default'],
    ["user.parseServiceAccount('alice').Name", ''],
    ["sha256('hello')", '2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824'],
    ["sha1('hello')", 'aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d'],
    ["md5('hello')", '5d41402abc4b2a76b9719d911017c592'],
    ["hash.sha256('hello') == sha256('hello')", true],
    ['json.unmarshal(\'{"a": [1, 2]}\').a[1]', 2],
    ["json.marshal({'b': 1, 'a': [true]})", '{"a":[true],"b":1}'],
    ["yaml.parse('a: {b: 2}').a.b", 2],
    ["yaml.parse('- x\\n- y').size()", 2],
  ]);
  errors("json.unmarshal('{')", /json.unmarshal/);
});

test('&&, ||, all and exists absorb an error or a non-bool when the other side decides', () => {
  // `object.m` is a map: a non-bool operand, which CEL treats as an error value.
  const act = { object: { m: { a: 1 }, list: [1, 2] } };
  table(
    [
      ['object.m || true', true],
      ['true || object.m', true],
      ['object.m && false', false],
      ['false && object.m', false],
      ['object.missing.x || true', true],
      ['object.missing.x && false', false],
      // all: a false element decides; exists: a true element decides, wherever the error is.
      ['object.list.all(x, x == 1 ? object.m : false)', false],
      ['object.list.all(x, x == 2 ? object.m : false)', false],
      ['object.list.exists(x, x == 1 ? object.m : true)', true],
      ['object.list.exists(x, x == 2 ? object.m : true)', true],
    ],
    act,
  );
  // Nothing decides: the error propagates.
  errors('object.m || false', /bool/, act);
  errors('object.m && true', /bool/, act);
  errors('object.list.all(x, object.m)', /bool/, act);
  errors('object.list.exists(x, x == 1 ? object.m : false)', /bool/, act);
  // exists_one must see every element, so any error is fatal (CEL spec).
  errors('object.list.exists_one(x, x == 1 ? true : object.m)', /bool/, act);
});
