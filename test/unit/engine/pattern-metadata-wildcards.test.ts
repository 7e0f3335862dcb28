/**
 * Wildcard keys under metadata.labels / metadata.annotations (Kyverno `wildcards.ExpandInMetadata`),
 * including the quirks we copy on purpose (docs/pattern-semantics.md).
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { matchPattern, type PatternResult } from '../../../src/engine/pattern/index.js';

function outcome(r: PatternResult): { status: string; path?: string } {
  return r.status === 'pass' || r.status === 'error'
    ? { status: r.status }
    : { status: r.status, path: r.path };
}

describe('wildcard label and annotation keys', () => {
  const cases: {
    name: string;
    pattern: unknown;
    resource: unknown;
    expected: { status: string; path?: string };
  }[] = [
    {
      name: 'a * key takes the matching resource key',
      pattern: { metadata: { annotations: { 'team/*': 'payments' } } },
      resource: { metadata: { annotations: { 'team/owner': 'payments' } } },
      expected: { status: 'pass' },
    },
    {
      name: '? keys and wildcard values',
      pattern: { metadata: { annotations: { 'team/o????': 'pay*' } } },
      resource: { metadata: { annotations: { 'team/owner': 'payments' } } },
      expected: { status: 'pass' },
    },
    {
      name: 'annotations pattern but only labels in the resource: structure mismatch',
      pattern: { metadata: { annotations: { 'team/*': '*' } } },
      resource: { metadata: { labels: { 'team/owner': 'payments' } } },
      expected: { status: 'fail', path: '/metadata/annotations/' },
    },
    {
      name: 'a leading * in the key',
      pattern: { metadata: { labels: { '*/tier': 'web' } } },
      resource: { metadata: { labels: { 'example.com/tier': 'web' } } },
      expected: { status: 'pass' },
    },
    {
      name: 'the key matches, the value does not: fail at the expanded key',
      pattern: { metadata: { labels: { 'env/pr*': 'yes' } } },
      resource: { metadata: { labels: { 'env/prod': 'no' } } },
      expected: { status: 'fail', path: '/metadata/labels/env/prod/' },
    },
    {
      name: 'no resource key matches: the wildcard key stays literal and is missing',
      pattern: { metadata: { labels: { 'env/pr*': 'yes', 'team/*': 'a' } } },
      resource: { metadata: { labels: { 'env/prod': 'yes' } } },
      expected: { status: 'fail', path: '/metadata/labels/team/*/' },
    },
    {
      name: 'anchors are kept around the expanded key',
      pattern: { '=(metadata)': { '=(labels)': { '=(env/*)': 'prod' } } },
      resource: { metadata: { labels: { 'env/stage': 'dev' } } },
      expected: { status: 'fail', path: '/metadata/labels/env/stage/' },
    },
    {
      name: 'expansion also applies to pod templates (any map with a metadata child)',
      pattern: { spec: { template: { metadata: { labels: { 'app.kubernetes.io/*': '?*' } } } } },
      resource: { spec: { template: { metadata: { labels: { 'app.kubernetes.io/name': '' } } } } },
      expected: { status: 'fail', path: '/spec/template/metadata/labels/app.kubernetes.io/name/' },
    },
    {
      name: 'wildcard keys outside labels/annotations are literal',
      pattern: { spec: { nodeSelector: { 'disk*': 'ssd' } } },
      resource: { spec: { nodeSelector: { disktype: 'ssd' } } },
      expected: { status: 'fail', path: '/spec/nodeSelector/disk*/' },
    },
  ];
  for (const c of cases) {
    test(c.name, () => assert.deepEqual(outcome(matchPattern(c.resource, c.pattern)), c.expected));
  }
});

describe('quirks copied from Kyverno', () => {
  test('non-string label values are dropped from the pattern when the resource has labels', () => {
    // Kyverno rebuilds the labels pattern from string values only, so this negation is never checked.
    const pattern = { metadata: { labels: { 'X(debug)': null, app: '?*' } } };
    assert.equal(
      matchPattern({ metadata: { labels: { debug: 'true', app: 'web' } } }, pattern).status,
      'pass',
    );
    // Written as the string "null", the negation anchor survives and applies.
    const stringNull = { metadata: { labels: { 'X(debug)': 'null', app: '?*' } } };
    assert.deepEqual(
      outcome(matchPattern({ metadata: { labels: { debug: 'true', app: 'web' } } }, stringNull)),
      {
        status: 'fail',
        path: '/metadata/labels/debug/',
      },
    );
  });

  test('the expanded key persists for later elements of the same match (in-place rewrite)', () => {
    const pattern = { items: [{ metadata: { labels: { 'ap*': 'x' } } }] };
    const resource = {
      items: [{ metadata: { labels: { apple: 'x' } } }, { metadata: { labels: { apricot: 'x' } } }],
    };
    assert.deepEqual(outcome(matchPattern(resource, pattern)), {
      status: 'fail',
      path: '/items/1/metadata/labels/apple/',
    });
    // Each match starts from the compiled pattern again.
    const single = { items: [{ metadata: { labels: { apricot: 'x' } } }] };
    assert.equal(matchPattern(single, pattern).status, 'pass');
  });
});
