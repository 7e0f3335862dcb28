// `{{ }}` substitution: typed results, interpolation, nesting, escapes, {{@}}, DELETE, errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  compileTemplate,
  describeSubstitutionFailure,
  VariableSubstitutionError,
} from '../../../src/engine/variables/index.js';
import { JmesPathSyntaxError } from '../../../src/engine/jmespath/index.js';
import { compileConditions } from '../../../src/engine/conditions/index.js';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

const ctx = {
  request: {
    operation: 'CREATE',
    object: {
      metadata: { name: 'web', labels: { app: 'web' } },
      spec: { replicas: 3, schedule: '*/5 * * * *' },
    },
    oldObject: { metadata: { name: 'old-web' } },
  },
  element: { image: 'nginx:1.25' },
};

const render = (v: unknown, context: Record<string, unknown> = ctx) => compileTemplate(v).render(context);

test('values without variables are static and returned unchanged', () => {
  const value = { a: ['x', 1, true], b: null };
  const t = compileTemplate(value);
  assert.equal(t.isStatic, true);
  assert.equal(t.render(ctx), value);
});

test('a string that is exactly one variable keeps the JSON type', () => {
  assert.equal(render('{{ request.object.spec.replicas }}'), 3);
  assert.deepEqual(render('{{request.object.metadata.labels}}'), { app: 'web' });
  assert.equal(render('{{ request.object.metadata.labels.missing || `false` }}'), false);
});

test('embedded variables are interpolated; non-strings are JSON-encoded', () => {
  assert.equal(
    render('pod {{ request.object.metadata.name }} has {{request.object.spec.replicas}} replicas'),
    'pod web has 3 replicas',
  );
  assert.equal(render('labels={{request.object.metadata.labels}}'), 'labels={"app":"web"}');
  assert.equal(render('{{request.object.metadata.name}}{{request.object.spec.replicas}}'), 'web3');
});

test('keys and nested values are substituted', () => {
  assert.deepEqual(
    render({ '{{ request.object.metadata.name }}': ['{{ element.image }}', 'x-{{element.image}}'] }),
    {
      web: ['nginx:1.25', 'x-nginx:1.25'],
    },
  );
});

test('nested variables resolve inside-out, as Kyverno re-scans substituted text', () => {
  assert.equal(render("{{ regex_match('^\\*/[0-9]+ ', '{{request.object.spec.schedule}}') }}"), true);
});

test('\\{{ }} stays literal and loses its backslash', () => {
  assert.equal(
    render('literal \\{{ request.object.metadata.name }}'),
    'literal {{ request.object.metadata.name }}',
  );
});

test('{{@}} reads the value at the current pattern location', () => {
  const t = compileTemplate('{{@}}');
  assert.equal(t.render(ctx, { path: '/metadata/name' }), 'web');
  assert.equal(t.render(ctx, { path: '/spec/replicas' }), 3);
});

test('DELETE requests read request.oldObject for request.object', () => {
  const del = { request: { ...ctx.request, operation: 'DELETE' } };
  assert.equal(render('{{ request.object.metadata.name }}', del), 'old-web');
});

test("an unresolvable variable throws VariableSubstitutionError with Kyverno's wording", () => {
  const t = compileTemplate(
    { message: 'owner {{ request.object.metadata.labels.owner }}' },
    { basePath: '/validate' },
  );
  assert.throws(
    () => t.render(ctx),
    (e: unknown) => {
      assert.ok(e instanceof VariableSubstitutionError);
      assert.equal(e.variable, 'request.object.metadata.labels.owner');
      assert.equal(e.path, '/validate/message');
      assert.equal(
        describeSubstitutionFailure('check-owner', e),
        'variable substitution failed for rule check-owner: failed to resolve request.object.metadata.labels.owner at path /validate/message: Unknown key "owner" in path',
      );
      return true;
    },
  );
});

test('preconditions mode substitutes an empty string for an unresolvable variable', () => {
  const t = compileTemplate('{{ request.object.metadata.labels.owner }}', { unresolvedAsEmpty: true });
  assert.equal(t.render(ctx), '');
});

test('a malformed JMESPath is reported when the template is compiled', () => {
  assert.throws(() => compileTemplate('{{ request.object.[ }}'), JmesPathSyntaxError);
});

test('every {{ }} and condition block of the legacy conformance policies compiles', () => {
  const root = fileURLToPath(new URL('../../../../shared/conformance/kyverno-policies/', import.meta.url));
  const walk = (d: string): string[] =>
    readdirSync(d).flatMap((n) => {
      const p = join(d, n);
      if (statSync(p).isDirectory()) return n.startsWith('.') ? [] : walk(p);
      return p.endsWith('.yaml') ? [p] : [];
    });
  let policies = 0;
  let blocks = 0;
  const visit = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(visit);
    else if (v !== null && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        if (k === 'preconditions' || k === 'conditions') {
          compileConditions(x);
          blocks++;
        }
        visit(x);
      }
    }
  };
  for (const tier of ['tier-a', 'tier-b', 'tier-c']) {
    for (const f of walk(join(root, tier))) {
      for (const doc of parseAllDocuments(readFileSync(f, 'utf8'))) {
        const js = doc.toJS() as { kind?: string; spec?: unknown } | null;
        if (js?.kind !== 'ClusterPolicy' && js?.kind !== 'Policy') continue;
        compileTemplate(js.spec);
        visit(js.spec);
        policies++;
      }
    }
  }
  assert.ok(policies > 100, `found ${policies} policies`);
  assert.ok(blocks > 100, `found ${blocks} condition blocks`);
});
