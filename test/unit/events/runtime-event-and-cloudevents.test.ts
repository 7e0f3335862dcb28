/**
 * RuntimeEvent JSON and CloudEvents structured mode: accepted when valid, rejected with the field
 * path when not; the published schema agrees with the TypeScript vocabulary.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { adaptLine, adaptRecord, RUNTIME_EVENT_CLOUDEVENT_TYPE } from '../../../src/events/adapters/index.js';
import {
  BEHAVIORS,
  type AlertInfo,
  type ContainerInfo,
  type FileInfo,
  type MountInfo,
  type NetworkInfo,
  type ParentInfo,
  type PodInfo,
  type PrivilegeInfo,
  type ProcessInfo,
  type RuntimeEvent,
} from '../../../src/events/types.js';
import { validateRuntimeEvent } from '../../../src/events/validate.js';
import { SAMPLES_DIR } from './sample-expectations.js';

const valid = {
  apiVersion: 'runtime.kyverno.io/v1alpha1',
  kind: 'RuntimeEvent',
  id: 'bpftrace-0001',
  time: '2026-11-26T12:00:00.123456789Z',
  source: 'bpftrace',
  node: 'worker-1',
  behavior: 'volume-mount',
  process: { pid: 4242, uid: 0, binary: '/usr/bin/mount', args: ['/dev/sda1', '/mnt'] },
  container: { id: 'abc123', name: 'app', image: 'nginx:1.27' },
  pod: { namespace: 'prod', name: 'web-0', labels: { app: 'web' } },
  mount: { source: '/dev/sda1', target: '/mnt', fstype: 'ext4' },
  enforced: false,
};

describe('RuntimeEvent JSON', () => {
  it('accepts a valid event as is, by reference, through auto-detection', () => {
    const record = structuredClone(valid);
    const outcome = adaptRecord(record, 'auto');
    assert.equal(outcome.kind, 'events');
    if (outcome.kind !== 'events') return;
    assert.equal(outcome.format, 'runtime');
    assert.equal(outcome.events[0], record);
  });

  it('names the offending field for wrong types, unknown fields, bad enums and missing fields', () => {
    const cases: [unknown, RegExp][] = [
      [{ ...valid, process: { pid: 'x' } }, /\/process\/pid: must be integer/],
      [{ ...valid, behaviour: 'x' }, /\/: unknown field "behaviour"/],
      [{ ...valid, behavior: 'dance' }, /\/behavior: must be one of process-exec, /],
      [{ ...valid, time: 'yesterday' }, /\/time: must match pattern/],
      [{ ...valid, network: { dport: 70000 } }, /\/network\/dport: must be <= 65535/],
      [(({ id: _id, ...rest }) => rest)(valid), /\/id: required/],
    ];
    for (const [record, pattern] of cases) {
      const outcome = adaptRecord(record, 'runtime');
      assert.equal(outcome.kind, 'skipped');
      if (outcome.kind !== 'skipped') continue;
      assert.equal(outcome.reason, 'invalid-event');
      assert.match(outcome.detail, pattern);
    }
  });

  it('publishes a schema whose behavior list is the TypeScript vocabulary', () => {
    const schema = JSON.parse(
      readFileSync(new URL('../../../schemas/runtime-event.schema.json', import.meta.url), 'utf8'),
    );
    assert.deepEqual(schema.properties.behavior.enum, [...BEHAVIORS]);
    assert.match(schema.title, /runtime\.kyverno\.io\/v1alpha1/);
  });

  it('has exactly the fields of the TypeScript type, at every level (compile-time complete object)', () => {
    // Required<…> makes tsc reject this object when the type gains a field the test lacks.
    const process: Required<ProcessInfo> = {
      pid: 1,
      startTime: 't',
      uid: 0,
      binary: '/b',
      args: [],
      cwd: '/',
      execId: 'e',
    };
    const parent: Required<ParentInfo> = { pid: 1, binary: '/b', args: [] };
    const container: Required<ContainerInfo> = { id: 'c', name: 'n', image: 'i' };
    const pod: Required<PodInfo> = {
      namespace: 'ns',
      name: 'p',
      uid: 'u',
      labels: {},
      workload: 'w',
      workloadKind: 'Deployment',
    };
    const mount: Required<MountInfo> = {
      source: 's',
      target: 't',
      fstype: 'f',
      flags: [],
      kind: 'filesystem',
    };
    const network: Required<NetworkInfo> = {
      protocol: 'tcp',
      family: 'ipv4',
      saddr: 'a',
      sport: 1,
      daddr: 'b',
      dport: 2,
      domain: 'd',
    };
    const file: Required<FileInfo> = { path: '/p', operation: 'write' };
    const privilege: Required<PrivilegeInfo> = {
      fromUid: 1,
      toUid: 0,
      toGid: 0,
      result: 'succeeded',
      capability: 'CAP_SYS_ADMIN',
    };
    const alert: Required<AlertInfo> = { rule: 'r', priority: 'p', tags: [], output: 'o' };
    const full: Required<RuntimeEvent> = {
      ...valid,
      apiVersion: 'runtime.kyverno.io/v1alpha1',
      kind: 'RuntimeEvent',
      behavior: 'file-write',
      process,
      parent,
      container,
      pod,
      mount,
      network,
      file,
      privilege,
      module: { name: 'm' },
      alert,
      enforced: true,
      sourceEvent: 's',
      cgroup: { id: '1', path: '/p' },
      raw: { anything: [1] },
    };
    const schema = JSON.parse(
      readFileSync(new URL('../../../schemas/runtime-event.schema.json', import.meta.url), 'utf8'),
    );
    const keys = (o: object): string[] => Object.keys(o).sort();
    assert.deepEqual(keys(full), keys(schema.properties));
    for (const [name, value] of Object.entries(full)) {
      const sub = schema.properties[name];
      if (sub.type === 'object' && sub.properties)
        assert.deepEqual(keys(value as object), keys(sub.properties), name);
    }
    const result = validateRuntimeEvent(full);
    assert.ok(result.ok, result.ok ? '' : result.errors.join('; '));
  });

  it('validates every event the adapters produce from the tetragon samples (raw kept by reference)', () => {
    const text = readFileSync(SAMPLES_DIR + 'tetragon/docs-current.jsonl', 'utf8').split('\n')[4]!;
    const record: unknown = JSON.parse(text);
    const outcome = adaptRecord(record, 'auto');
    assert.equal(outcome.kind, 'events');
    if (outcome.kind !== 'events') return;
    assert.equal(outcome.events[0]!.raw, record, 'raw is the original object, not a copy');
    assert.ok(validateRuntimeEvent(JSON.parse(JSON.stringify(outcome.events[0]))).ok);
  });
});

describe('CloudEvents structured mode', () => {
  const envelope = {
    specversion: '1.0',
    id: 'ce-1',
    source: '//sensor/worker-1',
    type: RUNTIME_EVENT_CLOUDEVENT_TYPE,
    time: '2026-11-26T12:00:01Z',
    datacontenttype: 'application/json',
  };

  it('unwraps a RuntimeEvent from data', () => {
    const outcome = adaptLine(JSON.stringify({ ...envelope, data: valid }), 'auto');
    assert.equal(outcome.kind, 'events');
    if (outcome.kind !== 'events') return;
    assert.equal(outcome.format, 'cloudevents');
    assert.equal(outcome.events[0]!.behavior, 'volume-mount');
    assert.equal(outcome.events[0]!.id, 'bpftrace-0001');
  });

  it('fills a missing id and time from the envelope', () => {
    const { id: _i, time: _t, ...data } = valid;
    const outcome = adaptRecord({ ...envelope, data }, 'cloudevents');
    assert.equal(outcome.kind, 'events');
    if (outcome.kind !== 'events') return;
    assert.equal(outcome.events[0]!.id, 'ce-1');
    assert.equal(outcome.events[0]!.time, '2026-11-26T12:00:01Z');
  });

  it('accepts Falcosidekick cloudevents output (type falco.rule.output.v1) through the Falco adapter', () => {
    const falco = readFileSync(SAMPLES_DIR + 'falco/falco-alerts.jsonl', 'utf8').split('\n')[0]!;
    const outcome = adaptRecord(
      { ...envelope, type: 'falco.rule.output.v1', data: JSON.parse(falco) },
      'auto',
    );
    assert.equal(outcome.kind, 'events');
    if (outcome.kind !== 'events') return;
    assert.equal(outcome.events[0]!.behavior, 'process-exec');
    assert.equal(outcome.events[0]!.pod?.name, 'kubecon');
  });

  it('rejects bad envelopes with a stated reason', () => {
    const cases: [Record<string, unknown>, string, RegExp][] = [
      [{ ...envelope, specversion: '0.3', data: valid }, 'invalid-event', /specversion must be "1.0"/],
      [{ ...envelope, id: '', data: valid }, 'invalid-event', /"id" missing/],
      [{ ...envelope, type: 'com.example.other', data: valid }, 'unsupported-type', /com\.example\.other/],
      [{ ...envelope, data_base64: 'eyJ9' }, 'invalid-event', /data_base64/],
      [{ ...envelope, datacontenttype: 'application/xml', data: valid }, 'invalid-event', /not JSON/],
      [{ ...envelope, data: 'text' }, 'invalid-event', /"data" must be a JSON object/],
      [{ ...envelope, data: { ...valid, behavior: 'nope' } }, 'invalid-event', /\/behavior: must be one of/],
    ];
    for (const [record, reason, detail] of cases) {
      const outcome = adaptRecord(record, 'auto');
      assert.equal(outcome.kind, 'skipped', JSON.stringify(record));
      if (outcome.kind !== 'skipped') continue;
      assert.equal(outcome.reason, reason);
      assert.match(outcome.detail, detail);
    }
  });
});
