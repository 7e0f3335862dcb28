// Expression hot paths (conditions, JMESPath, {{ }} templates, CEL) per runtime event.
// Run: npx tsx bench/expressions.ts   — prints ops/s, compared with a baseline measured in the same run:
// the community library's `search()` (parses the expression on every call), i.e. what compile-once saves.
// A hand-written JS predicate is listed as the ceiling.
import { search } from '@jmespath-community/jmespath';
import { compileCel } from '../src/engine/cel/index.js';
import { compileConditions } from '../src/engine/conditions/index.js';
import { compileJmesPath } from '../src/engine/jmespath/index.js';
import { compileTemplate } from '../src/engine/variables/index.js';

const event = {
  behavior: 'process-exec',
  process: { pid: 4242, uid: 0, binary: '/bin/sh', args: ['-c', 'id'], cwd: '/' },
  container: { id: 'abc', name: 'app', image: 'nginx:1.25' },
  pod: { namespace: 'prod', name: 'web-1', labels: { app: 'web' } },
};
const pod = {
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'web-1', namespace: 'prod', labels: { app: 'web' } },
};
const context = { event, request: { operation: 'CREATE', object: pod } };

function measure(name: string, fn: () => unknown, seconds = 1.5): { name: string; opsPerSec: number } {
  for (let i = 0; i < 20_000; i++) fn(); // warm-up
  let n = 0;
  const end = performance.now() + seconds * 1000;
  while (performance.now() < end) {
    for (let i = 0; i < 1000; i++) fn();
    n += 1000;
  }
  return { name, opsPerSec: n / seconds };
}

const conditions = compileConditions({
  all: [
    { key: '{{ event.process.binary }}', operator: 'AnyIn', value: ['/bin/sh', '/bin/bash', '*/busybox'] },
    { key: '{{ event.process.uid }}', operator: 'Equals', value: 0 },
    { key: "{{ request.object.metadata.labels.app || '' }}", operator: 'NotEquals', value: 'debug-*' },
  ],
});
const jp = compileJmesPath("event.process.binary == '/bin/sh' && event.pod.namespace != 'kube-system'");
const missing = compileConditions([
  { key: "{{ request.object.metadata.labels.team || '' }}", operator: 'Equals', value: '' },
]);
const template = compileTemplate(
  'shell {{ event.process.binary }} in {{ event.pod.namespace }}/{{ event.pod.name }}',
);
const cel = compileCel(
  "event.process.binary.endsWith('sh') && event.process.uid == 0 && object.metadata.namespace != 'kube-system'",
);
const celActivation = { event, object: pod };
// The runtime libraries: an egress allow-list of CIDRs, an image-reference check, a version floor.
const celCidr = compileCel(
  "['10.0.0.0/8', '192.168.0.0/16', 'fd00::/8'].exists(c, cidr(c).containsIP(event.network.daddr))",
);
const celImage = compileCel(
  "image(event.container.image).registry() == 'index.docker.io' && semver('1.25.3').isLessThan(semver('1.26.0'))",
);
const netActivation = { event: { ...event, network: { daddr: '203.0.113.7' } }, object: pod };

const jpExpr = "event.process.binary == '/bin/sh' && event.pod.namespace != 'kube-system'";
const results = [
  measure('baseline: community search(), parse per call', () => search(context, jpExpr)),
  measure('ceiling: hand-written JS predicate', () => {
    const b = event.process.binary;
    return (b === '/bin/sh' || b === '/bin/bash' || b.endsWith('/busybox')) && event.process.uid === 0;
  }),
  measure('conditions: 3 conditions (AnyIn, Equals, NotEquals)', () => conditions.evaluate(context).result),
  measure('jmespath: same expression, compiled once', () => jp(context)),
  measure('conditions: missing label read through ||', () => missing.evaluate(context).result),
  measure('template: 3 variables interpolated', () => template.render(context)),
  measure('cel: 3 clauses, event converted per call', () =>
    cel.evaluate({ event: { ...event }, object: pod }),
  ),
  measure('cel: 3 clauses, activation reused', () => cel.evaluate(celActivation)),
  measure('cel: cidr allow-list of 3 (miss: every CIDR parsed and checked)', () =>
    celCidr.evaluate(netActivation),
  ),
  measure('cel: image() registry + semver compare', () => celImage.evaluate(celActivation)),
];

const base = results[0]!.opsPerSec;
console.log('| case | ops/s | vs baseline |');
console.log('|---|---:|---:|');
for (const r of results) {
  console.log(
    `| ${r.name} | ${Math.round(r.opsPerSec).toLocaleString('en-US')} | ${(r.opsPerSec / base).toFixed(4)}x |`,
  );
}
