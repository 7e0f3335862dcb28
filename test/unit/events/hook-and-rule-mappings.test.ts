/**
 * Mappings the samples do not cover, checked on fixtures derived from real sample lines (each one
 * says what was changed): Tetragon enforcement actions, tracepoints, LSM hooks, uprobes, sockaddr
 * args, unknown event types; Falco evt.type/flags, IPv6 tuples, labels, mounts, Falcosidekick uuid.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { adaptLine, adaptRecord, type AdaptOutcome } from '../../../src/events/adapters/index.js';
import type { RuntimeEvent } from '../../../src/events/types.js';
import { SAMPLES_DIR } from './sample-expectations.js';

function sample(relative: string, line: number): Record<string, any> {
  return JSON.parse(readFileSync(SAMPLES_DIR + relative, 'utf8').split('\n')[line - 1]!) as Record<
    string,
    any
  >;
}

function only(outcome: AdaptOutcome): RuntimeEvent {
  assert.equal(
    outcome.kind,
    'events',
    outcome.kind === 'skipped' ? `${outcome.reason}: ${outcome.detail}` : '',
  );
  assert.ok(outcome.kind === 'events');
  assert.equal(outcome.events.length, 1);
  return outcome.events[0]!;
}

function skipReason(outcome: AdaptOutcome): string {
  assert.equal(outcome.kind, 'skipped');
  return outcome.kind === 'skipped' ? outcome.reason : '';
}

describe('Tetragon mappings', () => {
  // docs-current line 5: security_file_permission write to /etc/passwd by vi in pod file-access
  const fileWrite = (): Record<string, any> => sample('tetragon/docs-current.jsonl', 5);

  for (const action of ['KPROBE_ACTION_SIGKILL', 'KPROBE_ACTION_OVERRIDE', 'KPROBE_ACTION_NOTIFYENFORCER']) {
    it(`${action} marks the event enforced`, () => {
      const record = fileWrite();
      record.process_kprobe.action = action;
      assert.equal(only(adaptRecord(record, 'tetragon')).enforced, true);
    });
  }

  it('Post (observe only) is not enforced; return_action Override is', () => {
    assert.equal(only(adaptRecord(fileWrite(), 'tetragon')).enforced, undefined);
    const record = fileWrite();
    record.process_kprobe.return_action = 'KPROBE_ACTION_OVERRIDE';
    assert.equal(only(adaptRecord(record, 'tetragon')).enforced, true);
  });

  it('MAY_READ (4) is a read, MAY_APPEND (8) a write', () => {
    const read = fileWrite();
    read.process_kprobe.args[1] = { int_arg: 4 };
    assert.deepEqual(only(adaptRecord(read, 'tetragon')).file, { path: '/etc/passwd', operation: 'read' });
    const append = fileWrite();
    append.process_kprobe.args[1] = { int_arg: 8 };
    assert.equal(only(adaptRecord(append, 'tetragon')).behavior, 'file-write');
  });

  it('maps hooks by function name with arch prefixes stripped', () => {
    const cases: [string, unknown[], RuntimeEvent['behavior'], Partial<RuntimeEvent>][] = [
      [
        '__arm64_sys_mount',
        [{ string_arg: 'proc' }, { string_arg: '/host/proc' }, { string_arg: 'proc' }],
        'volume-mount',
        { mount: { source: 'proc', target: '/host/proc', fstype: 'proc' } },
      ],
      [
        'security_sb_mount',
        [{ string_arg: '/dev/sdb' }, { path_arg: { path: '/data' } }, { string_arg: 'xfs' }],
        'volume-mount',
        { mount: { source: '/dev/sdb', target: '/data', fstype: 'xfs' } },
      ],
      [
        'security_socket_connect',
        [{ sock_arg: null }, { sockaddr_arg: { family: 'AF_INET6', addr: '2001:db8::1', port: 8443 } }],
        'network-connect',
        { network: { family: 'ipv6', daddr: '2001:db8::1', dport: 8443 } },
      ],
      [
        '__x64_sys_openat',
        [{ int_arg: -100 }, { string_arg: '/etc/hosts' }, { int_arg: 0o1101 }],
        'file-write',
        { file: { path: '/etc/hosts', operation: 'create' } },
      ],
      [
        '__x64_sys_openat',
        [{ int_arg: -100 }, { string_arg: '/etc/hosts' }, { int_arg: 0o2001 }],
        'file-write',
        { file: { path: '/etc/hosts', operation: 'write' } },
      ],
      [
        'security_path_unlink',
        [{ path_arg: { path: '/etc/shadow' } }],
        'file-write',
        { file: { path: '/etc/shadow', operation: 'delete' } },
      ],
      [
        '__sys_setresuid',
        [{ int_arg: -1 }, { int_arg: 0 }, { int_arg: -1 }],
        'privilege-escalation',
        { privilege: { fromUid: 0, toUid: 0 } },
      ],
      [
        'security_kernel_read_file',
        [{ file_arg: { path: '/lib/firmware/x.bin' } }, { int_arg: 1 }],
        'file-read',
        { file: { path: '/lib/firmware/x.bin', operation: 'read' } },
      ],
      ['__x64_sys_unshare', [{ int_arg: 0x10000000 }], 'namespace-change', {}],
      [
        'bpf_check',
        [{ bpf_attr_arg: { ProgType: 'BPF_PROG_TYPE_KPROBE', InsnCnt: 10, ProgName: 'x' } }],
        'bpf-load',
        {},
      ],
      ['security_ptrace_access_check', [], 'ptrace', {}],
    ];
    for (const [fn, args, behavior, fields] of cases) {
      const record = fileWrite();
      record.process_kprobe.function_name = fn;
      record.process_kprobe.args = args;
      const e = only(adaptRecord(record, 'auto'));
      assert.equal(e.behavior, behavior, fn);
      for (const [k, v] of Object.entries(fields))
        assert.deepEqual(e[k as keyof RuntimeEvent], v, `${fn} ${k}`);
      assert.equal(e.alert?.rule, 'file-monitoring', `${fn}: policy kept as alert.rule`);
    }
  });

  it('a hook named like an Object.prototype member maps to nothing: alert', () => {
    for (const fn of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) {
      const record = fileWrite();
      record.process_kprobe.function_name = fn;
      const e = only(adaptRecord(record, 'auto'));
      assert.equal(e.behavior, 'alert', fn);
      assert.equal(e.sourceEvent, `process_kprobe:${fn}`);
    }
  });

  it('maps tracepoints (syscalls/sys_enter_X), LSM hooks and uprobes', () => {
    const base = fileWrite().process_kprobe;
    const tp = {
      process_tracepoint: {
        process: base.process,
        subsys: 'syscalls',
        event: 'sys_enter_setns',
        args: [{ int_arg: 3 }],
        policy_name: 'ns',
      },
      node_name: 'n1',
      time: '2026-01-01T00:00:00Z',
    };
    const tpEvent = only(adaptRecord(tp, 'auto'));
    assert.equal(tpEvent.behavior, 'namespace-change');
    assert.equal(tpEvent.sourceEvent, 'process_tracepoint:syscalls/sys_enter_setns');
    const lsm = {
      process_lsm: {
        process: base.process,
        function_name: 'bpf_lsm_sb_mount',
        args: [],
        action: 'KPROBE_ACTION_OVERRIDE',
      },
      time: '2026-01-01T00:00:00Z',
    };
    const lsmEvent = only(adaptRecord(lsm, 'auto'));
    assert.equal(lsmEvent.behavior, 'volume-mount');
    assert.equal(lsmEvent.enforced, true);
    const uprobe = {
      process_uprobe: {
        process: base.process,
        path: '/usr/lib/libssl.so',
        symbol: 'SSL_write',
        policy_name: 'ssl',
      },
      time: '2026-01-01T00:00:00Z',
    };
    const up = only(adaptRecord(uprobe, 'auto'));
    assert.equal(up.behavior, 'alert');
    assert.equal(up.alert?.rule, 'ssl');
  });

  it('counts unknown, internal and exit events with distinct reasons', () => {
    assert.equal(
      skipReason(adaptRecord({ process_future: { x: 1 }, time: '2026-01-01T00:00:00Z' }, 'tetragon')),
      'unsupported-type',
    );
    assert.equal(
      skipReason(
        adaptRecord(
          { rate_limit_info: { number_of_dropped_process_events: '5' }, time: '2026-01-01T00:00:00Z' },
          'auto',
        ),
      ),
      'tool-internal',
    );
    assert.equal(skipReason(adaptRecord({ node_name: 'n', time: 't' }, 'tetragon')), 'invalid-event');
  });

  it('gives the same raw event the same id, and different events different ids', () => {
    const a = only(adaptRecord(fileWrite(), 'tetragon')).id;
    assert.equal(only(adaptRecord(fileWrite(), 'tetragon')).id, a);
    const other = fileWrite();
    other.time = '2024-04-14T02:18:14.376304205Z';
    assert.notEqual(only(adaptRecord(other, 'tetragon')).id, a);
    assert.match(a, /^tetragon-[0-9a-f]{16}$/);
  });
});

describe('Falco mappings', () => {
  const base = (): Record<string, any> => sample('falco/falco-alerts.jsonl', 8); // Read sensitive file untrusted

  it('a rule or evt.type named like an Object.prototype member maps to nothing', () => {
    for (const name of ['constructor', 'toString', '__proto__', 'valueOf']) {
      const record = base();
      record.rule = name;
      record.output_fields['evt.type'] = name;
      const e = only(adaptRecord(record, 'auto'));
      assert.equal(e.behavior, 'alert', name);
      assert.equal(e.alert?.rule, name);
    }
  });

  it('evt.type decides when the rule is unknown; open flags turn a read into a write', () => {
    const record = base();
    record.rule = 'Custom open rule';
    record.output_fields['evt.arg.flags'] = 'O_WRONLY|O_TRUNC';
    const e = only(adaptRecord(record, 'auto'));
    assert.equal(e.behavior, 'file-write');
    assert.deepEqual(e.file, { path: '/etc/shadow', operation: 'write' });
    assert.equal(e.alert?.rule, 'Custom open rule', 'alert info always kept');
    const read = base();
    read.rule = 'Custom open rule';
    assert.equal(only(adaptRecord(read, 'auto')).behavior, 'file-read');
  });

  it('maps mount, ptrace, setns, module and bpf syscalls', () => {
    const cases: [string, Record<string, unknown>, RuntimeEvent['behavior']][] = [
      [
        'mount',
        { 'evt.arg.dev': '/dev/sda1', 'evt.arg.dir': '/mnt', 'evt.arg.type': 'ext4' },
        'volume-mount',
      ],
      ['ptrace', {}, 'ptrace'],
      ['setns', {}, 'namespace-change'],
      ['finit_module', {}, 'module-load'],
      ['bpf', {}, 'bpf-load'],
      ['execve', {}, 'process-exec'],
      ['connect', { 'fd.name': '10.0.0.5:43812->93.184.216.34:443', 'fd.l4proto': 'TCP' }, 'network-connect'],
    ];
    for (const [type, extra, behavior] of cases) {
      const record = base();
      record.rule = `custom ${type}`;
      record.output_fields = { ...record.output_fields, 'evt.type': type, ...extra };
      const e = only(adaptRecord(record, 'falco'));
      assert.equal(e.behavior, behavior, type);
      if (type === 'mount')
        assert.deepEqual(e.mount, { source: '/dev/sda1', target: '/mnt', fstype: 'ext4' });
      if (type === 'connect')
        assert.deepEqual(e.network, {
          saddr: '10.0.0.5',
          sport: 43812,
          daddr: '93.184.216.34',
          dport: 443,
          protocol: 'tcp',
          family: 'ipv4',
        });
    }
  });

  it('parses IPv6 tuples, comma-separated pod labels and the full container id', () => {
    const record = sample('falco/falco-alerts.jsonl', 5); // Contact K8S API Server From Container
    record.output_fields['fd.name'] = '2001:db8::5:43812->2001:db8::1:443';
    record.output_fields['k8s.pod.labels'] = 'app:faas,pod-template-hash:7dc9f5fbb8';
    record.output_fields['k8s.pod.uid'] = '7a1d0d3c-1111-2222-3333-444455556666';
    record.output_fields['container.full_id'] =
      'containerd://12fc4de5ccc3aaaabbbbccccddddeeeeffff00001111222233334444555566667777';
    const e = only(adaptRecord(record, 'auto'));
    assert.deepEqual(e.network, {
      saddr: '2001:db8::5',
      sport: 43812,
      daddr: '2001:db8::1',
      dport: 443,
      family: 'ipv6',
    });
    assert.deepEqual(e.pod?.labels, { app: 'faas', 'pod-template-hash': '7dc9f5fbb8' });
    assert.equal(e.pod?.uid, '7a1d0d3c-1111-2222-3333-444455556666');
    assert.equal(e.container?.id, '12fc4de5ccc3aaaabbbbccccddddeeeeffff00001111222233334444555566667777');
  });

  it('ignores the random Falcosidekick uuid for the id and accepts source "syscalls"', () => {
    const a = base();
    const b = base();
    a.uuid = '2f9d6b3c-0000-4000-8000-000000000001';
    b.uuid = '2f9d6b3c-0000-4000-8000-000000000002';
    b.source = 'syscalls';
    assert.equal(only(adaptRecord(a, 'auto')).id, only(adaptRecord(b, 'auto')).id);
  });

  it('uses evt.time when "time" is absent, else the caller fallback, else skips missing-time', () => {
    const record = base();
    delete record.time;
    // evt.time 1746622234502309868 ns: a JSON number, so the last digits are beyond float precision
    assert.match(only(adaptRecord(record, 'falco')).time, /^2025-05-07T12:50:34\.5023\d{5}Z$/);
    delete record.output_fields['evt.time'];
    assert.equal(skipReason(adaptRecord(record, 'falco')), 'missing-time');
    assert.equal(
      only(adaptRecord(record, 'falco', { fallbackTime: '2026-01-01T00:00:00Z' })).time,
      '2026-01-01T00:00:00Z',
    );
  });
});

describe('lines and detection', () => {
  it('returns nothing for blank lines, malformed-json for broken ones, too-large over the limit', () => {
    const blank = adaptLine('   \t', 'auto');
    assert.equal(blank.kind === 'events' && blank.events.length, 0);
    assert.equal(skipReason(adaptLine('{"process_exec":', 'auto')), 'malformed-json');
    assert.equal(skipReason(adaptLine('x'.repeat(101), 'auto', { maxLineLength: 100 })), 'too-large');
  });

  it('accepts CRLF line endings and a leading byte-order mark', () => {
    const line = JSON.stringify(sample('falco/falco-alerts.jsonl', 1));
    assert.equal(only(adaptLine(`\uFEFF${line}\r`, 'auto')).behavior, 'process-exec');
  });

  it('says unknown-format for JSON that no adapter recognises', () => {
    for (const line of ['42', '"text"', 'null', '[1,2]', '{"hello":"world"}']) {
      assert.equal(skipReason(adaptLine(line, 'auto')), 'unknown-format', line);
    }
  });

  it('rejects a record forced into the wrong adapter with invalid-event', () => {
    const falco = JSON.stringify(sample('falco/falco-alerts.jsonl', 1));
    assert.equal(skipReason(adaptLine(falco, 'tetragon')), 'invalid-event');
    assert.equal(skipReason(adaptLine(falco, 'kubearmor')), 'invalid-event');
    assert.equal(skipReason(adaptLine('[]', 'falco')), 'invalid-event');
  });

  it('can drop raw to save memory', () => {
    const e = only(adaptRecord(sample('falco/falco-alerts.jsonl', 1), 'auto', { keepRaw: false }));
    assert.equal(e.raw, undefined);
  });
});
