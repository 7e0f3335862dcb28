/**
 * validate.pattern tree semantics: anchors, skip vs fail vs error, paths and Kyverno's messages.
 * Fixtures are ours; the expected outcomes follow pkg/engine/validate and pkg/engine/anchor (Kyverno
 * 111e07b), see docs/pattern-semantics.md.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { compilePattern, matchPattern, type PatternResult } from '../../../src/engine/pattern/index.js';

const pod = (containers: Record<string, unknown>[], extraSpec: Record<string, unknown> = {}) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'web', labels: { app: 'web' } },
  spec: { containers, ...extraSpec },
});

function status(r: PatternResult): string {
  return r.status;
}

describe('conditional anchor (key)', () => {
  const pattern = { spec: { containers: [{ '(image)': '*:latest', imagePullPolicy: 'Always' }] } };

  test('condition holds and the rest matches: pass', () => {
    const r = matchPattern(pod([{ name: 'a', image: 'nginx:latest', imagePullPolicy: 'Always' }]), pattern);
    assert.deepEqual(r, { status: 'pass' });
  });

  test('condition holds but the rest does not: fail at the element path', () => {
    const r = matchPattern(
      pod([{ name: 'a', image: 'nginx:latest', imagePullPolicy: 'IfNotPresent' }]),
      pattern,
    );
    assert.deepEqual(r, {
      status: 'fail',
      path: '/spec/containers/0/imagePullPolicy/',
      reason:
        "resource value 'IfNotPresent' does not match 'Always' at path /spec/containers/0/imagePullPolicy/",
    });
  });

  test('condition false for every element: the whole rule skips', () => {
    const r = matchPattern(
      pod([{ name: 'a', image: 'nginx:1.25', imagePullPolicy: 'IfNotPresent' }]),
      pattern,
    );
    assert.equal(r.status, 'skip');
    assert.equal(
      r.status === 'skip' && r.reason,
      "conditional anchor mismatch: resource value 'nginx:1.25' does not match '*:latest' at path /spec/containers/0/image/",
    );
  });

  test('elements that skip are ignored when another element applies', () => {
    const r = matchPattern(
      pod([
        { name: 'a', image: 'nginx:1.25', imagePullPolicy: 'IfNotPresent' },
        { name: 'b', image: 'redis:latest', imagePullPolicy: 'Always' },
      ]),
      pattern,
    );
    assert.deepEqual(r, { status: 'pass' });
  });

  test('several skipped elements combine their messages with "; "', () => {
    const r = matchPattern(
      pod([
        { name: 'a', image: 'x:1' },
        { name: 'b', image: 'y:2' },
      ]),
      pattern,
    );
    assert.equal(r.status, 'skip');
    assert.match(r.status === 'skip' ? r.reason : '', /'x:1' .*; conditional anchor mismatch: .*'y:2'/);
  });

  test('conditional key absent from the resource: skip', () => {
    const r = matchPattern(pod([{ name: 'a' }]), pattern);
    assert.equal(r.status, 'skip');
    assert.match(r.status === 'skip' ? r.reason : '', /conditional anchor key doesn't exist in the resource/);
  });

  test('a conditional anchor in a nested map (not in an array) skips the whole rule', () => {
    const r = matchPattern(pod([{ name: 'a' }]), {
      metadata: { '(name)': 'db-*' },
      spec: { hostNetwork: true },
    });
    assert.equal(r.status, 'skip');
  });

  test('all conditional anchors of one map are ANDed', () => {
    const p = {
      spec: { containers: [{ '(name)': 'a', '(image)': 'nginx*', securityContext: { privileged: false } }] },
    };
    assert.equal(status(matchPattern(pod([{ name: 'a', image: 'redis' }]), p)), 'skip');
    assert.equal(status(matchPattern(pod([{ name: 'a', image: 'nginx' }]), p)), 'fail');
  });

  test('a plain failure sorted before the anchor does not win: anchors run first', () => {
    // "aaa" sorts before "(image)" would not matter: phase one (anchors) always runs before plain keys.
    const p = { spec: { containers: [{ aaa: 'x', '(image)': '*:latest' }] } };
    assert.equal(status(matchPattern(pod([{ name: 'a', image: 'nginx:1' }]), p)), 'skip');
  });
});

describe('equality anchor =(key)', () => {
  const pattern = { spec: { '=(hostNetwork)': false } };
  test('absent: pass', () => assert.equal(status(matchPattern(pod([]), pattern)), 'pass'));
  test('present and equal: pass', () =>
    assert.equal(status(matchPattern(pod([], { hostNetwork: false }), pattern)), 'pass'));
  test('present and different: fail with path', () =>
    assert.deepEqual(matchPattern(pod([], { hostNetwork: true }), pattern), {
      status: 'fail',
      path: '/spec/hostNetwork/',
      reason: "resource value 'true' does not match 'false' at path /spec/hostNetwork/",
    }));
});

describe('negation anchor X(key)', () => {
  const pattern = { spec: { 'X(hostPID)': 'null' } };
  test('absent: pass', () => assert.equal(status(matchPattern(pod([]), pattern)), 'pass'));
  test('present (whatever the value): fail', () =>
    assert.deepEqual(matchPattern(pod([], { hostPID: false }), pattern), {
      status: 'fail',
      path: '/spec/hostPID/',
      reason: 'negation anchor matched in resource: /spec/hostPID/ is not allowed',
    }));
  test('a negation failure inside a conditional anchor is a skip', () => {
    const p = { '(spec)': { 'X(hostPID)': 'null' } };
    assert.equal(status(matchPattern(pod([], { hostPID: true }), p)), 'skip');
  });
});

describe('existence anchor ^(key)', () => {
  const pattern = { spec: { '^(containers)': [{ name: 'sidecar', image: 'envoy*' }] } };
  test('absent: pass', () => assert.equal(status(matchPattern({ spec: {} }, pattern)), 'pass'));
  test('at least one element matches: pass', () =>
    assert.equal(
      status(
        matchPattern(
          pod([
            { name: 'app', image: 'web' },
            { name: 'sidecar', image: 'envoy:1' },
          ]),
          pattern,
        ),
      ),
      'pass',
    ));
  test('no element matches: fail at the list path', () =>
    assert.deepEqual(matchPattern(pod([{ name: 'app', image: 'web' }]), pattern), {
      status: 'fail',
      path: '/spec/containers/',
      reason: 'existence anchor validation failed at path /spec/containers/',
    }));
  test('every pattern element must be found', () => {
    const p = { spec: { '^(containers)': [{ name: 'a' }, { name: 'b' }] } };
    assert.equal(status(matchPattern(pod([{ name: 'a' }]), p)), 'fail');
    assert.equal(status(matchPattern(pod([{ name: 'b' }, { name: 'a' }]), p)), 'pass');
  });
  test('a non-list resource value fails with Kyverno message', () =>
    assert.deepEqual(matchPattern({ spec: { containers: 'x' } }, pattern), {
      status: 'fail',
      path: '/spec/containers/',
      reason:
        'invalid resource type string: Existence ^ () anchor can be used only on list/array type resource',
    }));
});

describe('global anchor <(key)', () => {
  const pattern = {
    spec: { containers: [{ name: '*', '<(image)': '*:latest', imagePullPolicy: '!Always' }] },
  };
  test('global condition false in every element: skip', () =>
    assert.equal(
      status(matchPattern(pod([{ name: 'n', image: 'nginx:v1', imagePullPolicy: 'Always' }]), pattern)),
      'skip',
    ));
  test('global condition true and the rest fails: fail', () =>
    assert.equal(
      status(matchPattern(pod([{ name: 'n', image: 'nginx:latest', imagePullPolicy: 'Always' }]), pattern)),
      'fail',
    ));
  test('an element whose global condition is false is absorbed by the array', () =>
    assert.equal(
      status(
        matchPattern(
          pod([
            { name: 'n', image: 'nginx:latest', imagePullPolicy: 'IfNotPresent' },
            { name: 'm', image: 'nginx:v2', imagePullPolicy: 'Always' },
          ]),
          pattern,
        ),
      ),
      'pass',
    ));
  test('a global anchor at map level skips the whole rule', () => {
    const p = { metadata: { '<(name)': 'nginx' }, spec: { imagePullSecrets: [{ name: 'regcred' }] } };
    assert.equal(
      status(matchPattern({ metadata: { name: 'other' }, spec: { imagePullSecrets: [] } }, p)),
      'skip',
    );
    assert.equal(
      status(matchPattern({ metadata: { name: 'nginx' }, spec: { imagePullSecrets: [{ name: 'x' }] } }, p)),
      'fail',
    );
  });
});

describe('plain keys, "*" and structure mismatches', () => {
  test('"*" requires the key to exist and be non-null; the path is the parent', () => {
    const p = { metadata: { labels: '*' } };
    assert.equal(status(matchPattern({ metadata: { labels: {} } }, p)), 'pass');
    assert.deepEqual(matchPattern({ metadata: { name: 'x' } }, p), {
      status: 'fail',
      path: '/metadata/',
      reason: '/metadata//labels not found',
    });
    assert.equal(status(matchPattern({ metadata: { labels: null } }, p)), 'fail');
  });

  test('a map pattern needs a map: Go type names in the message', () => {
    assert.deepEqual(matchPattern({ metadata: {} }, { spec: { hostNetwork: false } }), {
      status: 'fail',
      path: '/spec/',
      reason:
        'pattern and resource have different structures. Path: /spec/. Expected map[string]interface {}, found <nil>',
    });
    const r = matchPattern({ spec: [] }, { spec: { a: 1 } });
    assert.equal(r.status === 'fail' && r.reason.endsWith('found []interface {}'), true);
  });

  test('an array pattern needs an array', () =>
    assert.deepEqual(matchPattern({ spec: { containers: {} } }, { spec: { containers: [{ name: 'a' }] } }), {
      status: 'fail',
      path: '/spec/containers/',
      reason:
        'validation rule failed at path /spec/containers/, resource does not satisfy the expected overlay pattern',
    }));

  test('null pattern accepts absent, null, "", 0 and false', () => {
    for (const v of [undefined, null, '', 0, false]) {
      const resource = v === undefined ? { spec: {} } : { spec: { x: v } };
      assert.equal(status(matchPattern(resource, { spec: { x: null } })), 'pass', String(v));
    }
    assert.equal(status(matchPattern({ spec: { x: 'a' } }, { spec: { x: null } })), 'fail');
  });

  test('+(key) is a plain key in validate patterns', () =>
    assert.equal(status(matchPattern({ spec: { x: 1 } }, { spec: { '+(x)': 1 } })), 'fail'));

  test('keys that look like object prototype members are not found on plain resources', () =>
    assert.equal(status(matchPattern({ spec: {} }, { spec: { constructor: '*' } })), 'fail'));
});

describe('arrays', () => {
  test('only the first element of a pattern array of maps is used', () => {
    const p = { spec: { containers: [{ name: 'a*' }, { name: 'zzz' }] } };
    assert.equal(status(matchPattern(pod([{ name: 'ab' }, { name: 'ac' }]), p)), 'pass');
  });
  test('a scalar pattern array means "every element equals the first"', () => {
    const p = { spec: { list: ['a', 'b'] } };
    assert.equal(status(matchPattern({ spec: { list: ['a', 'a'] } }, p)), 'pass');
    assert.deepEqual(matchPattern({ spec: { list: ['a', 'b'] } }, p), {
      status: 'fail',
      path: '/spec/list/',
      reason: "resource value '[a b]' does not match 'a' at path /spec/list/",
    });
  });
  test('a scalar pattern against a resource list checks every element', () => {
    const p = { spec: { ports: '>1024' } };
    assert.equal(status(matchPattern({ spec: { ports: [8080, 9090] } }, p)), 'pass');
    assert.equal(status(matchPattern({ spec: { ports: [8080, 80] } }, p)), 'fail');
  });
  test('an empty pattern array fails', () =>
    assert.deepEqual(matchPattern({ spec: { x: [1] } }, { spec: { x: [] } }), {
      status: 'fail',
      path: '/spec/x/',
      reason: 'pattern Array empty',
    }));
  test('an empty resource array passes a pattern of maps', () =>
    assert.equal(status(matchPattern(pod([]), { spec: { containers: [{ name: 'x' }] } })), 'pass'));
  test('nested arrays compare positionally; a short resource is an error without a path', () => {
    const p = { m: [[1], [2]] };
    assert.equal(status(matchPattern({ m: [[1], [2], [3]] }, p)), 'pass');
    assert.equal(status(matchPattern({ m: [[1], [3]] }, p)), 'fail');
    assert.deepEqual(matchPattern({ m: [[1]] }, p), {
      status: 'error',
      reason:
        'validate Array failed, array length mismatch, resource Array len is 1 and pattern Array len is 2',
    });
  });
});

describe('anchor keys missing from the resource turn a failure into an error', () => {
  test('an existence anchor whose key never appears, plus a failing plain key: error', () => {
    const r = matchPattern({ bar: 'y' }, { '^(foo)': [{ a: 1 }], bar: 'x' });
    assert.deepEqual(r, { status: 'error', reason: "resource value 'y' does not match 'x' at path /bar/" });
  });
  test('a negation anchor whose key is absent does not count as missing', () => {
    const r = matchPattern({ bar: 'y' }, { 'X(foo)': 'null', bar: 'x' });
    assert.equal(r.status, 'fail');
  });
});

describe('scalar comparisons inside trees', () => {
  test('a missing field is "0" for numeric operators', () => {
    const resource = { spec: {} };
    assert.equal(status(matchPattern(resource, { spec: { replicas: '<=5' } })), 'pass');
    assert.equal(status(matchPattern(resource, { spec: { replicas: '<5' } })), 'pass');
    assert.equal(status(matchPattern(resource, { spec: { replicas: '!1' } })), 'pass');
    assert.equal(status(matchPattern(resource, { spec: { replicas: '>0' } })), 'fail');
    assert.equal(status(matchPattern(resource, { spec: { replicas: '!foo' } })), 'fail');
    assert.equal(status(matchPattern(resource, { spec: { replicas: '?*' } })), 'fail');
    assert.equal(status(matchPattern(resource, { spec: { ttl: '<=1h' } })), 'pass', 'durations too');
  });
  test('quantities and durations normalise units', () => {
    const limits = { spec: { resources: { memory: '1Gi', cpu: '500m', timeout: '90m' } } };
    assert.equal(
      status(
        matchPattern(limits, { spec: { resources: { memory: '1024Mi', cpu: '0.5', timeout: '1h30m' } } }),
      ),
      'pass',
    );
    assert.equal(status(matchPattern(limits, { spec: { resources: { memory: '128Mi-2Gi' } } })), 'pass');
    assert.equal(status(matchPattern(limits, { spec: { resources: { memory: '2Gi!-4Gi' } } })), 'pass');
  });
  test('wildcards apply to stringified numbers; floats print in Go %E form', () => {
    assert.equal(status(matchPattern({ port: 8080 }, { port: '?*' })), 'pass');
    assert.equal(status(matchPattern({ port: 8080 }, { port: '80*' })), 'pass');
    assert.equal(status(matchPattern({ ratio: 1.5 }, { ratio: '1.5E+00' })), 'pass');
    assert.deepEqual(matchPattern({ ratio: 1.5 }, { ratio: 2.5 }), {
      status: 'fail',
      path: '/ratio/',
      reason: "resource value '1.5' does not match '2.5' at path /ratio/",
    });
  });
  test('bool patterns need bools; int patterns accept numeric strings', () => {
    assert.equal(status(matchPattern({ a: 'true' }, { a: true })), 'fail');
    assert.equal(status(matchPattern({ a: '8' }, { a: 8 })), 'pass');
    assert.equal(status(matchPattern({ a: 8 }, { a: '8' })), 'pass');
  });
  test('| is OR of & groups; a literal that looks like a range is a range', () => {
    assert.equal(status(matchPattern({ ip: '10.1.2.3' }, { ip: '192.168.* | 10.*' })), 'pass');
    assert.equal(status(matchPattern({ n: 15 }, { n: '>1 & <10 | >12 & <20' })), 'pass');
    assert.equal(status(matchPattern({ v: '2020-01' }, { v: '2020-01' })), 'pass', 'exact equality first');
    assert.equal(
      status(matchPattern({ v: '2020-02' }, { v: '2020-01 | 2020-02' })),
      'fail',
      'range, not literal',
    );
  });
});

describe('compile once, match many', () => {
  test('a compiled pattern gives the same results across resources and leaks no state', () => {
    const compiled = compilePattern({
      metadata: { labels: { 'app.kubernetes.io/*': '?*' } },
      spec: { containers: [{ '(image)': '*:latest', imagePullPolicy: 'Always' }] },
    });
    const good = {
      metadata: { labels: { 'app.kubernetes.io/name': 'web' } },
      spec: { containers: [{ image: 'a:latest', imagePullPolicy: 'Always' }] },
    };
    const badLabel = {
      metadata: { labels: { 'app.kubernetes.io/name': '' } },
      spec: { containers: [{ image: 'a:latest', imagePullPolicy: 'Always' }] },
    };
    for (let i = 0; i < 3; i++) {
      assert.equal(compiled.match(good).status, 'pass');
      assert.deepEqual(compiled.match(badLabel), {
        status: 'fail',
        path: '/metadata/labels/app.kubernetes.io/name/',
        reason: "resource value '' does not match '?*' at path /metadata/labels/app.kubernetes.io/name/",
      });
      assert.equal(
        compiled.match({ metadata: { labels: { other: 'x' } }, spec: { containers: [] } }).status,
        'fail',
      );
    }
  });
});

describe('skips bubbling out of anchored lists', () => {
  const pattern = {
    spec: {
      '=(initContainers)': [{ '(name)': '!istio-init', '=(securityContext)': { '=(runAsUser)': '>0' } }],
      '=(containers)': [{ '=(securityContext)': { '=(runAsUser)': '>0' } }],
    },
  };
  test('another anchor of the same map applied: the excluded list does not skip the rule', () => {
    const resource = {
      spec: {
        initContainers: [{ name: 'istio-init', securityContext: { runAsUser: 0 } }],
        containers: [{ name: 'a' }],
      },
    };
    assert.equal(matchPattern(resource, pattern).status, 'pass');
  });
  test('no other anchor applied (absent keys do not count): skip', () => {
    const resource = {
      spec: { initContainers: [{ name: 'istio-init', securityContext: { runAsUser: 0 } }] },
    };
    assert.equal(matchPattern(resource, pattern).status, 'skip');
  });
});
