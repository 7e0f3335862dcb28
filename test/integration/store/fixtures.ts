/**
 * Real sample events for the store/server/ui tests, read through the Tetragon adapter; a line the
 * adapter throws on falls back to a minimal reading of its process_exec record, so the tests still run
 * on real data.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { adaptLine } from '../../../src/events/adapters/index.js';
import type { RuntimeEvent } from '../../../src/events/types.js';
import type { FailureAction, Verdict } from '../../../src/contracts/verdict.js';

export const SAMPLES = fileURLToPath(new URL('../../../../shared/samples/', import.meta.url));

interface TetragonProcess {
  exec_id?: string;
  pid?: number;
  uid?: number;
  cwd?: string;
  binary?: string;
  arguments?: string;
  start_time?: string;
  pod?: {
    namespace?: string;
    name?: string;
    container?: { id?: string; name?: string; image?: { name?: string } };
    pod_labels?: Record<string, string>;
  };
}

function fallbackExec(line: string, n: number): RuntimeEvent | undefined {
  const rec = JSON.parse(line) as {
    process_exec?: { process?: TetragonProcess; parent?: TetragonProcess };
    node_name?: string;
    time?: string;
  };
  const p = rec.process_exec?.process;
  if (!p?.binary) return undefined;
  const parent = rec.process_exec?.parent;
  return {
    id: `${p.exec_id ?? 'exec'}-${n}`,
    time: rec.time ?? p.start_time ?? new Date(0).toISOString(),
    source: 'tetragon',
    behavior: 'process-exec',
    ...(rec.node_name ? { node: rec.node_name } : {}),
    process: {
      pid: p.pid,
      uid: p.uid,
      binary: p.binary,
      args: p.arguments ? p.arguments.split(' ') : [],
      cwd: p.cwd,
    },
    ...(parent
      ? { parent: { pid: parent.pid, binary: parent.binary, args: parent.arguments?.split(' ') ?? [] } }
      : {}),
    ...(p.pod
      ? {
          pod: { namespace: p.pod.namespace, name: p.pod.name, labels: p.pod.pod_labels ?? {} },
          container: {
            id: p.pod.container?.id,
            name: p.pod.container?.name,
            image: p.pod.container?.image?.name,
          },
        }
      : {}),
    raw: rec,
  };
}

/** process-exec events from real Tetragon captures (adapter output when available). */
export function tetragonExecEvents(): RuntimeEvent[] {
  const lines = ['testdata-events.jsonl', 'docs-current.jsonl', 'runtime-radar-captures.jsonl'].flatMap((f) =>
    readFileSync(`${SAMPLES}tetragon/${f}`, 'utf8').split('\n').filter(Boolean),
  );
  const out: RuntimeEvent[] = [];
  lines.forEach((line, i) => {
    try {
      const r = adaptLine(line, 'tetragon');
      if (r.kind === 'events') out.push(...r.events.filter((e) => e.behavior === 'process-exec'));
    } catch {
      const e = fallbackExec(line, i);
      if (e) out.push(e);
    }
  });
  return out;
}

/** A verdict as the runtime engine produces it for a synthesised pod (local mode). */
export function verdictFor(
  event: RuntimeEvent,
  opts: { policy?: string; rule?: string; mode?: FailureAction; message?: string } = {},
): Verdict {
  const ns = event.pod?.namespace;
  return {
    policy: opts.policy ?? 'restrict-exec',
    rule: opts.rule ?? 'no-shell',
    mode: opts.mode ?? 'Audit',
    resource: ns
      ? { apiVersion: 'v1', kind: 'Pod', namespace: ns, name: event.pod?.name ?? 'unknown' }
      : { apiVersion: 'v1', kind: 'Node', name: event.node ?? 'localhost' },
    ...(event.container?.name ? { container: event.container.name } : {}),
    synthetic: true,
    behavior: event.behavior,
    message: opts.message ?? `process ${event.process?.binary ?? '?'} executed`,
    eventId: event.id,
    time: event.time,
    actions: opts.mode === 'Enforce' ? [{ kill: {} }] : [],
    event,
  };
}

/** A kill-on-exec policy and a PolicyException for its `debug-*` pods: exempted verdicts to store and show. */
export const EXEMPTION_POLICY = `apiVersion: runtime.kyverno.io/v1alpha1
kind: ClusterRuntimePolicy
metadata: {name: no-exec}
spec:
  failureAction: Enforce
  rules:
    - name: no-exec
      match: {any: [{resources: {kinds: [Pod]}}]}
      restrict:
        message: "exec {{ event.process.binary }}"
        behaviors: [process-exec]
        pattern: {event: {process: {binary: "/*"}}}
        actions: [{kill: {}}]
`;

export const EXEMPTION_EXCEPTION = `apiVersion: kyverno.io/v2
kind: PolicyException
metadata: {name: debug-pods, namespace: ops}
spec:
  exceptions: [{policyName: no-exec, ruleNames: [no-exec]}]
  match: {any: [{resources: {kinds: [Pod], names: ["debug-*"]}}]}
`;
